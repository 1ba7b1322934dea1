// Package hydra runs cairn against Ory Hydra v2.3.0, a real OpenID Connect
// provider built from the Go module proxy (see test/hydra/tool): Hydra's
// client-credentials JWT access tokens and its ID tokens go through
// AssumeRoleWithWebIdentity into S3 calls.
package hydra

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cairn-io/cairn/internal/testserver"
)

var ctx = context.Background()

// hydraBinary builds Hydra once per machine into the user cache dir.
func hydraBinary(t *testing.T) string {
	if p := os.Getenv("CAIRN_HYDRA_BIN"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "cairn-test", "hydra-v2.3.0")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	_, file, _, _ := runtime.Caller(0)
	tool := filepath.Join(filepath.Dir(file), "tool")
	t.Logf("building Hydra v2.3.0 into %s (a few minutes when cold)", bin)
	cmd := exec.Command("go", "build", "-tags", "sqlite,sqlite_omit_load_extension", "-o", bin+".tmp", "github.com/ory/hydra/v2")
	cmd.Dir = tool
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building hydra: %v\n%s", err, out)
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type hydra struct {
	bin, dir, public, admin string
	pub, adm                int
	cmd                     *exec.Cmd
}

func (h *hydra) start(t *testing.T) {
	cfg := fmt.Sprintf(`serve:
  public: {port: %d, host: 127.0.0.1}
  admin: {port: %d, host: 127.0.0.1}
urls:
  self: {issuer: %s}
  login: http://127.0.0.1:9/login
  consent: http://127.0.0.1:9/consent
secrets:
  system: [cairn-test-system-secret-0123456789abcdef]
strategies:
  access_token: jwt
ttl: {access_token: 1h, id_token: 1h}
log: {level: error}
`, h.pub, h.adm, h.public)
	path := filepath.Join(h.dir, "hydra.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command(h.bin, "serve", "all", "--dev", "--config", path)
	h.cmd.Env = append(os.Environ(), "DSN=memory")
	logf, _ := os.Create(filepath.Join(h.dir, "hydra.log"))
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.public + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(h.dir, "hydra.log"))
			t.Fatalf("hydra did not start: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// In-memory storage forgets clients on restart: import them each time.
	clients := `[{"client_id":"system:serviceaccount:apps:uploader","client_secret":"uploader-secret-0123","grant_types":["client_credentials"],
	  "response_types":["token"],"scope":"","audience":["cairn-sts"],"token_endpoint_auth_method":"client_secret_basic"},
	 {"client_id":"cairn-web","client_secret":"web-secret-0123456789","grant_types":["authorization_code","refresh_token"],"response_types":["code"],
	  "scope":"openid offline email","redirect_uris":["http://127.0.0.1:9/callback"],"token_endpoint_auth_method":"client_secret_basic"}]`
	cf := filepath.Join(h.dir, "clients.json")
	os.WriteFile(cf, []byte(clients), 0o600)
	if out, err := exec.Command(h.bin, "import", "oauth2-client", cf, "--endpoint", h.admin).CombinedOutput(); err != nil {
		t.Fatalf("import clients: %v\n%s", err, out)
	}
}

func (h *hydra) stop() {
	if h.cmd != nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
		h.cmd = nil
	}
}

// accessToken is a client-credentials JWT access token.
func (h *hydra) accessToken(t *testing.T) string {
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {"cairn-sts"}}
	req, _ := http.NewRequest("POST", h.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape("system:serviceaccount:apps:uploader"), "uploader-secret-0123")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	doJSON(t, req, &out)
	return out.AccessToken
}

