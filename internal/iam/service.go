package iam

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
)

// Service runs the IAM actions on the API state.
type Service struct {
	mu      sync.Mutex
	state   *State
	account string
	now     func() time.Time

	// File returns the current config file (its entities are read-only
	// here); FilePath names it in errors.
	File     func() *config.Config
	FilePath string
	// Apply switches the server to a merged configuration (it builds and
	// validates the identity directory first).
	Apply func(*config.Config) error
	// Save persists the state document.
	Save func([]byte) error
}

// Open loads the saved state (nil data: empty).
func Open(data []byte, account string) (*Service, error) {
	st := newState()
	if len(data) > 0 {
		if err := json.Unmarshal(data, st); err != nil {
			return nil, fmt.Errorf("iam state: %w", err)
		}
		if st.Users == nil {
			st.Users = map[string]*User{}
		}
		if st.Roles == nil {
			st.Roles = map[string]*Role{}
		}
		if st.Policies == nil {
			st.Policies = map[string]*Policy{}
		}
		if st.Providers == nil {
			st.Providers = map[string]*Provider{}
		}
	}
	return &Service{state: st, account: account, now: time.Now}, nil
}

// Merged is the config file plus the API's entities.
func (s *Service) Merged(file *config.Config) *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Merge(file)
}

func iamErr(code, msg string) *s3err.Error {
	status := map[string]int{"NoSuchEntity": 404, "EntityAlreadyExists": 409, "DeleteConflict": 409, "LimitExceeded": 409,
		"AccessDenied": 403, "InternalFailure": 500}[code]
	if status == 0 {
		status = 400
	}
	return &s3err.Error{Code: code, Status: status, Message: msg}
}

var (
	nameRE       = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
)

func validName(field, v string, re *regexp.Regexp) error {
	if !re.MatchString(v) {
		return iamErr("ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", v, field))
	}
	return nil
}

// update runs fn on a copy of the state, switches the server to the
// result and saves it; on any error nothing changes.
func (s *Service) update(fn func(st *State, file *config.Config) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.clone()
	file := s.File()
	if err := fn(st, file); err != nil {
		return err
	}
	if err := s.Apply(st.Merge(file)); err != nil {
		return iamErr("MalformedPolicyDocument", err.Error())
	}
	data, _ := json.Marshal(st)
	if err := s.Save(data); err != nil {
		s.Apply(s.state.Merge(file)) // back to what is saved
		return iamErr("InternalFailure", "could not save the change").Because(err.Error())
	}
	s.state = st
	return nil
}

func (s *Service) readOnly(kind, name string) error {
	return iamErr("UnmodifiableEntity", fmt.Sprintf("The %s %s is defined in the config file %s and is read-only through the API.", kind, name, s.FilePath))
}

func fileHasUser(f *config.Config, name string) bool {
	for _, u := range f.Users {
		if u.Name == name {
			return true
		}
	}
	return false
}

func fileHasRole(f *config.Config, name string) bool {
	for _, r := range f.Roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

func fileHasPolicy(f *config.Config, name string) bool {
	for _, p := range f.Policies {
		if p.Name == name {
			return true
		}
	}
	return false
}

func checkDoc(doc string, kind policy.Kind) error {
	if doc == "" {
		return iamErr("ValidationError", "The policy document is required.")
	}
	if len(doc) > 10240 {
		return iamErr("LimitExceeded", "Cannot exceed quota for PolicySize: 10240")
	}
	if _, err := policy.Parse("document", doc, kind); err != nil {
		return iamErr("MalformedPolicyDocument", err.Error())
	}
	return nil
}

func randomID(prefix string, n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

// --- users and keys ---

func (s *Service) createUser(name string) (*User, error) {
	if err := validName("userName", name, nameRE); err != nil {
		return nil, err
	}
	var u *User
	err := s.update(func(st *State, f *config.Config) error {
		if st.Users[name] != nil || fileHasUser(f, name) {
			return iamErr("EntityAlreadyExists", "User with name "+name+" already exists.")
		}
		u = &User{Name: name, Created: s.now().UTC()}
		st.Users[name] = u
		return nil
	})
	return u, err
}

func (s *Service) user(st *State, f *config.Config, name string, write bool) (*User, error) {
	if u := st.Users[name]; u != nil {
		return u, nil
	}
	if fileHasUser(f, name) {
		if write {
			return nil, s.readOnly("user", name)
		}
		return &User{Name: name}, nil
	}
	return nil, iamErr("NoSuchEntity", "The user with name "+name+" cannot be found.")
}

func (s *Service) getUser(name string) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user(s.state, s.File(), name, false)
}

func (s *Service) deleteUser(name string) error {
	return s.update(func(st *State, f *config.Config) error {
		u, err := s.user(st, f, name, true)
		if err != nil {
			return err
		}
		if len(u.Keys) > 0 || len(u.Inline) > 0 || len(u.Attached) > 0 {
			return iamErr("DeleteConflict", "Cannot delete entity, must delete access keys and policies first.")
		}
		delete(st.Users, name)
		return nil
	})
}

func (s *Service) listUsers() []*User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*User
	for _, u := range s.File().Users {
		out = append(out, &User{Name: u.Name})
	}
	for _, n := range sortedKeys(s.state.Users) {
		out = append(out, s.state.Users[n])
	}
	return out
}

