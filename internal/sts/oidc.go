package sts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/s3err"
)

// OIDC token verification. JOSE (JWS parsing, algorithm allow-lists,
// signature checks, JWK decoding) is go-jose's. Discovery and the JWKS
// cache are ours because cairn needs what general clients do not give:
// a distinct AWS error for each failure, one fetch at a time per provider
// (singleflight), a floor between refetches so that a flood of tokens with
// unknown key ids cannot become a flood of fetches, and no lock held
// across network I/O.

const (
	maxWebIdentityToken = 20000
	fetchTimeout        = 5 * time.Second
	// minRefetch is the least time between two JWKS fetches of one
	// provider triggered by an unknown kid.
	minRefetch = 10 * time.Second
	// jwksTTL is how long fetched keys are used before a background-free
	// refresh on the next token.
	jwksTTL      = 15 * time.Minute
	maxJWKSBytes = 1 << 20
)

// keySource fetches and caches one provider's signing keys.
type keySource struct {
	p      *identity.Provider
	client *http.Client
	algs   []jose.SignatureAlgorithm
	group  singleflight.Group

	mu          sync.Mutex
	keys        *jose.JSONWebKeySet
	jwksURL     string
	fetchedAt   time.Time
	lastAttempt time.Time
}

// OIDC verifies web identity tokens against the configured providers.
type OIDC struct {
	sources map[string]*keySource
	now     func() time.Time
	// Fetches counts JWKS fetches (for tests and metrics).
	Fetches func(issuer string, err error)
}

func newOIDC(dir *identity.Directory, now func() time.Time) (*OIDC, error) {
	o := &OIDC{sources: map[string]*keySource{}, now: now}
	for _, p := range dir.Providers() {
		client := &http.Client{Timeout: fetchTimeout}
		if p.CAFile != "" {
			pem, err := os.ReadFile(p.CAFile)
			if err != nil {
				return nil, fmt.Errorf("oidc provider %s: ca_file: %w", p.URL, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("oidc provider %s: ca_file %s has no PEM certificates", p.URL, p.CAFile)
			}
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		}
		names := p.Algorithms
		if len(names) == 0 {
			names = config.AsymmetricAlgorithms
		}
		algs := make([]jose.SignatureAlgorithm, len(names))
		for i, a := range names {
			algs[i] = jose.SignatureAlgorithm(a)
		}
		o.sources[p.URL] = &keySource{p: p, client: client, algs: algs, jwksURL: p.JWKSURL}
	}
	return o, nil
}

// webToken is a verified web identity token.
type webToken struct {
	provider *identity.Provider
	subject  string
	audience []string
	// matchedAudience is the configured client id the token was for.
	matchedAudience string
	claims          map[string]any
	expires         time.Time
}

var allAsymmetric = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(config.AsymmetricAlgorithms))
	for i, a := range config.AsymmetricAlgorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// verify checks a token's signature, algorithm, issuer, audience and
// times. Every failure carries the AWS code and a precise reason.
func (o *OIDC) verify(ctx context.Context, raw string) (*webToken, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) < 4 || len(raw) > maxWebIdentityToken {
		return nil, validation(fmt.Sprintf("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and %d", maxWebIdentityToken)).
			Because(fmt.Sprintf("web identity token of %d bytes", len(raw)))
	}
	jws, err := jose.ParseSigned(raw, allAsymmetric)
	if err != nil {
		return nil, invalidToken("token is not a JWS with an asymmetric algorithm: " + err.Error())
	}
	if len(jws.Signatures) != 1 {
		return nil, invalidToken("token has more than one signature")
	}
	hdr := jws.Signatures[0].Header
	claims, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, invalidToken("token payload is not a JSON object: " + err.Error())
	}
	iss, _ := claims["iss"].(string)
	src, ok := o.sources[iss]
	if !ok {
		return nil, stsErr("InvalidIdentityToken", "No OpenIDConnect provider found in your account for "+iss).Because("unknown issuer " + quote(iss))
	}
	algOK := false
	for _, a := range src.algs {
		algOK = algOK || string(a) == hdr.Algorithm
	}
	if !algOK {
		return nil, invalidToken(fmt.Sprintf("alg %s not allowed for provider %s", hdr.Algorithm, iss))
	}
	key, err := src.key(ctx, hdr.KeyID, o.now(), o.Fetches)
	if err != nil {
		return nil, err
	}
	if _, err := jws.Verify(key); err != nil {
		return nil, invalidToken(fmt.Sprintf("signature does not verify with kid %s of %s", quote(hdr.KeyID), iss))
	}
	return checkClaims(src.p, claims, o.now())
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func numericClaim(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, true, fmt.Errorf("%s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, true, fmt.Errorf("%s is not a number", name)
	}
	return time.Unix(int64(f), 0).UTC(), true, nil
}

