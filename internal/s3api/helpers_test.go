package s3api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cairn-io/cairn/internal/testserver"
)

var ctx = context.Background()

// must and wantErr are the shared test assertions, under short names.
var must, wantErr = testserver.Must, testserver.WantErr

// rawResponse is a response read whole.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorCode is the <Code> of an S3 error body.
func (r rawResponse) errorCode() string {
	var e struct{ Code string }
	xml.Unmarshal(r.Body, &e)
	return e.Code
}

// signAt, when set, is the signing time of do's requests.
var signAt time.Time

// do sends a request signed with root credentials by the SDK signer;
// sign=false sends it anonymous. mut runs after signing (to tamper).
func do(t *testing.T, s *testserver.Server, method, path string, body []byte, hdr map[string]string, sign bool, mut func(*http.Request)) rawResponse {
	t.Helper()
	r, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if sign {
		sum := sha256.Sum256(body)
		ph := hex.EncodeToString(sum[:])
		if v, ok := hdr["X-Amz-Content-Sha256"]; ok {
			ph = v
		}
		r.Header.Set("X-Amz-Content-Sha256", ph)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		creds := aws.Credentials{AccessKeyID: testserver.RootAccessKey, SecretAccessKey: testserver.RootSecretKey}
		at := signAt
		if at.IsZero() {
			at = time.Now()
		}
		if err := signer.SignHTTP(ctx, creds, r, ph, "s3", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}
	if mut != nil {
		mut(r)
	}
	resp, err := s.HTTPClient().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// wantRaw asserts the status and error code of a raw response.
func wantRaw(t *testing.T, r rawResponse, status int, code string) {
	t.Helper()
	if r.Status != status || r.errorCode() != code {
		t.Fatalf("want %d %s, got %d %s: %s", status, code, r.Status, r.errorCode(), r.Body)
	}
	if code != "" && r.Header.Get("X-Amz-Request-Id") == "" {
		t.Fatalf("error response without x-amz-request-id")
	}
	if code != "" && !strings.Contains(string(r.Body), "<RequestId>") {
		t.Fatalf("error body without RequestId: %s", r.Body)
	}
}

func readAll(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func signingKey(secret string, at time.Time) []byte {
	k := hmacRaw([]byte("AWS4"+secret), at.UTC().Format("20060102"))
	k = hmacRaw(k, "us-east-1")
	k = hmacRaw(k, "s3")
	return hmacRaw(k, "aws4_request")
}

func hmacRaw(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hmacHex(key []byte, msg string) string { return hex.EncodeToString(hmacRaw(key, msg)) }

// doAs sends a request signed with the given static credentials.
func doAs(t *testing.T, s *testserver.Server, ak, sk, method, path string, hdr map[string]string) rawResponse {
	t.Helper()
	r, _ := http.NewRequest(method, s.URL+path, nil)
	for k, v := range hdr {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
	r.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := s.HTTPClient().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, b}
}