const maxKeysPerUser = 2

func (s *Service) createAccessKey(userName string) (Key, error) {
	var k Key
	err := s.update(func(st *State, f *config.Config) error {
		u, err := s.user(st, f, userName, true)
		if err != nil {
			return err
		}
		if len(u.Keys) >= maxKeysPerUser {
			return iamErr("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
		}
		k = Key{ID: randomID("AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), Secret: randomID("", 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
			Active: true, Created: s.now().UTC()}
		u.Keys = append(u.Keys, k)
		return nil
	})
	return k, err
}

func (s *Service) changeKey(userName, keyID string, fn func(u *User, i int)) error {
	return s.update(func(st *State, f *config.Config) error {
		u, err := s.user(st, f, userName, true)
		if err != nil {
			return err
		}
		for i := range u.Keys {
			if u.Keys[i].ID == keyID {
				fn(u, i)
				return nil
			}
		}
		return iamErr("NoSuchEntity", "The Access Key with id "+keyID+" cannot be found.")
	})
}

func (s *Service) listAccessKeys(userName string) ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(s.state, s.File(), userName, false)
	if err != nil {
		return nil, err
	}
	return u.Keys, nil
}

// --- roles ---

func (s *Service) createRole(name, trust string, maxSession int) (*Role, error) {
	if err := validName("roleName", name, nameRE); err != nil {
		return nil, err
	}
	if err := checkDoc(trust, policy.Trust); err != nil {
		return nil, err
	}
	if maxSession == 0 {
		maxSession = 3600
	}
	if maxSession < 3600 || maxSession > 43200 {
		return nil, iamErr("ValidationError", "1 validation error detected: Value at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200")
	}
	var r *Role
	err := s.update(func(st *State, f *config.Config) error {
		if st.Roles[name] != nil || fileHasRole(f, name) {
			return iamErr("EntityAlreadyExists", "Role with name "+name+" already exists.")
		}
		r = &Role{Name: name, Created: s.now().UTC(), Trust: trust, MaxSession: maxSession}
		st.Roles[name] = r
		return nil
	})
	return r, err
}

func (s *Service) role(st *State, f *config.Config, name string, write bool) (*Role, error) {
	if r := st.Roles[name]; r != nil {
		return r, nil
	}
	for _, fr := range f.Roles {
		if fr.Name == name {
			if write {
				return nil, s.readOnly("role", name)
			}
			return &Role{Name: name, Trust: fr.TrustPolicy.Text, MaxSession: int(fr.MaxSession().Seconds())}, nil
		}
	}
	return nil, iamErr("NoSuchEntity", "The role with name "+name+" cannot be found.")
}

func (s *Service) getRole(name string) (*Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.role(s.state, s.File(), name, false)
}

func (s *Service) listRoles() []*Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Role
	f := s.File()
	for _, r := range f.Roles {
		rr, _ := s.role(s.state, f, r.Name, false)
		out = append(out, rr)
	}
	for _, n := range sortedKeys(s.state.Roles) {
		out = append(out, s.state.Roles[n])
	}
	return out
}

func (s *Service) changeRole(name string, fn func(r *Role) error) error {
	return s.update(func(st *State, f *config.Config) error {
		r, err := s.role(st, f, name, true)
		if err != nil {
			return err
		}
		return fn(r)
	})
}

