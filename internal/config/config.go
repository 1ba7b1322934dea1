// Package config owns cairn's configuration file: its YAML schema, defaults,
// and validation with messages that name the file, the field and the
// problem.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the --config file.
type Config struct {
	// AccountID is the 12-digit account every identity belongs to.
	AccountID string `yaml:"account_id"`
	// Region is the one region this server answers for (default us-east-1).
	Region string `yaml:"region"`
	// Domain enables virtual-hosted-style requests: Host
	// "<bucket>.<domain>" addresses a bucket.
	Domain string `yaml:"domain"`
	// Users are static IAM users with long-lived access keys.
	Users []User `yaml:"users"`
	// Policies are named managed policies that users and roles attach.
	Policies []NamedPolicy `yaml:"policies"`
	// Providers are the trusted OpenID Connect identity providers.
	Providers []Provider `yaml:"oidc_providers"`
	// Roles can be assumed with STS.
	Roles []Role `yaml:"roles"`
	// STS configures session tokens.
	STS STS `yaml:"sts"`
	// TrustedProxies are the addresses (CIDR) of reverse proxies whose
	// X-Forwarded-For is believed for aws:SourceIp. Empty: none is.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// User is a static user.
type User struct {
	Name      string `yaml:"name"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// Policies are inline identity policies.
	Policies []PolicyDoc `yaml:"policies"`
	// ManagedPolicies name entries of Config.Policies.
	ManagedPolicies []string `yaml:"managed_policies"`
	// ExtraKeys are further keys (users created through the IAM API);
	// not read from the file.
	ExtraKeys []AccessKey `yaml:"-"`
}

// AccessKey is one of a user's keys.
type AccessKey struct {
	ID, Secret string
	Active     bool
}

// NamedPolicy is a managed policy.
type NamedPolicy struct {
	Name     string    `yaml:"name"`
	Document PolicyDoc `yaml:"document"`
}

// Provider is a trusted OIDC issuer.
type Provider struct {
	// URL is the issuer, exactly as in the tokens' iss claim.
	URL string `yaml:"url"`
	// ClientIDs are the accepted audiences.
	ClientIDs []string `yaml:"client_ids"`
	// JWKSURL skips discovery when set.
	JWKSURL string `yaml:"jwks_url"`
	// CAFile is a PEM bundle to trust for this issuer's TLS.
	CAFile string `yaml:"ca_file"`
	// Algorithms limits the accepted signing algorithms (default: all of
	// RS256/384/512, PS256/384/512, ES256/384/512, EdDSA).
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock leeway for exp, nbf and iat (default 60s).
	Leeway Duration `yaml:"leeway"`
	// AllowHTTP permits an http:// issuer (tests and local labs only).
	AllowHTTP bool `yaml:"allow_http"`
}

// Role is an assumable role.
type Role struct {
	Name string `yaml:"name"`
	// TrustPolicy is the AssumeRolePolicyDocument.
	TrustPolicy     PolicyDoc   `yaml:"trust_policy"`
	Policies        []PolicyDoc `yaml:"policies"`
	ManagedPolicies []string    `yaml:"managed_policies"`
	// MaxSessionDuration is 1h to 12h (default 1h).
	MaxSessionDuration Duration `yaml:"max_session_duration"`
}

// STS configures session tokens.
type STS struct {
	// Keys, when set, is the key ring that seals session tokens, shared
	// by every gateway with the same config. The first key is active.
	// Without it, a ring is generated in the data dir.
	Keys []STSKey `yaml:"keys"`
}

// STSKey is one key of the ring.
type STSKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"` // base64 of 32 bytes
}

// PolicyDoc is a policy document given as a JSON string or as the same
// structure in YAML; Text holds it as JSON.
type PolicyDoc struct{ Text string }

// UnmarshalYAML accepts a string (JSON text) or a mapping.
func (p *PolicyDoc) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		p.Text = n.Value
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: policy is not representable as JSON: %v", n.Line, err)
	}
	p.Text = string(b)
	return nil
}

// Duration is a duration given as Go text ("1h", "90s") or as seconds.
type Duration struct{ time.Duration }

// UnmarshalYAML accepts "1h30m" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if secs, err := strconv.Atoi(n.Value); err == nil {
		d.Duration = time.Duration(secs) * time.Second
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (\"1h\" or seconds)", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

var (
	userNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	accessKeyRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// FieldError names the field of the file at fault.
type FieldError struct {
	File, Field, Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config %s: %s: %s", e.File, e.Field, e.Problem)
}

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse validates config text; name is used in messages.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // an empty file means the defaults
		return nil, fmt.Errorf("config %s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.validate(name); err != nil {
		return nil, err
	}
	return &c, nil
}

// Default is the configuration used without a file.
func Default() *Config {
	c := &Config{}
	c.validate("")
	return c
}

func (c *Config) validate(file string) error {
	if c.AccountID == "" {
		c.AccountID = "000000000000"
	}
	if !regexp.MustCompile(`^[0-9]{12}$`).MatchString(c.AccountID) {
		return &FieldError{file, "account_id", fmt.Sprintf("%q is not 12 digits", c.AccountID)}
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if !regexp.MustCompile(`^[a-z0-9-]{1,32}$`).MatchString(c.Region) {
		return &FieldError{file, "region", fmt.Sprintf("%q is not a region name (lowercase letters, digits and '-')", c.Region)}
	}
	c.Domain = strings.TrimSuffix(strings.ToLower(c.Domain), ".")
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return &FieldError{file, fmt.Sprintf("trusted_proxies[%d]", i), fmt.Sprintf("%q is not an IP address or CIDR block", p)}
			}
		}
	}
	seenName := map[string]bool{}
	seenKey := map[string]bool{}
	for i, u := range c.Users {
		f := fmt.Sprintf("users[%d]", i)
		if !userNameRE.MatchString(u.Name) {
			return &FieldError{file, f + ".name", fmt.Sprintf("%q must be 1-64 characters of letters, digits and +=,.@_-", u.Name)}
		}
		if seenName[u.Name] {
			return &FieldError{file, f + ".name", fmt.Sprintf("duplicate user %q", u.Name)}
		}
		if !accessKeyRE.MatchString(u.AccessKey) || strings.HasPrefix(u.AccessKey, "ASIA") {
			return &FieldError{file, f + ".access_key", "must be 16-128 uppercase letters and digits, and not start with ASIA (reserved for temporary credentials)"}
		}
		if seenKey[u.AccessKey] {
			return &FieldError{file, f + ".access_key", "duplicate access key"}
		}
		if len(u.SecretKey) < 16 || len(u.SecretKey) > 128 {
			return &FieldError{file, f + ".secret_key", "must be 16-128 characters"}
		}
		seenName[u.Name], seenKey[u.AccessKey] = true, true
	}
	return c.validateIdentity(file)
}
