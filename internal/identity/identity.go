// Package identity owns who a request acts as: the account root, the
// config's users, roles and managed policies (compiled once), the
// principals that requests carry, and the decision of what a principal's
// own policies allow.
package identity

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/policy"
)

// Principal types, as aws:PrincipalType.
const (
	TypeAccount     = "Account"
	TypeUser        = "User"
	TypeAssumedRole = "AssumedRole"
)

// Principal is an authenticated identity.
type Principal struct {
	Type    string
	Account string
	// Name is the user name, or the role name of a session.
	Name string
	// ARN: arn:aws:iam::<acct>:root, ...:user/<name>, or
	// arn:aws:sts::<acct>:assumed-role/<role>/<session>.
	ARN string
	// UserID is aws:userid: AIDA..., the account id, or AROA...:<session>.
	UserID    string
	AccessKey string
	secret    string

	// Role sessions.
	RoleARN     string
	SessionName string
	IssuedAt    time.Time
	Expires     time.Time
	// Provider is the issuer URL of a web-identity session.
	Provider string
	// Chained is set for sessions made by AssumeRole from a session.
	Chained bool
	// SessionUser is the user behind a GetSessionToken session.
	SessionUser string

	// Policies are the identity policies: the user's, or the role's.
	Policies []*policy.Policy
	// SessionPolicies, when HasSessionPolicy, bound a session's
	// permissions (intersection with Policies).
	SessionPolicies  []*policy.Policy
	HasSessionPolicy bool
	// Keys are the principal's own condition keys (web-identity claims,
	// aws:PrincipalTag/*, aws:TokenIssueTime...).
	Keys policy.Context
}

// SecretKey is the secret the principal's requests are signed with.
func (p *Principal) SecretKey() string { return p.secret }

// WithSecret sets the signing secret (used by session resolution).
func (p *Principal) WithSecret(s string) { p.secret = s }

// Root reports whether p is the account root.
func (p *Principal) Root() bool { return p.Type == TypeAccount }

// PolicyPrincipal is p as resource and trust policies see it.
func (p *Principal) PolicyPrincipal() *policy.Principal {
	ids := []string{p.ARN}
	if p.RoleARN != "" {
		ids = append(ids, p.RoleARN)
	}
	return &policy.Principal{AWS: ids}
}

// AddContext puts the principal's condition keys into ctx.
func (p *Principal) AddContext(ctx policy.Context) {
	ctx.Set("aws:PrincipalType", p.Type)
	ctx.Set("aws:userid", p.UserID)
	ctx.Set("aws:PrincipalAccount", p.Account)
	switch p.Type {
	case TypeUser:
		ctx.Set("aws:username", p.Name)
		ctx.Set("aws:PrincipalArn", p.ARN)
	case TypeAssumedRole:
		ctx.Set("aws:PrincipalArn", p.RoleARN)
	default:
		ctx.Set("aws:PrincipalArn", p.ARN)
	}
	for k, v := range p.Keys {
		ctx[k] = v
	}
}

// NeedsContext reports whether any of p's policies reads condition keys.
func (p *Principal) NeedsContext() bool {
	for _, x := range p.Policies {
		if x.UsesContext() {
			return true
		}
	}
	for _, x := range p.SessionPolicies {
		if x.UsesContext() {
			return true
		}
	}
	return false
}

// ReadsKeyWithPrefix reports whether any of p's policies reads a
// condition key with that (lower-case) prefix.
func (p *Principal) ReadsKeyWithPrefix(prefix string) bool {
	for _, x := range p.Policies {
		if x.ReadsKeyWithPrefix(prefix) {
			return true
		}
	}
	for _, x := range p.SessionPolicies {
		if x.ReadsKeyWithPrefix(prefix) {
			return true
		}
	}
	return false
}

// Decide evaluates what p's own policies say about r: Allow needs an
// allow in the identity policies and, for a session with a session
// policy, in the session policy too; any deny wins. Root may do
// everything. Bucket policies join this decision in the policy engine.
func Decide(p *Principal, r *policy.Request) policy.Decision {
	if p.Root() {
		return policy.Decision{Effect: policy.Allow, Policy: "account root"}
	}
	d := policy.Evaluate(p.Policies, r)
	if d.Effect != policy.Allow || !p.HasSessionPolicy {
		if d.Effect == policy.ImplicitDeny && d.Policy == "" {
			d.Policy = "identity policies of " + p.ARN
		}
		return d
	}
	s := policy.Evaluate(p.SessionPolicies, r)
	switch s.Effect {
	case policy.Deny:
		return s
	case policy.ImplicitDeny:
		return policy.Decision{Effect: policy.ImplicitDeny, Policy: "session policy (it allows less than the role)"}
	}
	return d
}

