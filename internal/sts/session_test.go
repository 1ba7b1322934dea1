package sts_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	jose "github.com/go-jose/go-jose/v4"

	cairnconfig "github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/oidctest"
	cairnsts "github.com/cairn-io/cairn/internal/sts"
	"github.com/cairn-io/cairn/internal/testserver"
)

// clock is a server clock the test can move.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func (e *env) session(t *testing.T, duration int32) (ak, sk, tok string) {
	t.Helper()
	in := &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"), RoleSessionName: aws.String("s3-session"),
		WebIdentityToken: aws.String(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud)))}
	if duration > 0 {
		in.DurationSeconds = aws.Int32(duration)
	}
	out, err := e.sts.AssumeRoleWithWebIdentity(ctx, in)
	must(t, err)
	return *out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken
}

// sessionB is session for benchmarks.
func (e *env) sessionB(b *testing.B) (ak, sk, tok string) {
	out, err := e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("bench"), WebIdentityToken: aws.String(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud)))})
	if err != nil {
		b.Fatal(err)
	}
	return *out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken
}

const homeKey = "home/repo:octo/demo/file"

func TestSessionTokenFailuresOnS3(t *testing.T) {
	clk := &clock{}
	e := setup(t, testserver.Options{Now: clk.now})
	ak, sk, tok := e.session(t, 900)
	ok := e.srv.ClientWithToken(ak, sk, tok, true)
	_, err := ok.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey), Body: strings.NewReader("x")})
	must(t, err)
	if len(tok) > 4096 {
		t.Fatalf("token is %d bytes", len(tok))
	}

	// Any changed character anywhere in the token, including every
	// value of the last one (whose low bits base64 leaves unused).
	variants := []string{}
	for _, pos := range []int{0, 1, 2, 5, len(tok) / 2, len(tok) - 2} {
		b := []byte(tok)
		if b[pos] == 'A' {
			b[pos] = 'B'
		} else {
			b[pos] = 'A'
		}
		variants = append(variants, string(b))
	}
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		if byte(c) != tok[len(tok)-1] {
			variants = append(variants, tok[:len(tok)-1]+string(c))
		}
	}
	for _, v := range variants {
		b := []byte(v)
		_, err = e.srv.ClientWithToken(ak, sk, string(b), true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
		wantErr(t, err, "InvalidToken", 400)
	}
	// The token of another session with this session's key and secret.
	ak2, _, tok2 := e.session(t, 900)
	if ak2 == ak {
		t.Fatal("two sessions got one access key")
	}
	_, err = e.srv.ClientWithToken(ak, sk, tok2, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "InvalidToken", 400)
	// An ASIA key without its token.
	_, err = e.srv.ClientWithToken(ak, sk, "", true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "InvalidAccessKeyId", 403)
	// The right token with a wrong secret.
	_, err = e.srv.ClientWithToken(ak, strings.Repeat("x", 40), tok, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	// A token sealed by another server's key ring.
	other := setup(t, testserver.Options{})
	oak, osk, otok := other.session(t, 900)
	_, err = e.srv.ClientWithToken(oak, osk, otok, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "InvalidToken", 400)

	// A presigned URL made while the session is valid.
	ps := s3.NewPresignClient(ok)
	pre, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)}, s3.WithPresignExpires(time.Hour))
	must(t, err)
	resp, err := http.Get(pre.URL)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned before expiry: %d", resp.StatusCode)
	}
	// After the session expires: ExpiredToken, by header and by presigned
	// URL (whose own lifetime would still allow it).
	clk.advance(16 * time.Minute)
	_, err = ok.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "ExpiredToken", 400)
	resp, err = http.Get(pre.URL)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>ExpiredToken</Code>") {
		t.Fatalf("presigned after expiry: %d %s", resp.StatusCode, body)
	}
	// STS itself answers an expired session with ExpiredToken.
	_, err = stsClient(e.srv, ak, sk, tok).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "ExpiredToken", 403)
}

