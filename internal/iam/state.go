// Package iam owns the IAM API subset on cairn: users, access keys, roles,
// managed and inline policies, OIDC providers, created and changed at run
// time, persisted in the data store, and merged with the read-only
// entities of the config file into the identity directory.
package iam

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/cairn-io/cairn/internal/config"
)

// State is every entity created through the API. It is small (identity
// data, not objects) and saved whole after each change.
type State struct {
	Users     map[string]*User     `json:"users"`
	Roles     map[string]*Role     `json:"roles"`
	Policies  map[string]*Policy   `json:"policies"`
	Providers map[string]*Provider `json:"providers"` // by URL
}

// User is an API-created user.
type User struct {
	Name     string            `json:"name"`
	Created  time.Time         `json:"created"`
	Inline   map[string]string `json:"inline,omitempty"`
	Attached []string          `json:"attached,omitempty"` // policy names
	Keys     []Key             `json:"keys,omitempty"`
}

// Key is an access key.
type Key struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Active  bool      `json:"active"`
	Created time.Time `json:"created"`
}

// Role is an API-created role.
type Role struct {
	Name       string            `json:"name"`
	Created    time.Time         `json:"created"`
	Trust      string            `json:"trust"`
	MaxSession int               `json:"max_session"` // seconds
	Inline     map[string]string `json:"inline,omitempty"`
	Attached   []string          `json:"attached,omitempty"`
}

// Policy is an API-created managed policy (one version, v1).
type Policy struct {
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	Document string    `json:"document"`
}

// Provider is an API-created OIDC provider.
type Provider struct {
	URL         string    `json:"url"`
	ClientIDs   []string  `json:"client_ids"`
	Thumbprints []string  `json:"thumbprints,omitempty"`
	Created     time.Time `json:"created"`
}

// Describe lists the entities of a saved state, one per line.
func Describe(data []byte) ([]string, error) {
	s, err := Open(data, "")
	if err != nil {
		return nil, err
	}
	st := s.state
	var out []string
	for _, n := range sortedKeys(st.Users) {
		u := st.Users[n]
		keys := []string{}
		for _, k := range u.Keys {
			state := "active"
			if !k.Active {
				state = "inactive"
			}
			keys = append(keys, k.ID+" ("+state+")")
		}
		out = append(out, fmt.Sprintf("user %s	keys %v	inline %v	attached %v", n, keys, sortedKeys(u.Inline), u.Attached))
	}
	for _, n := range sortedKeys(st.Roles) {
		r := st.Roles[n]
		out = append(out, fmt.Sprintf("role %s	max session %ds	inline %v	attached %v", n, r.MaxSession, sortedKeys(r.Inline), r.Attached))
	}
	for _, n := range sortedKeys(st.Policies) {
		out = append(out, "policy "+n)
	}
	for _, n := range sortedKeys(st.Providers) {
		out = append(out, fmt.Sprintf("oidc-provider %s	client ids %v", n, st.Providers[n].ClientIDs))
	}
	return out, nil
}

func newState() *State {
	return &State{Users: map[string]*User{}, Roles: map[string]*Role{}, Policies: map[string]*Policy{}, Providers: map[string]*Provider{}}
}

func (s *State) clone() *State {
	b, _ := json.Marshal(s)
	c := newState()
	json.Unmarshal(b, c)
	return c
}

func sortedInline(m map[string]string) []config.PolicyDoc {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]config.PolicyDoc, len(names))
	for i, n := range names {
		out[i] = config.PolicyDoc{Text: m[n]}
	}
	return out
}

// Merge returns the config file's identities plus the API's, as one
// configuration for identity.NewDirectory.
func (s *State) Merge(file *config.Config) *config.Config {
	c := *file
	c.Users = append([]config.User{}, file.Users...)
	c.Roles = append([]config.Role{}, file.Roles...)
	c.Policies = append([]config.NamedPolicy{}, file.Policies...)
	c.Providers = append([]config.Provider{}, file.Providers...)
	for _, name := range sortedKeys(s.Policies) {
		p := s.Policies[name]
		c.Policies = append(c.Policies, config.NamedPolicy{Name: p.Name, Document: config.PolicyDoc{Text: p.Document}})
	}
	for _, name := range sortedKeys(s.Users) {
		u := s.Users[name]
		cu := config.User{Name: u.Name, Policies: sortedInline(u.Inline), ManagedPolicies: u.Attached}
		for _, k := range u.Keys {
			cu.ExtraKeys = append(cu.ExtraKeys, config.AccessKey{ID: k.ID, Secret: k.Secret, Active: k.Active})
		}
		c.Users = append(c.Users, cu)
	}
	for _, name := range sortedKeys(s.Roles) {
		r := s.Roles[name]
		c.Roles = append(c.Roles, config.Role{Name: r.Name, TrustPolicy: config.PolicyDoc{Text: r.Trust}, Policies: sortedInline(r.Inline),
			ManagedPolicies: r.Attached, MaxSessionDuration: config.Duration{Duration: time.Duration(r.MaxSession) * time.Second}})
	}
	for _, url := range sortedKeys(s.Providers) {
		p := s.Providers[url]
		c.Providers = append(c.Providers, config.Provider{URL: p.URL, ClientIDs: p.ClientIDs})
	}
	return &c
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