// Authorize combines a principal's own policies and a bucket policy as AWS
// does within one account: any explicit deny wins; else an allow from the
// identity side (bounded by a session policy) or from the bucket policy
// (for the caller by name, or for everyone) is enough. A bucket-policy
// allow that names only the session's role is still bounded by the
// session policy. p == nil is an anonymous caller, allowed only by a
// bucket policy naming "*". Root is bound only by explicit denies of the
// bucket policy, and never for managing the bucket policy itself (the way
// out of a policy that denies everything). bp may be nil.
func Authorize(p *Principal, bp *policy.Policy, r *policy.Request) policy.Decision {
	if p == nil {
		if bp == nil {
			return policy.Decision{Effect: policy.ImplicitDeny, Policy: "anonymous request and no bucket policy"}
		}
		r.Principal = &policy.Principal{Anonymous: true}
		return bp.Evaluate(r)
	}
	if p.Root() {
		if bp != nil && !strings.HasSuffix(r.Action, "BucketPolicy") {
			r.Principal = p.PolicyPrincipal()
			if d := bp.Evaluate(r); d.Effect == policy.Deny {
				return d
			}
		}
		return policy.Decision{Effect: policy.Allow, Policy: "account root"}
	}
	id := Decide(p, r)
	if id.Effect == policy.Deny || bp == nil {
		return id
	}
	r.Principal = p.PolicyPrincipal() // the caller's ARN and, for a session, its role's
	all := bp.Evaluate(r)
	if all.Effect == policy.Deny {
		return all
	}
	if id.Effect == policy.Allow || all.Effect != policy.Allow {
		return id
	}
	r.Principal = &policy.Principal{AWS: []string{p.ARN}}
	if exact := bp.Evaluate(r); exact.Effect == policy.Allow {
		return exact
	}
	// Allowed through the role's ARN: the session policy still bounds it.
	if !p.HasSessionPolicy || policy.Evaluate(p.SessionPolicies, r).Effect == policy.Allow {
		return all
	}
	return policy.Decision{Effect: policy.ImplicitDeny, Policy: "session policy (the bucket policy allows the role, the session policy does not)"}
}

// uniqueID derives a stable IAM-style unique id (AIDA..., AROA...) from
// a name: stable across restarts and gateways without stored state.
func uniqueID(prefix, account, name string) string {
	sum := sha256.Sum256([]byte(prefix + "\x00" + account + "\x00" + name))
	return prefix + strings.ToUpper(base32.StdEncoding.EncodeToString(sum[:])[:17])
}

// UserID is a user's stable unique id (AIDA…).
func UserID(account, name string) string { return uniqueID("AIDA", account, name) }

// RoleID is a role's stable unique id (AROA…).
func RoleID(account, name string) string { return uniqueID("AROA", account, name) }

// PolicyID is a managed policy's stable unique id (ANPA…).
func PolicyID(account, name string) string { return uniqueID("ANPA", account, name) }

// Role is a compiled role.
type Role struct {
	Name       string
	ARN        string
	ID         string // AROA...
	Trust      *policy.Policy
	Policies   []*policy.Policy
	MaxSession time.Duration
}

// Provider is a configured OIDC provider.
type Provider struct {
	config.Provider
	ARN string
	// KeyPrefix is the condition-key prefix: the issuer without scheme.
	KeyPrefix string
}

// Directory is the compiled identity configuration. It is immutable; a
// reload builds a new one.
type Directory struct {
	Account   string
	byKey     map[string]*Principal
	byName    map[string]*Principal
	roles     map[string]*Role
	managed   map[string]*policy.Policy
	providers map[string]*Provider
}