// checkClaims applies the issuer, audience, subject and time rules.
func checkClaims(p *identity.Provider, claims map[string]any, now time.Time) (*webToken, error) {
	leeway := p.LeewayOrDefault()
	t := &webToken{provider: p, claims: claims}
	if iss, _ := claims["iss"].(string); iss != p.URL {
		return nil, invalidToken("iss mismatch")
	}
	exp, ok, err := numericClaim(claims, "exp")
	if err != nil || !ok {
		return nil, invalidToken("exp claim missing or not a number")
	}
	if now.After(exp.Add(leeway)) {
		return nil, stsErr("ExpiredTokenException", fmt.Sprintf("Token expired: current date/time %s must be before the expiration date/time %s",
			now.UTC().Format(time.RFC3339), exp.Format(time.RFC3339))).Because(fmt.Sprintf("token of %s expired at %s", p.URL, exp.Format(time.RFC3339)))
	}
	t.expires = exp
	if nbf, ok, err := numericClaim(claims, "nbf"); err != nil {
		return nil, invalidToken(err.Error())
	} else if ok && nbf.After(now.Add(leeway)) {
		return nil, invalidToken("nbf " + nbf.Format(time.RFC3339) + " is in the future")
	}
	if iat, ok, err := numericClaim(claims, "iat"); err != nil {
		return nil, invalidToken(err.Error())
	} else if ok && iat.After(now.Add(leeway)) {
		return nil, invalidToken("iat " + iat.Format(time.RFC3339) + " is in the future")
	}
	switch aud := claims["aud"].(type) {
	case string:
		t.audience = []string{aud}
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok {
				t.audience = append(t.audience, s)
			}
		}
	}
	for _, a := range t.audience {
		for _, c := range p.ClientIDs {
			if a == c && t.matchedAudience == "" {
				t.matchedAudience = a
			}
		}
	}
	if t.matchedAudience == "" {
		return nil, stsErr("InvalidIdentityToken", "Incorrect token audience").
			Because(fmt.Sprintf("aud mismatch: got %v, want one of %v", t.audience, p.ClientIDs))
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, invalidToken("sub claim missing or empty")
	}
	t.subject = sub
	return t, nil
}

// key returns the verification key for kid, fetching the JWKS when it is
// missing, stale, or does not know kid (at most once per minRefetch).
func (s *keySource) key(ctx context.Context, kid string, now time.Time, observe func(string, error)) (*jose.JSONWebKey, error) {
	s.mu.Lock()
	keys, fetched, attempted := s.keys, s.fetchedAt, s.lastAttempt
	s.mu.Unlock()
	if k := lookupKey(keys, kid); k != nil && now.Sub(fetched) < jwksTTL {
		return k, nil
	}
	if keys == nil || now.Sub(attempted) >= minRefetch || now.Sub(fetched) >= jwksTTL {
		// singleflight: concurrent callers share one fetch; the lock is
		// not held while it runs.
		_, err, _ := s.group.Do("jwks", func() (any, error) {
			s.mu.Lock()
			s.lastAttempt = now
			s.mu.Unlock()
			set, err := s.fetch(ctx)
			if observe != nil {
				observe(s.p.URL, err)
			}
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			s.keys, s.fetchedAt = set, now
			s.mu.Unlock()
			return nil, nil
		})
		s.mu.Lock()
		keys = s.keys
		s.mu.Unlock()
		if err != nil && lookupKey(keys, kid) == nil {
			return nil, stsErr("IDPCommunicationError", "The identity provider could not be reached. Try again later.").
				Because("fetching keys of " + s.p.URL + ": " + err.Error())
		}
	}
	if k := lookupKey(keys, kid); k != nil {
		return k, nil
	}
	return nil, invalidToken(fmt.Sprintf("kid %s not in JWKS of %s", quote(kid), s.p.URL))
}

func lookupKey(set *jose.JSONWebKeySet, kid string) *jose.JSONWebKey {
	if set == nil {
		return nil
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if (k.KeyID == kid || (kid == "" && len(set.Keys) == 1)) && k.Use != "enc" && k.IsPublic() {
			return k
		}
	}
	return nil
}

func (s *keySource) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	s.mu.Lock()
	jwksURL := s.jwksURL
	s.mu.Unlock()
	if jwksURL == "" {
		var disc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := s.getJSON(ctx, strings.TrimSuffix(s.p.URL, "/")+"/.well-known/openid-configuration", &disc); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if disc.Issuer != s.p.URL {
			return nil, fmt.Errorf("discovery: issuer %q does not match provider %q", disc.Issuer, s.p.URL)
		}
		if disc.JWKSURI == "" {
			return nil, errors.New("discovery: no jwks_uri")
		}
		jwksURL = disc.JWKSURI
		s.mu.Lock()
		s.jwksURL = jwksURL
		s.mu.Unlock()
	}
	var set jose.JSONWebKeySet
	if err := s.getJSON(ctx, jwksURL, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return &set, nil
}

func (s *keySource) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("GET %s: response over %d bytes", url, maxJWKSBytes)
	}
	return json.Unmarshal(body, v)
}

var _ = s3err.New
