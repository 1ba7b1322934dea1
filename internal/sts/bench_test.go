package sts_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/oidctest"
	"github.com/cairn-io/cairn/internal/testserver"
)

// BenchmarkAssumeRoleWithWebIdentity posts AssumeRoleWithWebIdentity over
// loopback HTTP (keep-alive) with an RS256 token and a warm JWKS: token
// verification, trust policy, sealing, XML.
func BenchmarkAssumeRoleWithWebIdentity(b *testing.B) {
	iss := oidctest.New(b.TempDir())
	defer iss.Close()
	key := iss.AddKey("rsa-1", "RS256")
	srv := testserver.Start(b, testserver.Options{NoSync: true, Config: config(iss)})
	token := oidctest.Sign(key, iss.Claims("repo:octo/demo", aud))
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::000000000000:role/ci"},
		"RoleSessionName": {"bench"}, "WebIdentityToken": {token}}.Encode()
	client := srv.HTTPClient()
	post := func() {
		resp, err := client.Post(srv.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	post() // warm the JWKS
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post()
		}
	})
}

// BenchmarkResolve compares resolving a long-lived key with resolving a
// session token (cache hit), the per-request cost of temporary credentials.
func BenchmarkResolve(b *testing.B) {
	iss := oidctest.New(b.TempDir())
	defer iss.Close()
	key := iss.AddKey("rsa-1", "RS256")
	srv := testserver.Start(b, testserver.Options{NoSync: true, Config: config(iss)})
	e := &env{srv: srv, iss: iss, rsa: key, sts: stsClient(srv, "", "", "")}
	ak, _, tok := e.sessionB(b)
	r := srv.App.Resolver
	b.Run("static", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := r.Lookup("AKIAALICE00000000000", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := r.Lookup(ak, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