// NewDirectory compiles the config's identities. The config was validated,
// so policies parse.
func NewDirectory(cfg *config.Config, rootAccessKey, rootSecret string) (*Directory, error) {
	acct := cfg.AccountID
	d := &Directory{Account: acct, byKey: map[string]*Principal{}, byName: map[string]*Principal{}, roles: map[string]*Role{},
		managed: map[string]*policy.Policy{}, providers: map[string]*Provider{}}
	root := &Principal{Type: TypeAccount, Account: acct, Name: "root", ARN: "arn:aws:iam::" + acct + ":root", UserID: acct, AccessKey: rootAccessKey, secret: rootSecret}
	d.byKey[rootAccessKey] = root
	for _, mp := range cfg.Policies {
		p, err := policy.Parse("managed policy "+mp.Name, mp.Document.Text, policy.Identity)
		if err != nil {
			return nil, err
		}
		d.managed[mp.Name] = p
	}
	compile := func(owner string, inline []config.PolicyDoc, managed []string) ([]*policy.Policy, error) {
		var out []*policy.Policy
		for i, doc := range inline {
			p, err := policy.Parse(owner+" inline policy "+itoa(i), doc.Text, policy.Identity)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		for _, n := range managed {
			out = append(out, d.managed[n])
		}
		return out, nil
	}
	for _, u := range cfg.Users {
		pols, err := compile("user "+u.Name, u.Policies, u.ManagedPolicies)
		if err != nil {
			return nil, err
		}
		p := &Principal{Type: TypeUser, Account: acct, Name: u.Name, ARN: "arn:aws:iam::" + acct + ":user/" + u.Name,
			UserID: UserID(acct, u.Name), AccessKey: u.AccessKey, secret: u.SecretKey, Policies: pols}
		if u.AccessKey != "" {
			d.byKey[u.AccessKey] = p
		}
		for _, k := range u.ExtraKeys {
			if k.Active {
				kp := *p
				kp.AccessKey, kp.secret = k.ID, k.Secret
				d.byKey[k.ID] = &kp
			}
		}
		d.byName[u.Name] = p
	}
	for _, r := range cfg.Roles {
		arn := "arn:aws:iam::" + acct + ":role/" + r.Name
		trust, err := policy.Parse("trust policy of "+arn, r.TrustPolicy.Text, policy.Trust)
		if err != nil {
			return nil, err
		}
		pols, err := compile("role "+r.Name, r.Policies, r.ManagedPolicies)
		if err != nil {
			return nil, err
		}
		d.roles[r.Name] = &Role{Name: r.Name, ARN: arn, ID: RoleID(acct, r.Name), Trust: trust, Policies: pols, MaxSession: r.MaxSession()}
	}
	for _, p := range cfg.Providers {
		suffix := config.ProviderARNSuffix(p.URL)
		d.providers[p.URL] = &Provider{Provider: p, ARN: "arn:aws:iam::" + acct + ":oidc-provider/" + suffix, KeyPrefix: suffix}
	}
	return d, nil
}

// Static returns the principal of a long-lived access key.
func (d *Directory) Static(accessKey string) (*Principal, bool) {
	p, ok := d.byKey[accessKey]
	return p, ok
}

// User returns a user by name.
func (d *Directory) User(name string) (*Principal, bool) {
	p, ok := d.byName[name]
	return p, ok
}

// Role returns a role by name.
func (d *Directory) Role(name string) (*Role, bool) {
	r, ok := d.roles[name]
	return r, ok
}

// RoleByARN resolves arn:aws:iam::<account>:role/<name>.
func (d *Directory) RoleByARN(arn string) (*Role, bool) {
	name, ok := strings.CutPrefix(arn, "arn:aws:iam::"+d.Account+":role/")
	if !ok {
		return nil, false
	}
	return d.Role(name)
}

// Provider returns the provider for an exact issuer.
func (d *Directory) Provider(issuer string) (*Provider, bool) {
	p, ok := d.providers[issuer]
	return p, ok
}

// Providers lists the providers.
func (d *Directory) Providers() []*Provider {
	out := make([]*Provider, 0, len(d.providers))
	for _, p := range d.providers {
		out = append(out, p)
	}
	return out
}

// ManagedPolicy returns a managed policy by ARN
// (arn:aws:iam::<account>:policy/<name>).
func (d *Directory) ManagedPolicy(arn string) (*policy.Policy, bool) {
	name, ok := strings.CutPrefix(arn, "arn:aws:iam::"+d.Account+":policy/")
	if !ok {
		return nil, false
	}
	p, ok := d.managed[name]
	return p, ok
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
