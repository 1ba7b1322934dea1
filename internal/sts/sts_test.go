package sts_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/cairn-io/cairn/internal/oidctest"
	"github.com/cairn-io/cairn/internal/testserver"
)

var ctx = context.Background()

const aud = "sts.amazonaws.com"

// config gives the issuer's provider, a role for its "repo:octo/*"
// subjects limited to their home prefix, a role with a strict sub, and a
// user who may assume a role.
func config(iss *oidctest.Issuer) string {
	host := strings.TrimPrefix(iss.URL, "https://")
	return fmt.Sprintf(`
oidc_providers:
  - url: %[1]s
    client_ids: [%[3]s, other-client]
    ca_file: %[2]s
policies:
  - name: read-all
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["s3:GetObject", "s3:ListBucket"], Resource: "*"}]}
roles:
  - name: ci
    max_session_duration: 2h
    trust_policy: |
      {"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/%[4]s"},
        "Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],
        "Condition":{"StringEquals":{"%[4]s:aud":"%[3]s"},"StringLike":{"%[4]s:sub":"repo:octo/*"}}}]}
    policies:
      - Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: ["s3:PutObject", "s3:GetObject"], Resource: "arn:aws:s3:::work/home/${%[4]s:sub}/*"}
          - {Effect: Allow, Action: "s3:ListBucket", Resource: "arn:aws:s3:::work", Condition: {StringLike: {"s3:prefix": "home/${%[4]s:sub}/*"}}}
          - {Effect: Allow, Action: ["s3:CreateMultipartUpload", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], Resource: "arn:aws:s3:::work/home/${%[4]s:sub}/*"}
  - name: groups
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: "arn:aws:iam::000000000000:oidc-provider/%[4]s"}
          Action: sts:AssumeRoleWithWebIdentity
          Condition: {"ForAnyValue:StringEquals": {"%[4]s:groups": ["storage-admins"]}}
    managed_policies: [read-all]
  - name: deployer
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::000000000000:user/alice"}, Action: ["sts:AssumeRole", "sts:TagSession"]}]}
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}, {Effect: Allow, Action: "sts:AssumeRole", Resource: "*"}]}
  - name: chained
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::000000000000:role/deployer"}, Action: "sts:AssumeRole"}]}
    max_session_duration: 4h
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}
users:
  - name: alice
    access_key: AKIAALICE00000000000
    secret_key: alice-secret-000000000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:ListAllMyBuckets", Resource: "*"}]}
`, iss.URL, iss.CAFile, aud, host)
}

type env struct {
	srv *testserver.Server
	iss *oidctest.Issuer
	rsa *oidctest.Key
	sts *sts.Client
}

func setup(t *testing.T, opts testserver.Options) *env {
	iss := oidctest.New(t.TempDir())
	t.Cleanup(iss.Close)
	k := iss.AddKey("rsa-1", jose.RS256)
	iss.AddKey("ec-1", jose.ES256)
	iss.AddKey("ed-1", jose.EdDSA)
	opts.Config = config(iss)
	opts.NoSync = true
	srv := testserver.Start(t, opts)
	e := &env{srv: srv, iss: iss, rsa: k, sts: stsClient(srv, "", "", "")}
	_, err := srv.Client(true).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("work")})
	must(t, err)
	return e
}

func stsClient(srv *testserver.Server, ak, sk, tok string) *sts.Client {
	o := sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTPClient(), RetryMaxAttempts: 1}
	if ak != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, tok)
	}
	return sts.New(o)
}

// must and wantErr are the shared test assertions, under short names.
var must, wantErr = testserver.Must, testserver.WantErr

func (e *env) assume(t *testing.T, role, token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/" + role), RoleSessionName: aws.String("test-session"), WebIdentityToken: aws.String(token)})
}