func (s *Service) deleteRole(name string) error {
	return s.update(func(st *State, f *config.Config) error {
		r, err := s.role(st, f, name, true)
		if err != nil {
			return err
		}
		if len(r.Inline) > 0 || len(r.Attached) > 0 {
			return iamErr("DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		delete(st.Roles, name)
		return nil
	})
}

// --- managed policies ---

func (s *Service) policyARN(name string) string {
	return "arn:aws:iam::" + s.account + ":policy/" + name
}

func (s *Service) policyName(arn string) (string, error) {
	name, ok := strings.CutPrefix(arn, "arn:aws:iam::"+s.account+":policy/")
	if !ok || name == "" {
		return "", iamErr("InvalidInput", "ARN "+arn+" is not valid.")
	}
	return name, nil
}

func (s *Service) createPolicy(name, doc string) (*Policy, error) {
	if err := validName("policyName", name, policyNameRE); err != nil {
		return nil, err
	}
	if err := checkDoc(doc, policy.Identity); err != nil {
		return nil, err
	}
	var p *Policy
	err := s.update(func(st *State, f *config.Config) error {
		if st.Policies[name] != nil || fileHasPolicy(f, name) {
			return iamErr("EntityAlreadyExists", "A policy called "+name+" already exists. Duplicate names are not allowed.")
		}
		p = &Policy{Name: name, Created: s.now().UTC(), Document: doc}
		st.Policies[name] = p
		return nil
	})
	return p, err
}

func (s *Service) getPolicy(arn string) (*Policy, int, error) {
	name, err := s.policyName(arn)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.File()
	var p *Policy
	if sp := s.state.Policies[name]; sp != nil {
		p = sp
	} else {
		for _, fp := range f.Policies {
			if fp.Name == name {
				p = &Policy{Name: name, Document: fp.Document.Text}
			}
		}
	}
	if p == nil {
		return nil, 0, iamErr("NoSuchEntity", "Policy "+arn+" does not exist or is not attachable.")
	}
	return p, attachments(s.state, f, name), nil
}

func attachments(st *State, f *config.Config, name string) int {
	n := 0
	count := func(list []string) {
		for _, a := range list {
			if a == name {
				n++
			}
		}
	}
	for _, u := range st.Users {
		count(u.Attached)
	}
	for _, r := range st.Roles {
		count(r.Attached)
	}
	for _, u := range f.Users {
		count(u.ManagedPolicies)
	}
	for _, r := range f.Roles {
		count(r.ManagedPolicies)
	}
	return n
}

func (s *Service) deletePolicy(arn string) error {
	name, err := s.policyName(arn)
	if err != nil {
		return err
	}
	return s.update(func(st *State, f *config.Config) error {
		if st.Policies[name] == nil {
			if fileHasPolicy(f, name) {
				return s.readOnly("policy", name)
			}
			return iamErr("NoSuchEntity", "Policy "+arn+" does not exist or is not attachable.")
		}
		if attachments(st, f, name) > 0 {
			return iamErr("DeleteConflict", "Cannot delete a policy attached to entities.")
		}
		delete(st.Policies, name)
		return nil
	})
}

func (s *Service) listPolicies() []*Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Policy
	for _, fp := range s.File().Policies {
		out = append(out, &Policy{Name: fp.Name, Document: fp.Document.Text})
	}
	for _, n := range sortedKeys(s.state.Policies) {
		out = append(out, s.state.Policies[n])
	}
	return out
}

// attach adds or removes a managed policy on a user's or role's list.
func (s *Service) attach(list *[]string, arn string, st *State, f *config.Config, add bool) error {
	name, err := s.policyName(arn)
	if err != nil {
		return err
	}
	if st.Policies[name] == nil && !fileHasPolicy(f, name) {
		return iamErr("NoSuchEntity", "Policy "+arn+" does not exist or is not attachable.")
	}
	for i, a := range *list {
		if a == name {
			if !add {
				*list = append((*list)[:i], (*list)[i+1:]...)
			}
			return nil
		}
	}
	if !add {
		return iamErr("NoSuchEntity", "Policy "+arn+" was not found.")
	}
	if len(*list) >= 10 {
		return iamErr("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")
	}
	*list = append(*list, name)
	return nil
}

// --- OIDC providers ---

func (s *Service) providerARN(u string) string {
	return "arn:aws:iam::" + s.account + ":oidc-provider/" + config.ProviderARNSuffix(u)
}

func (s *Service) providerByARN(st *State, f *config.Config, arn string, write bool) (*Provider, error) {
	for _, p := range st.Providers {
		if s.providerARN(p.URL) == arn {
			return p, nil
		}
	}
	for _, p := range f.Providers {
		if s.providerARN(p.URL) == arn {
			if write {
				return nil, s.readOnly("OpenID Connect provider", p.URL)
			}
			return &Provider{URL: p.URL, ClientIDs: p.ClientIDs}, nil
		}
	}
	return nil, iamErr("NoSuchEntity", "OpenIDConnect provider not found for arn "+arn)
}

func (s *Service) createProvider(rawURL string, clients, thumbprints []string) (*Provider, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		return nil, iamErr("ValidationError", "The URL "+rawURL+" must be an https:// URL without a query.")
	}
	var p *Provider
	err = s.update(func(st *State, f *config.Config) error {
		if st.Providers[rawURL] != nil {
			return iamErr("EntityAlreadyExists", "Provider with url "+rawURL+" already exists.")
		}
		for _, fp := range f.Providers {
			if fp.URL == rawURL {
				return iamErr("EntityAlreadyExists", "Provider with url "+rawURL+" already exists (in the config file).")
			}
		}
		p = &Provider{URL: rawURL, ClientIDs: clients, Thumbprints: thumbprints, Created: s.now().UTC()}
		st.Providers[rawURL] = p
		return nil
	})
	return p, err
}

func sortStrings(v []string) []string {
	out := append([]string{}, v...)
	sort.Strings(out)
	return out
}