func TestSessionPolicyIntersection(t *testing.T) {
	e := setup(t, testserver.Options{})
	out, err := e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("ro"), WebIdentityToken: aws.String(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud))),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::work/home/repo:octo/demo/public/*"}]}`)})
	must(t, err)
	if out.PackedPolicySize == nil || *out.PackedPolicySize <= 0 {
		t.Fatal("PackedPolicySize missing")
	}
	c := e.srv.ClientWithToken(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken, true)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String("home/repo:octo/demo/public/x"), Body: strings.NewReader("x")})
	must(t, err)
	// The role allows this key, the session policy does not.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String("home/repo:octo/demo/private/x"), Body: strings.NewReader("x")})
	wantErr(t, err, "AccessDenied", 403)
	// The session policy cannot widen the role: ListBuckets stays denied.
	out, err = e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("wide"), WebIdentityToken: aws.String(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud))),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	must(t, err)
	c = e.srv.ClientWithToken(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken, true)
	_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, err, "AccessDenied", 403)
	// A 2048-character session policy still gives a token under 4 KB.
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":[`
	for len(big) < 1990 {
		big += `"arn:aws:s3:::work/p` + strings.Repeat("x", 20) + `/*",`
	}
	big = strings.TrimSuffix(big, ",") + `]}]}`
	out, err = e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("big"), WebIdentityToken: aws.String(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud))), Policy: aws.String(big)})
	must(t, err)
	if n := len(*out.Credentials.SessionToken); n > 4096 {
		t.Fatalf("token with a %d-byte session policy is %d bytes", len(big), n)
	}
	_, err = e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("big"), WebIdentityToken: aws.String(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud))),
		PolicyArns: []types.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::000000000000:policy/read-all")}}, Policy: aws.String(big)})
	wantErr(t, err, "PackedPolicyTooLarge", 400)
}

func TestAssumeRoleChainingAndSessionTokens(t *testing.T) {
	e := setup(t, testserver.Options{})
	alice := stsClient(e.srv, "AKIAALICE00000000000", "alice-secret-000000000000", "")
	who, err := alice.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *who.Arn != "arn:aws:iam::000000000000:user/alice" || !strings.HasPrefix(*who.UserId, "AIDA") {
		t.Fatalf("alice: %+v", who)
	}
	root := stsClient(e.srv, testserver.RootAccessKey, testserver.RootSecretKey, "")
	who, err = root.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *who.Arn != "arn:aws:iam::000000000000:root" || *who.UserId != "000000000000" {
		t.Fatalf("root: %+v", who)
	}
	_, err = root.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/deployer"), RoleSessionName: aws.String("rr")})
	wantErr(t, err, "AccessDenied", 403)
	out, err := alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/deployer"), RoleSessionName: aws.String("deploy-1"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}}})
	must(t, err)
	if *out.AssumedRoleUser.Arn != "arn:aws:sts::000000000000:assumed-role/deployer/deploy-1" {
		t.Fatalf("assumed %s", *out.AssumedRoleUser.Arn)
	}
	c := out.Credentials
	dep := e.srv.ClientWithToken(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken, true)
	_, err = dep.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err)
	// alice may not assume ci (web identity only).
	_, err = alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"), RoleSessionName: aws.String("xx")})
	wantErr(t, err, "AccessDenied", 403)
	// Role chaining: capped at one hour.
	chain := stsClient(e.srv, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	_, err = chain.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/chained"), RoleSessionName: aws.String("cc"), DurationSeconds: aws.Int32(7200)})
	wantErr(t, err, "ValidationError", 400)
	ch, err := chain.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/chained"), RoleSessionName: aws.String("cc")})
	must(t, err)
	who, err = stsClient(e.srv, *ch.Credentials.AccessKeyId, *ch.Credentials.SecretAccessKey, *ch.Credentials.SessionToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *who.Arn != "arn:aws:sts::000000000000:assumed-role/chained/cc" {
		t.Fatalf("chained: %s", *who.Arn)
	}
	// GetSessionToken: a user's temporary credentials act as the user.
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	must(t, err)
	g := gst.Credentials
	who, err = stsClient(e.srv, *g.AccessKeyId, *g.SecretAccessKey, *g.SessionToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *who.Arn != "arn:aws:iam::000000000000:user/alice" {
		t.Fatalf("session user: %s", *who.Arn)
	}
	_, err = e.srv.ClientWithToken(*g.AccessKeyId, *g.SecretAccessKey, *g.SessionToken, true).ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err)
	_, err = stsClient(e.srv, *g.AccessKeyId, *g.SecretAccessKey, *g.SessionToken).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantErr(t, err, "AccessDenied", 403)
	_, err = stsClient(e.srv, "AKIANOBODY0000000000", "x", "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "InvalidClientTokenId", 403)
	_, err = stsClient(e.srv, "AKIAALICE00000000000", "wrong", "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	_, err = e.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}) // anonymous
	wantErr(t, err, "MissingAuthenticationToken", 403)
}

// Old tokens validate until their key is retired; new tokens use the
// active key.
func TestKeyRingRotation(t *testing.T) {
	dir := t.TempDir()
	e := setup(t, testserver.Options{Dir: dir})
	ak, sk, tok := e.session(t, 0)
	_, err := e.srv.ClientWithToken(ak, sk, tok, true).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey), Body: strings.NewReader("x")})
	must(t, err)
	oldID := e.srv.App.Ring.ActiveID()
	e.srv.Close()

	newID, err := cairnsts.RotateKey(dir)
	must(t, err)
	if newID == oldID {
		t.Fatal("rotation kept the key id")
	}
	srv2 := testserver.Start(t, testserver.Options{Dir: dir, NoSync: true, Config: config(e.iss)})
	if srv2.App.Ring.ActiveID() != newID {
		t.Fatalf("active key %s, want %s", srv2.App.Ring.ActiveID(), newID)
	}
	e.srv, e.sts = srv2, stsClient(srv2, "", "", "")
	_, err = srv2.ClientWithToken(ak, sk, tok, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err) // sealed by the old key, still valid
	ak2, sk2, tok2 := e.session(t, 0)
	srv2.Close()

	must(t, cairnsts.RetireKey(dir, oldID))
	srv3 := testserver.Start(t, testserver.Options{Dir: dir, NoSync: true, Config: config(e.iss)})
	_, err = srv3.ClientWithToken(ak, sk, tok, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "InvalidToken", 400)
	_, err = srv3.ClientWithToken(ak2, sk2, tok2, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
	if fi, err := os.Stat(filepath.Join(dir, "sts-keys.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key ring file mode: %v %v", fi.Mode(), err)
	}
}

// Revoking a role's sessions writes a deny on aws:TokenIssueTime into the
// config; after a reload, older sessions are refused on their next request
// and newer ones work.
func TestRevokeSessionsAndReload(t *testing.T) {
	e := setup(t, testserver.Options{})
	ak, sk, tok := e.session(t, 0)
	c := e.srv.ClientWithToken(ak, sk, tok, true)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey), Body: strings.NewReader("x")})
	must(t, err)
	time.Sleep(1100 * time.Millisecond) // issue times are whole seconds
	must(t, cairnconfig.RevokeRoleSessions(e.srv.ConfigPath, "ci", time.Now().UTC().Truncate(time.Second)))
	// Not yet reloaded: still allowed.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
	must(t, e.srv.App.Reload())
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "AccessDenied", 403)
	time.Sleep(1100 * time.Millisecond)
	ak2, sk2, tok2 := e.session(t, 0)
	_, err = e.srv.ClientWithToken(ak2, sk2, tok2, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
	// A broken file is refused and the running configuration stays.
	must(t, os.WriteFile(e.srv.ConfigPath, []byte("roles: [ {name: broken"), 0o600))
	if err := e.srv.App.Reload(); err == nil {
		t.Fatal("broken config reloaded")
	}
	_, err = e.srv.ClientWithToken(ak2, sk2, tok2, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
}

// syncBuffer is a log sink the server writes to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// No secret and no whole token reaches the log, through successes and
// every kind of failure (the access log is on).
func TestLogsCarryNoSecrets(t *testing.T) {
	logs := &syncBuffer{}
	e := setup(t, testserver.Options{Log: logs})
	jwt := oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud))
	out, err := e.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/ci"),
		RoleSessionName: aws.String("logcheck"), WebIdentityToken: aws.String(jwt)})
	must(t, err)
	ak, sk, tok := *out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken
	c := e.srv.ClientWithToken(ak, sk, tok, true)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey), Body: strings.NewReader("x")})
	must(t, err)
	// Failures: a denied key, a tampered token, a wrong secret, bad web tokens.
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String("elsewhere"), Body: strings.NewReader("x")})
	e.srv.ClientWithToken(ak, sk, tok[:len(tok)-2]+"AA", true).ListBuckets(ctx, &s3.ListBucketsInput{})
	e.srv.ClientWithToken(ak, "wrong-secret-wrong-secret-wrong-secret00", tok, true).ListBuckets(ctx, &s3.ListBucketsInput{})
	e.assume(t, "ci", jwt[:len(jwt)-4]+"AAAA")
	e.assume(t, "nope", jwt)
	alice := stsClient(e.srv, "AKIAALICE00000000000", "alice-secret-000000000000", "")
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	ps := s3.NewPresignClient(c)
	pre, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
	resp, err := http.Get(pre.URL)
	must(t, err)
	resp.Body.Close()
	text := logs.String()
	if !strings.Contains(text, `"msg":"access"`) || !strings.Contains(text, "sts: issued credentials") || !strings.Contains(text, "request failed") {
		t.Fatalf("expected access, audit and failure lines; got:\n%s", text)
	}
	sig := jwt[strings.LastIndex(jwt, ".")+1:]
	for name, secret := range map[string]string{
		"session secret": sk, "session token": tok, "token middle": tok[len(tok)/2 : len(tok)/2+40], "web identity token": jwt,
		"JWT signature": sig, "root secret": testserver.RootSecretKey, "user secret": "alice-secret-000000000000",
		"GetSessionToken secret": *gst.Credentials.SecretAccessKey, "GetSessionToken token": *gst.Credentials.SessionToken,
		"presigned signature": pre.URL[strings.LastIndex(pre.URL, "X-Amz-Signature=")+16:],
	} {
		if strings.Contains(text, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

// The config file is reloaded when it changes, without a signal.
func TestReloadOnFileChange(t *testing.T) {
	e := setup(t, testserver.Options{})
	ak, sk, tok := e.session(t, 0)
	c := e.srv.ClientWithToken(ak, sk, tok, true)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey), Body: strings.NewReader("x")})
	must(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reloaded := make(chan error, 4)
	go e.srv.App.WatchConfig(wctx, 50*time.Millisecond, func(err error) { reloaded <- err })
	time.Sleep(1100 * time.Millisecond)
	must(t, cairnconfig.RevokeRoleSessions(e.srv.ConfigPath, "ci", time.Now().UTC().Truncate(time.Second)))
	select {
	case err := <-reloaded:
		must(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("no reload after the file changed")
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "AccessDenied", 403)
}

// A key ring given in the config reloads with it: a removed key's tokens
// stop validating, new tokens use the new active key.
func TestConfigRingReload(t *testing.T) {
	iss := oidctest.New(t.TempDir())
	defer iss.Close()
	k := iss.AddKey("rsa-1", jose.RS256)
	k1 := "    - {id: one, secret: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) + "}\n"
	k2 := "    - {id: two, secret: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)) + "}\n"
	srv := testserver.Start(t, testserver.Options{NoSync: true, Config: config(iss) + "sts:\n  keys:\n" + k1})
	_, err := srv.Client(true).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("work")})
	must(t, err)
	e := &env{srv: srv, iss: iss, rsa: k, sts: stsClient(srv, "", "", "")}
	ak, sk, tok := e.session(t, 0)
	c := srv.ClientWithToken(ak, sk, tok, true)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey), Body: strings.NewReader("x")})
	must(t, err)
	// Rotate: two first (active), one still accepted.
	must(t, os.WriteFile(srv.ConfigPath, []byte(config(iss)+"sts:\n  keys:\n"+k2+k1), 0o600))
	must(t, srv.App.Reload())
	if srv.App.Ring.ActiveID() != "two" {
		t.Fatalf("active key %s", srv.App.Ring.ActiveID())
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
	ak2, sk2, tok2 := e.session(t, 0)
	// Retire one: its tokens stop validating at once.
	must(t, os.WriteFile(srv.ConfigPath, []byte(config(iss)+"sts:\n  keys:\n"+k2), 0o600))
	must(t, srv.App.Reload())
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	wantErr(t, err, "InvalidToken", 400)
	_, err = srv.ClientWithToken(ak2, sk2, tok2, true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(homeKey)})
	must(t, err)
}