func TestAssumeRoleWithWebIdentityAndS3(t *testing.T) {
	e := setup(t, testserver.Options{})
	sub := "repo:octo/demo:ref:refs/heads/main"
	for _, kid := range []string{"rsa-1", "ec-1", "ed-1"} {
		claims := e.iss.Claims(sub, []any{"some-other", aud})
		out, err := e.assume(t, "ci", oidctest.Sign(e.iss.Key(kid), claims)+"\n") // SDKs send the file's newline
		if err != nil {
			t.Fatalf("%s: %v", kid, err)
		}
		c := out.Credentials
		if !strings.HasPrefix(*c.AccessKeyId, "ASIA") || len(*c.AccessKeyId) != 20 || len(*c.SecretAccessKey) != 40 {
			t.Fatalf("credential shapes: %q %d", *c.AccessKeyId, len(*c.SecretAccessKey))
		}
		if d := time.Until(*c.Expiration); d < 59*time.Minute || d > 61*time.Minute {
			t.Fatalf("default duration: expires in %v", d)
		}
		if *out.AssumedRoleUser.Arn != "arn:aws:sts::000000000000:assumed-role/ci/test-session" || !strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":test-session") ||
			!strings.HasPrefix(*out.AssumedRoleUser.AssumedRoleId, "AROA") || *out.SubjectFromWebIdentityToken != sub || *out.Provider != e.iss.URL || *out.Audience != aud {
			t.Fatalf("response: %+v %+v", out, out.AssumedRoleUser)
		}
		if strings.Contains(*c.SessionToken, *c.SecretAccessKey) {
			t.Fatal("session token reveals the secret")
		}
	}
	out, err := e.assume(t, "ci", oidctest.Sign(e.rsa, e.iss.Claims(sub, aud)))
	must(t, err)
	c := out.Credentials
	s3c := e.srv.ClientWithToken(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken, false)
	home := "home/" + sub + "/"
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "a.txt"), Body: strings.NewReader("mine")})
	must(t, err)
	get, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "a.txt")})
	must(t, err)
	if b, _ := io.ReadAll(get.Body); string(b) != "mine" {
		t.Fatalf("got %q", b)
	}
	l, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("work"), Prefix: aws.String(home)})
	must(t, err)
	if len(l.Contents) != 1 {
		t.Fatalf("listed %d", len(l.Contents))
	}
	// Outside the home prefix: denied.
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String("home/repo:octo/other/x"), Body: strings.NewReader("x")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("work")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, err, "AccessDenied", 403)
	// GetCallerIdentity with the session.
	who, err := stsClient(e.srv, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *who.Arn != "arn:aws:sts::000000000000:assumed-role/ci/test-session" || *who.Account != "000000000000" || *who.UserId != *out.AssumedRoleUser.AssumedRoleId {
		t.Fatalf("caller identity %+v", who)
	}
	// A presigned GET carries the token in the query, fetched by plain HTTP.
	ps := s3.NewPresignClient(e.srv.ClientWithToken(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken, true))
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "a.txt")})
	must(t, err)
	if !strings.Contains(req.URL, "X-Amz-Security-Token=") {
		t.Fatal("presigned URL without token")
	}
	resp, err := http.Get(req.URL)
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "mine" {
		t.Fatalf("presigned: %d %s", resp.StatusCode, b)
	}
}

