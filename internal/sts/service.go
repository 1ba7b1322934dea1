// Package sts owns AWS Security Token Service on cairn:
// AssumeRoleWithWebIdentity against OIDC providers, AssumeRole,
// GetSessionToken and GetCallerIdentity; stateless session tokens sealed
// under a key ring; and the resolution of temporary credentials on every
// signed request.
package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
)

// Service runs the STS operations. Its methods are plain functions of
// their inputs; the HTTP layer only parses and renders.
type Service struct {
	state atomic.Pointer[serviceState]
	ring  *Ring
	now   func() time.Time
	log   *slog.Logger

	// OnIssue, when set, is called for every credential issued (metrics).
	OnIssue func(action, role, provider string)
	// OnFetch, when set, is called after every JWKS fetch (metrics).
	OnFetch func(provider string, err error)
}

// serviceState is what a configuration reload replaces as a whole.
type serviceState struct {
	dir  *identity.Directory
	oidc *OIDC
}

// New builds the STS service.
func New(dir *identity.Directory, ring *Ring, log *slog.Logger, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	s := &Service{ring: ring, now: now, log: log}
	if err := s.SetDirectory(dir); err != nil {
		return nil, err
	}
	return s, nil
}

// SetDirectory switches to a new identity configuration (a reload). The
// providers' key caches start empty.
func (s *Service) SetDirectory(dir *identity.Directory) error {
	o, err := newOIDC(dir, s.now)
	if err != nil {
		return err
	}
	o.Fetches = func(p string, err error) {
		if s.OnFetch != nil {
			s.OnFetch(p, err)
		}
	}
	s.state.Store(&serviceState{dir: dir, oidc: o})
	return nil
}

// OIDC exposes the verifier (for metrics hooks).
func (s *Service) OIDC() *OIDC { return s.state.Load().oidc }

// Limits from the STS API model.
const (
	minDuration       = 900
	defaultDuration   = 3600
	chainedMax        = 3600
	maxPackedPlain    = 2048 // session policy plaintext budget
	maxPolicyArns     = 10
	maxSessionTags    = 50
	maxClaimKeysBytes = 1024
)

var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	roleArnRE     = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
)

// AssumeInput holds the parameters common to AssumeRole*.
type AssumeInput struct {
	RoleArn         string
	RoleSessionName string
	DurationSeconds string // as sent; "" for the default
	Policy          string
	PolicyArns      []string
	Tags            map[string]string // AssumeRole only
	TagOrder        []string
	ExternalID      string
}

// AssumeResult is what AssumeRole* return.
type AssumeResult struct {
	Credentials      Credentials
	AssumedRoleArn   string
	AssumedRoleID    string
	PackedPolicySize int
	HasPacked        bool
	// Web identity only.
	Subject  string
	Audience string
	Provider string
}

func (s *Service) issued(action, role, provider string) {
	if s.OnIssue != nil {
		s.OnIssue(action, role, provider)
	}
}

