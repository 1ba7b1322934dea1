package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/policy"
)

var (
	roleNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	keyIDRE      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

// Signing algorithms accepted for web identity tokens: asymmetric only.
var AsymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// ProviderARNSuffix is the issuer without its scheme, as in the
// oidc-provider ARN and the condition-key prefix.
func ProviderARNSuffix(issuer string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(issuer, "https://"), "http://")
	return strings.TrimSuffix(s, "/")
}

func (c *Config) validateIdentity(file string) error {
	check := func(field, text string, trust bool) error {
		if strings.TrimSpace(text) == "" {
			return &FieldError{file, field, "policy document is empty"}
		}
		kind := policy.Identity
		if trust {
			kind = policy.Trust
		}
		if _, err := policy.Parse(field, text, kind); err != nil {
			return &FieldError{file, field, err.Error()}
		}
		return nil
	}
	managed := map[string]bool{}
	for i, p := range c.Policies {
		f := fmt.Sprintf("policies[%d]", i)
		if !policyNameRE.MatchString(p.Name) {
			return &FieldError{file, f + ".name", fmt.Sprintf("%q is not a policy name", p.Name)}
		}
		if managed[p.Name] {
			return &FieldError{file, f + ".name", fmt.Sprintf("duplicate policy %q", p.Name)}
		}
		managed[p.Name] = true
		if err := check(f+".document", p.Document.Text, false); err != nil {
			return err
		}
	}
	refs := func(f string, names []string) error {
		for j, n := range names {
			if !managed[n] {
				return &FieldError{file, fmt.Sprintf("%s.managed_policies[%d]", f, j), fmt.Sprintf("no policy named %q under policies", n)}
			}
		}
		return nil
	}
	for i, u := range c.Users {
		f := fmt.Sprintf("users[%d]", i)
		for j, p := range u.Policies {
			if err := check(fmt.Sprintf("%s.policies[%d]", f, j), p.Text, false); err != nil {
				return err
			}
		}
		if err := refs(f, u.ManagedPolicies); err != nil {
			return err
		}
	}
	issuers := map[string]bool{}
	for i, p := range c.Providers {
		f := fmt.Sprintf("oidc_providers[%d]", i)
		u, err := url.Parse(p.URL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && p.AllowHTTP)) || u.RawQuery != "" || u.Fragment != "" {
			return &FieldError{file, f + ".url", fmt.Sprintf("%q must be an https:// URL without query (http:// only with allow_http: true)", p.URL)}
		}
		if issuers[p.URL] {
			return &FieldError{file, f + ".url", "duplicate provider"}
		}
		issuers[p.URL] = true
		if len(p.ClientIDs) == 0 {
			return &FieldError{file, f + ".client_ids", "at least one client id (audience) is required"}
		}
		if p.JWKSURL != "" {
			if ju, err := url.Parse(p.JWKSURL); err != nil || (ju.Scheme != "https" && !(ju.Scheme == "http" && p.AllowHTTP)) {
				return &FieldError{file, f + ".jwks_url", "must be an https:// URL"}
			}
		}
		for j, a := range p.Algorithms {
			ok := false
			for _, b := range AsymmetricAlgorithms {
				ok = ok || a == b
			}
			if !ok {
				return &FieldError{file, fmt.Sprintf("%s.algorithms[%d]", f, j), fmt.Sprintf("%q is not one of %v (symmetric and none are never accepted)", a, AsymmetricAlgorithms)}
			}
		}
		if p.Leeway.Duration < 0 || p.Leeway.Duration > 5*time.Minute {
			return &FieldError{file, f + ".leeway", "must be between 0 and 5m"}
		}
	}
	roles := map[string]bool{}
	for i, r := range c.Roles {
		f := fmt.Sprintf("roles[%d]", i)
		if !roleNameRE.MatchString(r.Name) {
			return &FieldError{file, f + ".name", fmt.Sprintf("%q is not a role name", r.Name)}
		}
		if roles[r.Name] {
			return &FieldError{file, f + ".name", fmt.Sprintf("duplicate role %q", r.Name)}
		}
		roles[r.Name] = true
		if err := check(f+".trust_policy", r.TrustPolicy.Text, true); err != nil {
			return err
		}
		for j, p := range r.Policies {
			if err := check(fmt.Sprintf("%s.policies[%d]", f, j), p.Text, false); err != nil {
				return err
			}
		}
		if err := refs(f, r.ManagedPolicies); err != nil {
			return err
		}
		if d := r.MaxSessionDuration.Duration; d != 0 && (d < time.Hour || d > 12*time.Hour) {
			return &FieldError{file, f + ".max_session_duration", "must be between 1h and 12h"}
		}
	}
	ids := map[string]bool{}
	for i, k := range c.STS.Keys {
		f := fmt.Sprintf("sts.keys[%d]", i)
		if !keyIDRE.MatchString(k.ID) || ids[k.ID] {
			return &FieldError{file, f + ".id", "must be 1-32 of letters, digits, _ and -, and unique"}
		}
		ids[k.ID] = true
		if b, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(b) != 32 {
			return &FieldError{file, f + ".secret", "must be base64 of 32 random bytes (openssl rand -base64 32)"}
		}
	}
	return nil
}

// MaxSession is a role's maximum session duration (default 1h).
func (r *Role) MaxSession() time.Duration {
	if r.MaxSessionDuration.Duration == 0 {
		return time.Hour
	}
	return r.MaxSessionDuration.Duration
}

// LeewayOrDefault is the clock leeway for tokens of p.
func (p *Provider) LeewayOrDefault() time.Duration {
	if p.Leeway.Duration == 0 {
		return time.Minute
	}
	return p.Leeway.Duration
}