func TestWebIdentityNegative(t *testing.T) {
	e := setup(t, testserver.Options{})
	sub := "repo:octo/demo"
	good := func() map[string]any { return e.iss.Claims(sub, aud) }
	with := func(k string, v any) map[string]any { c := good(); c[k] = v; return c }
	without := func(k string) map[string]any { c := good(); delete(c, k); return c }
	b64 := func(v any) string { j, _ := jsonMarshal(v); return base64.RawURLEncoding.EncodeToString(j) }
	pub := e.rsa.Private.Public()
	hs := hs256WithKey(t, pub, good(), "rsa-1")

	cases := []struct {
		name, role, token string
		session           string
		duration          int32
		policy            string
		code              string
		status            int
	}{
		{name: "alg none", token: b64(map[string]any{"alg": "none", "kid": "rsa-1"}) + "." + b64(good()) + ".", code: "InvalidIdentityToken", status: 400},
		{name: "HS256 with the RSA public key as secret", token: hs, code: "InvalidIdentityToken", status: 400},
		{name: "unknown kid", token: oidctest.Sign(oidctest.NewUnpublishedKey("nope"), good()), code: "InvalidIdentityToken", status: 400},
		{name: "key not in JWKS under a known kid", token: oidctest.Sign(oidctest.NewUnpublishedKey("rsa-1"), good()), code: "InvalidIdentityToken", status: 400},
		{name: "wrong iss", token: oidctest.Sign(e.rsa, with("iss", "https://evil.example")), code: "InvalidIdentityToken", status: 400},
		{name: "wrong aud", token: oidctest.Sign(e.rsa, with("aud", "someone-else")), code: "InvalidIdentityToken", status: 400},
		{name: "expired", token: oidctest.Sign(e.rsa, with("exp", time.Now().Add(-10*time.Minute).Unix())), code: "ExpiredTokenException", status: 400},
		{name: "nbf in the future", token: oidctest.Sign(e.rsa, with("nbf", time.Now().Add(10*time.Minute).Unix())), code: "InvalidIdentityToken", status: 400},
		{name: "iat in the future", token: oidctest.Sign(e.rsa, with("iat", time.Now().Add(10*time.Minute).Unix())), code: "InvalidIdentityToken", status: 400},
		{name: "missing sub", token: oidctest.Sign(e.rsa, without("sub")), code: "InvalidIdentityToken", status: 400},
		{name: "missing exp", token: oidctest.Sign(e.rsa, without("exp")), code: "InvalidIdentityToken", status: 400},
		{name: "malformed JWT", token: "not.a.jwt", code: "InvalidIdentityToken", status: 400},
		{name: "tampered payload", token: tamper(oidctest.Sign(e.rsa, good())), code: "InvalidIdentityToken", status: 400},
		{name: "oversized JWT", token: oidctest.Sign(e.rsa, with("pad", strings.Repeat("x", 20000))), code: "ValidationError", status: 400},
		{name: "trust condition mismatch", token: oidctest.Sign(e.rsa, with("sub", "repo:evil/demo")), code: "AccessDenied", status: 403},
		{name: "trust needs group", role: "groups", token: oidctest.Sign(e.rsa, with("groups", []any{"dev"})), code: "AccessDenied", status: 403},
		{name: "unknown role", role: "nope", token: oidctest.Sign(e.rsa, good()), code: "AccessDenied", status: 403},
		{name: "duration too short", token: oidctest.Sign(e.rsa, good()), duration: 100, code: "ValidationError", status: 400},
		{name: "duration over role max", token: oidctest.Sign(e.rsa, good()), duration: 3 * 3600, code: "ValidationError", status: 400},
		{name: "bad session name", token: oidctest.Sign(e.rsa, good()), session: "has space", code: "ValidationError", status: 400},
		{name: "session name too short", token: oidctest.Sign(e.rsa, good()), session: "a", code: "ValidationError", status: 400},
		{name: "malformed session policy", token: oidctest.Sign(e.rsa, good()), policy: `{"Statement":[{"Effect":"Maybe"}]}`, code: "MalformedPolicyDocument", status: 400},
		{name: "unknown condition operator in session policy", token: oidctest.Sign(e.rsa, good()), policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringFuzzy":{"a:b":"c"}}}]}`, code: "MalformedPolicyDocument", status: 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			role := c.role
			if role == "" {
				role = "ci"
			}
			in := &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/" + role), RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(c.token)}
			if c.session != "" {
				in.RoleSessionName = aws.String(c.session)
			}
			if c.duration != 0 {
				in.DurationSeconds = aws.Int32(c.duration)
			}
			if c.policy != "" {
				in.Policy = aws.String(c.policy)
			}
			_, err := e.sts.AssumeRoleWithWebIdentity(ctx, in)
			wantErr(t, err, c.code, c.status)
		})
	}
	// The group role works with the right group, and a longer duration
	// within the role's maximum is honoured.
	out, err := e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("long"), WebIdentityToken: aws.String(oidctest.Sign(e.rsa, good())), DurationSeconds: aws.Int32(7200)})
	must(t, err)
	if d := time.Until(*out.Credentials.Expiration); d < 119*time.Minute {
		t.Fatalf("duration 7200 gave %v", d)
	}
	_, err = e.assume(t, "groups", oidctest.Sign(e.rsa, with("groups", []any{"dev", "storage-admins"})))
	must(t, err)
}

func TestIDPUnreachableAndJWKSFlood(t *testing.T) {
	e := setup(t, testserver.Options{})
	e.iss.Down.Store(true)
	_, err := e.assume(t, "ci", oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/x", aud)))
	wantErr(t, err, "IDPCommunicationError", 400)
	e.iss.Down.Store(false)
	// Wait out the refetch floor left by the failed attempt.
	time.Sleep(10*time.Second + 100*time.Millisecond)
	_, err = e.assume(t, "ci", oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/x", aud)))
	must(t, err)
	before := e.iss.JWKSFetches.Load()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := e.assume(t, "ci", oidctest.Sign(oidctest.NewUnpublishedKey(fmt.Sprint("flood-", i)), e.iss.Claims("repo:octo/x", aud)))
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidIdentityToken" {
				t.Errorf("flood token %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if n := e.iss.JWKSFetches.Load() - before; n > 1 {
		t.Fatalf("100 unknown-kid tokens caused %d JWKS fetches, want at most 1", n)
	}
}

func TestKeyRotationAtTheIssuer(t *testing.T) {
	e := setup(t, testserver.Options{})
	_, err := e.assume(t, "ci", oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/x", aud)))
	must(t, err)
	// The issuer rotates: a new kid appears; cairn refetches on the
	// unknown kid (after the refetch floor).
	time.Sleep(10*time.Second + 100*time.Millisecond)
	k2 := e.iss.AddKey("rsa-2", jose.RS256)
	_, err = e.assume(t, "ci", oidctest.Sign(k2, e.iss.Claims("repo:octo/x", aud)))
	must(t, err)
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), "repo:octo/demo", "repo:octo/dem0", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}