func doJSON(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// idToken runs the authorization-code flow for user alice, accepting the
// login and consent through the admin API (no browser).
func (h *hydra) idToken(t *testing.T) string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := func(u string) *url.URL {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: %d without redirect", u, resp.StatusCode)
		}
		return loc
	}
	accept := func(kind, challenge string, body string) string {
		t.Helper()
		req, _ := http.NewRequest("PUT", h.admin+"/admin/oauth2/auth/requests/"+kind+"/accept?"+kind+"_challenge="+url.QueryEscape(challenge), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		doJSON(t, req, &out)
		return out.RedirectTo
	}
	q := url.Values{"client_id": {"cairn-web"}, "response_type": {"code"}, "scope": {"openid offline email"}, "state": {"state-12345678"},
		"nonce": {"nonce-12345678"}, "redirect_uri": {"http://127.0.0.1:9/callback"}}
	loc := redirect(h.public + "/oauth2/auth?" + q.Encode())
	next := accept("login", loc.Query().Get("login_challenge"), `{"subject":"alice"}`)
	loc = redirect(next)
	next = accept("consent", loc.Query().Get("consent_challenge"),
		`{"grant_scope":["openid","offline","email"],"session":{"id_token":{"email":"alice@example.com","groups":["storage-admins","dev"]}}}`)
	loc = redirect(next)
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:9/callback"}}
	req, _ := http.NewRequest("POST", h.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cairn-web", "web-secret-0123456789")
	var out struct {
		IDToken string `json:"id_token"`
	}
	doJSON(t, req, &out)
	return out.IDToken
}

func TestHydraTokensIntoS3(t *testing.T) {
	h := &hydra{bin: hydraBinary(t), dir: t.TempDir(), pub: freePort(t), adm: freePort(t)}
	h.public = fmt.Sprintf("http://127.0.0.1:%d", h.pub)
	h.admin = fmt.Sprintf("http://127.0.0.1:%d", h.adm)
	h.start(t)
	defer h.stop()
	host := strings.TrimPrefix(h.public, "http://")
	cfg := fmt.Sprintf(`
oidc_providers:
  - url: %[1]s
    client_ids: [cairn-sts, cairn-web]
    allow_http: true
roles:
  - name: workload
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: "arn:aws:iam::000000000000:oidc-provider/%[2]s"},
      Action: sts:AssumeRoleWithWebIdentity, Condition: {StringEquals: {"%[2]s:aud": cairn-sts, "%[2]s:sub": "system:serviceaccount:apps:uploader"}}}]}
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["s3:PutObject", "s3:GetObject"], Resource: "arn:aws:s3:::hydra/apps/*"}]}
  - name: people
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Federated: "arn:aws:iam::000000000000:oidc-provider/%[2]s"},
      Action: sts:AssumeRoleWithWebIdentity, Condition: {StringEquals: {"%[2]s:aud": cairn-web}, "ForAnyValue:StringEquals": {"%[2]s:groups": storage-admins}}}]}
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["s3:PutObject", "s3:GetObject"], Resource: "arn:aws:s3:::hydra/people/${%[2]s:sub}/*"}]}
`, h.public, host)
	srv := testserver.Start(t, testserver.Options{NoSync: true, Config: cfg})
	_, err := srv.Client(true).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("hydra")})
	if err != nil {
		t.Fatal(err)
	}
	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTPClient(), RetryMaxAttempts: 1})
	use := func(t *testing.T, role, token, key string) {
		t.Helper()
		out, err := stsc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/" + role),
			RoleSessionName: aws.String("hydra-" + role), WebIdentityToken: aws.String(token)})
		if err != nil {
			t.Fatalf("AssumeRoleWithWebIdentity(%s): %v", role, err)
		}
		c := srv.ClientWithToken(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken, true)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hydra"), Key: aws.String(key), Body: strings.NewReader("from hydra")}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("hydra"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(get.Body); string(b) != "from hydra" {
			t.Fatalf("got %q", b)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hydra"), Key: aws.String("elsewhere"), Body: strings.NewReader("x")}); err == nil {
			t.Fatal("session wrote outside its policy")
		}
	}
	// A client-credentials JWT access token (aud is an array).
	use(t, "workload", h.accessToken(t), "apps/one")
	// An ID token of a user with groups.
	use(t, "people", h.idToken(t), "people/alice/notes.txt")
	// The ID token cannot take the workload role.
	_, err = stsc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/workload"),
		RoleSessionName: aws.String("nope"), WebIdentityToken: aws.String(h.idToken(t))})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("ID token on workload role: %v", err)
	}
	// Hydra makes a new signing key on every start: cairn picks it up on
	// the unknown kid (after its refetch floor).
	h.stop()
	h.start(t)
	time.Sleep(10*time.Second + 200*time.Millisecond)
	use(t, "workload", h.accessToken(t), "apps/two")
}
