// Package oidctest is an OpenID Connect issuer for tests: discovery and
// JWKS over real HTTPS on loopback, several keys and algorithms, key
// rotation, and token minting (including deliberately broken tokens).
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer.
type Issuer struct {
	URL    string
	CAFile string // PEM of the server's certificate, for ca_file
	srv    *httptest.Server

	mu        sync.Mutex
	keys      map[string]*Key
	published []string // kids in the JWKS

	// JWKSFetches counts GETs of the JWKS.
	JWKSFetches atomic.Int32
	// Down makes discovery and JWKS answer 503.
	Down atomic.Bool
}

// Key is a signing key.
type Key struct {
	ID      string
	Alg     jose.SignatureAlgorithm
	Private crypto.Signer
}

// New starts an issuer over TLS. dir receives the CA file.
func New(dir string) *Issuer {
	i := &Issuer{keys: map[string]*Key{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if i.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"issuer": i.URL, "jwks_uri": i.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		i.JWKSFetches.Add(1)
		if i.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(i.JWKS())
	})
	i.srv = httptest.NewTLSServer(mux)
	i.URL = i.srv.URL
	i.CAFile = filepath.Join(dir, "issuer-ca.pem")
	os.WriteFile(i.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.srv.Certificate().Raw}), 0o600)
	return i
}

// Close stops the issuer.
func (i *Issuer) Close() { i.srv.Close() }

// AddKey creates and publishes a key.
func (i *Issuer) AddKey(kid string, alg jose.SignatureAlgorithm) *Key {
	var priv crypto.Signer
	switch alg {
	case jose.ES256:
		priv, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		priv, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.EdDSA:
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
	default:
		priv, _ = rsa.GenerateKey(rand.Reader, 2048)
	}
	k := &Key{ID: kid, Alg: alg, Private: priv}
	i.mu.Lock()
	i.keys[kid] = k
	i.published = append(i.published, kid)
	i.mu.Unlock()
	return k
}

// NewUnpublishedKey makes a key that the JWKS does not list.
func NewUnpublishedKey(kid string) *Key {
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	return &Key{ID: kid, Alg: jose.RS256, Private: priv}
}

// Unpublish removes a key from the JWKS (rotation).
func (i *Issuer) Unpublish(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, k := range i.published {
		if k == kid {
			i.published = append(i.published[:n], i.published[n+1:]...)
			return
		}
	}
}

// Key returns a key by id.
func (i *Issuer) Key(kid string) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[kid]
}

// JWKS is the published key set.
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	i.mu.Lock()
	defer i.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, kid := range i.published {
		k := i.keys[kid]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Private.Public(), KeyID: kid, Algorithm: string(k.Alg), Use: "sig"})
	}
	return set
}

// Claims returns standard claims for sub and aud, valid for an hour.
func (i *Issuer) Claims(sub string, aud any) map[string]any {
	now := time.Now()
	return map[string]any{"iss": i.URL, "sub": sub, "aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "t-" + sub}
}

// Sign signs claims with key k.
func Sign(k *Key, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.ID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}}, opts)
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}