// checkAssumeInput validates parameters as the STS model constrains them.
func checkAssumeInput(in *AssumeInput) error {
	if in.RoleArn == "" {
		return stsErr("MissingParameter", "The request must contain the parameter RoleArn")
	}
	if len(in.RoleArn) < 20 || len(in.RoleArn) > 2048 || !roleArnRE.MatchString(in.RoleArn) {
		return validation("1 validation error detected: Value '" + in.RoleArn + "' at 'roleArn' failed to satisfy constraint: Member must be a role ARN")
	}
	if in.RoleSessionName == "" {
		return stsErr("MissingParameter", "The request must contain the parameter RoleSessionName")
	}
	if !sessionNameRE.MatchString(in.RoleSessionName) {
		return validation("1 validation error detected: Value '" + in.RoleSessionName + "' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match pattern [\\w+=,.@-]*")
	}
	if len(in.PolicyArns) > maxPolicyArns {
		return validation("1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	if in.Policy != "" && len(in.Policy) > maxPackedPlain {
		return validation("1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	return nil
}

// duration resolves DurationSeconds against the role's maximum.
func duration(raw string, role *identity.Role, capAt int) (int, error) {
	d := defaultDuration
	if raw != "" {
		n, err := parseInt(raw)
		if err != nil || n < minDuration || n > 43200 {
			return 0, validation("1 validation error detected: Value '" + raw + "' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
		}
		d = n
	}
	if capAt > 0 && d > capAt {
		return 0, validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if time.Duration(d)*time.Second > role.MaxSession {
		return 0, validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return d, nil
}

func parseInt(s string) (int, error) {
	n := 0
	if s == "" || len(s) > 9 {
		return 0, fmt.Errorf("bad int")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad int")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// sessionPolicy validates Policy and PolicyArns and reports the packed size
// as a percentage of the 2048-character plaintext budget.
func (s *Service) sessionPolicy(dir *identity.Directory, in *AssumeInput) (string, int, error) {
	size := 0
	compact := ""
	if in.Policy != "" {
		if _, err := policy.Parse("session policy", in.Policy, policy.Identity); err != nil {
			return "", 0, stsErr("MalformedPolicyDocument", "The policy is not in the valid JSON format or contains invalid elements.").Because(err.Error())
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(in.Policy)); err == nil {
			compact = buf.String()
		} else {
			compact = in.Policy
		}
		size += len(compact)
	}
	for _, arn := range in.PolicyArns {
		p, ok := dir.ManagedPolicy(arn)
		if !ok {
			return "", 0, validation("Policy " + arn + " does not exist or is not attachable.")
		}
		size += len(p.Text)
	}
	for k, v := range in.Tags {
		size += len(k) + len(v)
	}
	pct := (size*100 + maxPackedPlain - 1) / maxPackedPlain
	if pct > 100 {
		return "", pct, stsErr("PackedPolicyTooLarge", fmt.Sprintf("Packed policy consumes %d%% of allotted space, please use smaller policy.", pct))
	}
	return compact, pct, nil
}

// denied is the AccessDenied the client sees; reason goes to the log.
func denied(action, reason string) *s3err.Error {
	return stsErr("AccessDenied", "Not authorized to perform "+action).Because(reason)
}

// AssumeRoleWithWebIdentity exchanges a verified OIDC token for a session.
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, in *AssumeInput, token string) (*AssumeResult, error) {
	const action = "sts:AssumeRoleWithWebIdentity"
	if token == "" {
		return nil, stsErr("MissingParameter", "The request must contain the parameter WebIdentityToken")
	}
	if err := checkAssumeInput(in); err != nil {
		return nil, err
	}
	st := s.state.Load()
	wt, err := st.oidc.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	role, ok := st.dir.RoleByARN(in.RoleArn)
	if !ok {
		return nil, denied(action, "role "+in.RoleArn+" does not exist")
	}
	dur, err := duration(in.DurationSeconds, role, 0)
	if err != nil {
		return nil, err
	}
	compact, pct, err := s.sessionPolicy(st.dir, in)
	if err != nil {
		return nil, err
	}
	p := wt.provider
	keys := claimKeys(p.KeyPrefix, wt)
	tags, transitive := sessionTags(wt.claims)
	ctxKeys := policy.Context{}
	for k, v := range keys {
		ctxKeys[k] = v
	}
	addRequestContext(ctxKeys, s.now(), in)
	for k, v := range tags {
		ctxKeys.Set("aws:RequestTag/"+k, v)
	}
	if len(tags) > 0 {
		ctxKeys.SetMulti("aws:TagKeys", sortedKeys(tags))
		ctxKeys.SetMulti("sts:TransitiveTagKeys", transitive)
	}
	fed := &policy.Principal{Federated: p.ARN}
	d := role.Trust.Evaluate(&policy.Request{Action: action, Principal: fed, Context: ctxKeys})
	if d.Effect != policy.Allow {
		return nil, denied(action, fmt.Sprintf("trust policy of %s: %s for %s (sub %q, aud %v)", role.ARN, d.Explain(), p.ARN, wt.subject, wt.audience))
	}
	if len(tags) > 0 {
		if d := role.Trust.Evaluate(&policy.Request{Action: "sts:TagSession", Principal: fed, Context: ctxKeys}); d.Effect != policy.Allow {
			return nil, denied(action, "token carries session tags but the trust policy of "+role.ARN+" does not allow sts:TagSession: "+d.Explain())
		}
	}
	sessionKeys := chooseKeys(keys)
	for k, v := range tags {
		sessionKeys[strings.ToLower("aws:PrincipalTag/"+k)] = []string{v}
	}
	now := s.now().UTC().Truncate(time.Second)
	c := &sessionClaims{AccessKey: newAccessKeyID(), Role: role.Name, Session: in.RoleSessionName, Issuer: p.URL, Keys: sessionKeys,
		Policy: compact, PolicyARNs: in.PolicyArns, IssuedAt: now.Unix(), Expires: now.Add(time.Duration(dur) * time.Second).Unix()}
	creds := s.ring.issue(c)
	res := &AssumeResult{Credentials: creds, AssumedRoleArn: "arn:aws:sts::" + st.dir.Account + ":assumed-role/" + role.Name + "/" + in.RoleSessionName,
		AssumedRoleID: role.ID + ":" + in.RoleSessionName, Subject: wt.subject, Audience: wt.matchedAudience, Provider: p.URL,
		PackedPolicySize: pct, HasPacked: in.Policy != "" || len(in.PolicyArns) > 0 || len(tags) > 0}
	if azp, _ := wt.claims["azp"].(string); azp != "" {
		res.Audience = azp
	}
	s.issued("AssumeRoleWithWebIdentity", role.Name, p.URL)
	s.log.Info("sts: issued credentials", "event", "AssumeRoleWithWebIdentity", "role", role.ARN, "session", in.RoleSessionName,
		"provider", p.URL, "subject", wt.subject, "access_key", creds.AccessKeyID, "expires", creds.Expiration.Format(time.RFC3339))
	return res, nil
}

// claimKeys turns top-level string and string-array claims into condition
// keys "<issuer-host/path>:<claim>".
func claimKeys(prefix string, wt *webToken) policy.Context {
	keys := policy.Context{}
	for name, v := range wt.claims {
		switch name {
		case "exp", "iat", "nbf", "iss", "https://aws.amazon.com/tags":
			continue
		}
		switch x := v.(type) {
		case string:
			keys.Set(prefix+":"+name, x)
		case []any:
			var vals []string
			for _, e := range x {
				if s, ok := e.(string); ok {
					vals = append(vals, s)
				}
			}
			if len(vals) > 0 {
				keys.SetMulti(prefix+":"+name, vals)
			}
		}
	}
	// :aud holds the audience the token was accepted for, or azp.
	if azp, _ := wt.claims["azp"].(string); azp != "" {
		keys.SetMulti(prefix+":aud", []string{azp})
		keys.SetMulti(prefix+":oaud", wt.audience)
	} else {
		keys.SetMulti(prefix+":aud", wt.audience)
	}
	return keys
}

// chooseKeys picks the claim keys a session token carries: sub, aud, amr
// and azp always, then other claims in name order while they fit in a
// small budget (tokens must stay compact).
func chooseKeys(keys policy.Context) map[string][]string {
	out := map[string][]string{}
	budget := maxClaimKeysBytes
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		ci, cj := coreClaim(names[i]), coreClaim(names[j])
		if ci != cj {
			return ci
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		n := len(k)
		for _, v := range keys[k] {
			n += len(v) + 3
		}
		if n > budget && !coreClaim(k) {
			continue
		}
		budget -= n
		out[k] = keys[k]
	}
	return out
}

func coreClaim(k string) bool {
	for _, s := range []string{":sub", ":aud", ":amr", ":azp"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// sessionTags reads the https://aws.amazon.com/tags claim.
func sessionTags(claims map[string]any) (map[string]string, []string) {
	raw, ok := claims["https://aws.amazon.com/tags"].(map[string]any)
	if !ok {
		return nil, nil
	}
	tags := map[string]string{}
	if pt, ok := raw["principal_tags"].(map[string]any); ok {
		for k, v := range pt {
			switch x := v.(type) {
			case []any:
				if len(x) > 0 {
					if s, ok := x[0].(string); ok {
						tags[k] = s
					}
				}
			case string:
				tags[k] = x
			}
			if len(tags) >= maxSessionTags {
				break
			}
		}
	}
	var transitive []string
	if tt, ok := raw["transitive_tag_keys"].([]any); ok {
		for _, v := range tt {
			if s, ok := v.(string); ok {
				transitive = append(transitive, s)
			}
		}
	}
	return tags, transitive
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// addRequestContext sets the keys every STS request carries.
func addRequestContext(ctx policy.Context, now time.Time, in *AssumeInput) {
	ctx.Set("aws:CurrentTime", now.UTC().Format(time.RFC3339))
	ctx.Set("aws:EpochTime", fmt.Sprint(now.Unix()))
	if in != nil {
		ctx.Set("sts:RoleSessionName", in.RoleSessionName)
		if in.ExternalID != "" {
			ctx.Set("sts:ExternalId", in.ExternalID)
		}
	}
}

// AssumeRole issues a role session to an authenticated caller: a user, or
// a session (role chaining, capped at one hour).
func (s *Service) AssumeRole(caller *identity.Principal, in *AssumeInput) (*AssumeResult, error) {
	const action = "sts:AssumeRole"
	if err := checkAssumeInput(in); err != nil {
		return nil, err
	}
	if caller.Root() {
		return nil, stsErr("AccessDenied", "Roles may not be assumed by root accounts.").Because("root called AssumeRole")
	}
	st := s.state.Load()
	role, ok := st.dir.RoleByARN(in.RoleArn)
	if !ok {
		return nil, denied(action, "role "+in.RoleArn+" does not exist")
	}
	capAt := 0
	if caller.Type == identity.TypeAssumedRole {
		capAt = chainedMax
	}
	dur, err := duration(in.DurationSeconds, role, capAt)
	if err != nil {
		return nil, err
	}
	compact, pct, err := s.sessionPolicy(st.dir, in)
	if err != nil {
		return nil, err
	}
	ctxKeys := policy.Context{}
	caller.AddContext(ctxKeys)
	addRequestContext(ctxKeys, s.now(), in)
	for k, v := range in.Tags {
		ctxKeys.Set("aws:RequestTag/"+k, v)
	}
	if len(in.Tags) > 0 {
		ctxKeys.SetMulti("aws:TagKeys", in.TagOrder)
	}
	// The trust policy must allow the caller. Naming the caller itself is
	// enough; a grant to the whole account also needs the caller's own
	// policies to allow sts:AssumeRole on the role.
	req := &policy.Request{Action: action, Principal: caller.PolicyPrincipal(), Context: ctxKeys}
	d := role.Trust.Evaluate(req)
	if d.Effect == policy.Deny {
		return nil, denied(action, "trust policy of "+role.ARN+": "+d.Explain())
	}
	if d.Effect != policy.Allow {
		acct := &policy.Request{Action: action, Principal: &policy.Principal{AWS: []string{"arn:aws:iam::" + st.dir.Account + ":root"}}, Context: ctxKeys}
		if d = role.Trust.Evaluate(acct); d.Effect != policy.Allow {
			return nil, denied(action, fmt.Sprintf("trust policy of %s does not allow %s: %s", role.ARN, caller.ARN, d.Explain()))
		}
		own := identity.Decide(caller, &policy.Request{Action: action, Resource: role.ARN, Context: ctxKeys})
		if own.Effect != policy.Allow {
			return nil, denied(action, fmt.Sprintf("trust policy of %s trusts the account, but the policies of %s do not allow sts:AssumeRole on it: %s", role.ARN, caller.ARN, own.Explain()))
		}
	}
	if len(in.Tags) > 0 {
		if d := role.Trust.Evaluate(&policy.Request{Action: "sts:TagSession", Principal: caller.PolicyPrincipal(), Context: ctxKeys}); d.Effect != policy.Allow {
			return nil, denied(action, "session tags given but the trust policy of "+role.ARN+" does not allow sts:TagSession")
		}
	}
	keys := map[string][]string{}
	for k, v := range in.Tags {
		keys[strings.ToLower("aws:PrincipalTag/"+k)] = []string{v}
	}
	now := s.now().UTC().Truncate(time.Second)
	c := &sessionClaims{AccessKey: newAccessKeyID(), Role: role.Name, Session: in.RoleSessionName, Keys: keys, Policy: compact,
		PolicyARNs: in.PolicyArns, Chained: caller.Type == identity.TypeAssumedRole, IssuedAt: now.Unix(), Expires: now.Add(time.Duration(dur) * time.Second).Unix()}
	creds := s.ring.issue(c)
	s.issued("AssumeRole", role.Name, "")
	s.log.Info("sts: issued credentials", "event", "AssumeRole", "role", role.ARN, "session", in.RoleSessionName, "caller", caller.ARN,
		"access_key", creds.AccessKeyID, "expires", creds.Expiration.Format(time.RFC3339))
	return &AssumeResult{Credentials: creds, AssumedRoleArn: "arn:aws:sts::" + st.dir.Account + ":assumed-role/" + role.Name + "/" + in.RoleSessionName,
		AssumedRoleID: role.ID + ":" + in.RoleSessionName, PackedPolicySize: pct, HasPacked: in.Policy != "" || len(in.PolicyArns) > 0 || len(in.Tags) > 0}, nil
}

// GetSessionToken issues temporary credentials that act as the calling
// user; only long-lived user credentials may call it.
func (s *Service) GetSessionToken(caller *identity.Principal, durationRaw string) (Credentials, error) {
	if caller.Type == identity.TypeAssumedRole || caller.SessionUser != "" {
		return Credentials{}, stsErr("AccessDenied", "Cannot call GetSessionToken with session credentials").Because(caller.ARN + " used temporary credentials")
	}
	maxD, def := 129600, 43200
	if caller.Root() {
		maxD, def = 3600, 3600
	}
	d := def
	if durationRaw != "" {
		n, err := parseInt(durationRaw)
		if err != nil || n < minDuration || n > maxD {
			return Credentials{}, validation(fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and %d", durationRaw, maxD))
		}
		d = n
	}
	if caller.Root() {
		return Credentials{}, stsErr("AccessDenied", "cairn does not issue session tokens for the root credentials; create a user").Because("root called GetSessionToken")
	}
	now := s.now().UTC().Truncate(time.Second)
	c := &sessionClaims{AccessKey: newAccessKeyID(), User: caller.Name, IssuedAt: now.Unix(), Expires: now.Add(time.Duration(d) * time.Second).Unix()}
	creds := s.ring.issue(c)
	s.issued("GetSessionToken", "", "")
	s.log.Info("sts: issued credentials", "event", "GetSessionToken", "user", caller.ARN, "access_key", creds.AccessKeyID, "expires", creds.Expiration.Format(time.RFC3339))
	return creds, nil
}
