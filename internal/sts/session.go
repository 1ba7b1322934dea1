package sts

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/sigv4"
)

// sessionClaims is what a session token carries: everything authorization
// needs, so that no gateway keeps session state. It is sealed by the ring
// (encrypted and authenticated); the secret key is not in it.
type sessionClaims struct {
	AccessKey string `json:"ak"`
	Role      string `json:"ro,omitempty"` // role name; empty for GetSessionToken
	Session   string `json:"sn,omitempty"`
	User      string `json:"us,omitempty"` // GetSessionToken: the user
	Issuer    string `json:"is,omitempty"` // web identity provider URL
	// Keys are condition keys the session carries: web-identity claims
	// (<issuer>:sub ...) and aws:PrincipalTag/* session tags.
	Keys       map[string][]string `json:"kv,omitempty"`
	Policy     string              `json:"po,omitempty"`
	PolicyARNs []string            `json:"pa,omitempty"`
	Chained    bool                `json:"ch,omitempty"`
	IssuedAt   int64               `json:"ia"`
	Expires    int64               `json:"ex"`
}

const accessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func newAccessKeyID() string {
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = accessKeyAlphabet[int(b[i])%len(accessKeyAlphabet)]
	}
	return "ASIA" + string(b)
}

// Credentials are issued temporary credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// issue seals claims into a token and derives its secret.
func (r *Ring) issue(c *sessionClaims) Credentials {
	payload, _ := json.Marshal(c)
	k := r.st.Load().active // one key for both, even across a reload
	return Credentials{
		AccessKeyID:     c.AccessKey,
		SecretAccessKey: k.sessionSecret(c.AccessKey, c.IssuedAt),
		SessionToken:    sealWith(k, payload),
		Expiration:      time.Unix(c.Expires, 0).UTC(),
	}
}

// Resolver finds the principal and secret of an access key: long-lived
// keys from the directory, temporary ones from their session token. It
// implements sigv4.Credentials. Opened sessions are cached, bounded, in a
// map keyed by the token itself: the map hashes it with the runtime's
// seeded hash and a hit compares the whole token, so no two tokens can
// share an entry and a hit costs well under a microsecond (a SHA-256 of
// the token would cost more than the rest of the lookup). A request with a
// session token then costs about what one with a static key costs.
type Resolver struct {
	dir  atomic.Pointer[identity.Directory]
	ring *Ring
	now  func() time.Time

	mu    sync.RWMutex
	cache map[string]*identity.Principal
	gen   uint64 // bumped by SetDirectory
}

// sessionCacheMax bounds the cache: tokens are at most a few KB.
const sessionCacheMax = 4096

// NewResolver builds a resolver.
func NewResolver(dir *identity.Directory, ring *Ring, now func() time.Time) *Resolver {
	if now == nil {
		now = time.Now
	}
	r := &Resolver{ring: ring, now: now, cache: map[string]*identity.Principal{}}
	r.dir.Store(dir)
	return r
}

// SetDirectory switches to a new identity configuration (a reload) and
// forgets every opened session: each is rebuilt, on its next request, from
// its token and the new configuration, so new policies (a revocation, a
// removed role) apply at once.
func (r *Resolver) SetDirectory(dir *identity.Directory) {
	r.mu.Lock()
	r.dir.Store(dir)
	r.cache = map[string]*identity.Principal{}
	r.gen++
	r.mu.Unlock()
}

var (
	errInvalidToken = s3err.New("InvalidToken", "The provided token is malformed or otherwise invalid.")
	errExpiredToken = s3err.New("ExpiredToken", "The provided token has expired.")
)

// Lookup implements sigv4.Credentials.
func (r *Resolver) Lookup(accessKey, token string) (sigv4.Identity, error) {
	if token == "" {
		if p, ok := r.dir.Load().Static(accessKey); ok {
			return p, nil
		}
		// Includes an ASIA key sent without its token: AWS, too, says the
		// key does not exist.
		return nil, s3err.InvalidAccessKeyID.With("AWSAccessKeyId", accessKey).Because("unknown access key " + accessKey)
	}
	p, err := r.Session(token)
	if err != nil {
		return nil, err
	}
	if p.AccessKey != accessKey {
		return nil, errInvalidToken.Because("session token belongs to access key " + p.AccessKey + ", request signed with " + accessKey)
	}
	if !r.now().Before(p.Expires) {
		return nil, errExpiredToken.With("Token-0", token).Because("session of " + p.ARN + " expired at " + p.Expires.Format(time.RFC3339))
	}
	return p, nil
}

// Session opens a session token (from the cache when it was seen).
func (r *Resolver) Session(token string) (*identity.Principal, error) {
	r.mu.RLock()
	p, ok := r.cache[token]
	gen := r.gen
	r.mu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := r.openSession(token)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return p, nil // built from a configuration replaced meanwhile: do not keep it
	}
	if len(r.cache) >= sessionCacheMax {
		// Drop about half at random (map order): bounded memory, and the
		// sessions in use come back on their next request.
		n := 0
		for k := range r.cache {
			if n++; n > sessionCacheMax/2 {
				break
			}
			delete(r.cache, k)
		}
	}
	r.cache[token] = p
	return p, nil
}

func (r *Resolver) openSession(token string) (*identity.Principal, error) {
	if len(token) > 8192 {
		return nil, errInvalidToken.Because("session token longer than 8192 bytes")
	}
	plain, key, err := r.ring.open(token)
	if err != nil {
		return nil, errInvalidToken.Because("session token: " + err.Error())
	}
	var c sessionClaims
	if err := json.Unmarshal(plain, &c); err != nil || !strings.HasPrefix(c.AccessKey, "ASIA") {
		return nil, errInvalidToken.Because("session token payload undecodable")
	}
	p, err := r.principal(&c)
	if err != nil {
		return nil, err
	}
	p.WithSecret(key.sessionSecret(c.AccessKey, c.IssuedAt))
	return p, nil
}

// principal rebuilds a session's principal from its claims and the
// current directory: a session whose role was removed stops working.
func (r *Resolver) principal(c *sessionClaims) (*identity.Principal, error) {
	dir := r.dir.Load()
	acct := dir.Account
	issued := time.Unix(c.IssuedAt, 0).UTC()
	keys := policy.Context{}
	for k, v := range c.Keys {
		keys[k] = v
	}
	keys.Set("aws:TokenIssueTime", issued.Format(time.RFC3339))
	p := &identity.Principal{Account: acct, AccessKey: c.AccessKey, IssuedAt: issued, Expires: time.Unix(c.Expires, 0).UTC(),
		Provider: c.Issuer, Chained: c.Chained, Keys: keys}
	if c.User != "" {
		u, ok := dir.User(c.User)
		if !ok {
			return nil, errInvalidToken.Because("session of user " + c.User + " who no longer exists")
		}
		p.Type, p.Name, p.ARN, p.UserID, p.Policies, p.SessionUser = identity.TypeUser, u.Name, u.ARN, u.UserID, u.Policies, u.Name
		return p, nil
	}
	role, ok := dir.Role(c.Role)
	if !ok {
		return nil, errInvalidToken.Because("session of role " + c.Role + " which no longer exists")
	}
	p.Type, p.Name, p.RoleARN, p.SessionName = identity.TypeAssumedRole, role.Name, role.ARN, c.Session
	p.ARN = "arn:aws:sts::" + acct + ":assumed-role/" + role.Name + "/" + c.Session
	p.UserID = role.ID + ":" + c.Session
	p.Policies = role.Policies
	if c.Issuer != "" {
		keys.Set("aws:FederatedProvider", c.Issuer)
	}
	if c.Policy != "" || len(c.PolicyARNs) > 0 {
		p.HasSessionPolicy = true
		if c.Policy != "" {
			sp, err := policy.Parse("session policy of "+p.ARN, c.Policy, policy.Identity)
			if err != nil {
				return nil, errInvalidToken.Because("session policy no longer parses: " + err.Error())
			}
			p.SessionPolicies = append(p.SessionPolicies, sp)
		}
		for _, arn := range c.PolicyARNs {
			mp, ok := dir.ManagedPolicy(arn)
			if !ok {
				return nil, errInvalidToken.Because("session policy " + arn + " no longer exists")
			}
			p.SessionPolicies = append(p.SessionPolicies, mp)
		}
	}
	return p, nil
}
