package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cairn-io/cairn/internal/s3err"
)

const (
	testAK     = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

type staticCreds map[string]string

type secret string

func (s secret) SecretKey() string { return string(s) }

func (c staticCreds) Lookup(ak, _ string) (Identity, error) {
	if s, ok := c[ak]; ok {
		return secret(s), nil
	}
	return nil, s3err.InvalidAccessKeyID
}

func verifierAt(ts string) *Verifier {
	t, _ := time.Parse(TimeFormat, ts)
	return &Verifier{Region: "us-east-1", Credentials: staticCreds{testAK: testSecret}, Now: func() time.Time { return t }}
}

// parseRaw turns raw HTTP/1.1 text into a server-side request, as net/http
// would hand it to a handler (RequestURI, Host, Header).
func parseRaw(t *testing.T, raw string) *http.Request {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n" + body)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func codeOf(err error) string {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprint(err)
}

func TestSigningKeyVector(t *testing.T) {
	got := hex.EncodeToString(SigningKey(testSecret, "20250102", "us-east-1", "s3"))
	if want := "69ae4d1df568313f9ff750ac2fcc446275eab6df6170e989c2375c65a9a9d660"; got != want {
		t.Fatalf("signing key %s, want %s", got, want)
	}
}

// The vectors of ../shared/reference/sigv4.md §9, reproduced there by
// botocore and aws-sdk-go-v2.
func TestReferenceVectorV1SignedPut(t *testing.T) {
	body := "Hello, S3!\n"
	sum := sha256.Sum256([]byte(body))
	ph := hex.EncodeToString(sum[:])
	if ph != "911158d6968f71fdcc5df899b1977bb616b1d24be85cfbb699e9e706f03486c3" {
		t.Fatalf("payload hash %s", ph)
	}
	sig := "7071f19eb8a2ea65f09b0673fb809ac88e44e16be4f1724d9651778135dca3ba"
	raw := "PUT /vec-bucket/photos/2025/summer%20trip/caf%C3%A9%2B1.txt HTTP/1.1\n" +
		"Host: s3.example.test:9000\nContent-Type: text/plain\nContent-Length: 11\n" +
		"x-amz-content-sha256: " + ph + "\nx-amz-date: 20250102T030405Z\nx-amz-meta-note:   two   spaces  \n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=" + testAK + "/20250102/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-note, Signature=" + sig + "\n\n" + body
	r := parseRaw(t, raw)
	res, err := verifierAt("20250102T030405Z").Verify(r, "s3")
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if res.PayloadHash != ph || res.AccessKey != testAK {
		t.Fatalf("result %+v", res)
	}
	// The canonical request matches the reference text byte for byte.
	want := "PUT\n/vec-bucket/photos/2025/summer%20trip/caf%C3%A9%2B1.txt\n\ncontent-type:text/plain\nhost:s3.example.test:9000\n" +
		"x-amz-content-sha256:" + ph + "\nx-amz-date:20250102T030405Z\nx-amz-meta-note:two spaces\n\n" +
		"content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-note\n" + ph
	uri, _ := canonicalURIs(r)
	cr := CanonicalRequest(r.Method, uri, canonicalQuery(r.URL.RawQuery, false), r, strings.Split("content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-note", ";"), ph)
	if string(cr) != want {
		t.Fatalf("canonical request\n%q\nwant\n%q", cr, want)
	}
	if h := sha256.Sum256(cr); hex.EncodeToString(h[:]) != "f35ccaab98ee5707ed43be215c40d4aef2863132addf8f1d2b0c8391181f0fce" {
		t.Fatalf("sha256(CR) differs")
	}
	// The body is verified as it streams.
	b, err := io.ReadAll(NewPayloadVerifier(r.Body, ph))
	if err != nil || string(b) != body {
		t.Fatalf("body %q %v", b, err)
	}
}

func TestReferenceVectorV2ListWithToken(t *testing.T) {
	// The token is not a real session here: the credentials ignore it.
	raw := "GET /vec-bucket?list-type=2&prefix=a%20b%2Fc%2Bd&delimiter=%2F&encoding-type=url&max-keys= HTTP/1.1\n" +
		"Host: s3.example.test:9000\nx-amz-content-sha256: " + EmptySHA256 + "\nx-amz-date: 20250102T030405Z\n" +
		"x-amz-security-token: SESSIONTOKEN/with+chars==\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=" + testAK + "/20250102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=8f45a7b8b34e33582c81f8e9c8e72c8dfb7aa86ce0f3bfb78c08f8fe3df48d18\n\n"
	r := parseRaw(t, raw)
	if q := canonicalQuery(r.URL.RawQuery, false); q != "delimiter=%2F&encoding-type=url&list-type=2&max-keys=&prefix=a%20b%2Fc%2Bd" {
		t.Fatalf("canonical query %q", q)
	}
	res, err := verifierAt("20250102T030405Z").Verify(r, "s3")
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if res.SessionToken != "SESSIONTOKEN/with+chars==" {
		t.Fatalf("token %q", res.SessionToken)
	}
}

func TestReferenceVectorV3Presigned(t *testing.T) {
	raw := "GET /vec-bucket/dir/file%20name.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250102T030405Z&X-Amz-Expires=3600&X-Amz-Security-Token=SESSIONTOKEN%2Fwith%2Bchars%3D%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=bdf1b376196144d99101ec9935688ea03bccb591917de60319aca8ce2e6c2f3f HTTP/1.1\n" +
		"Host: s3.example.test:9000\n\n"
	res, err := verifierAt("20250102T033000Z").Verify(parseRaw(t, raw), "s3")
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if res.AuthType != "query" || res.PayloadHash != UnsignedPayload || res.SessionToken != "SESSIONTOKEN/with+chars==" {
		t.Fatalf("result %+v", res)
	}
	// Past X-Amz-Date + X-Amz-Expires it has expired, whatever the skew.
	_, err = verifierAt("20250102T040406Z").Verify(parseRaw(t, raw), "s3")
	if e := s3err.As(err); e.Code != "AccessDenied" || e.Message != "Request has expired" {
		t.Fatalf("expired: %v", err)
	}
	// Dated in the future beyond the skew allowance.
	_, err = verifierAt("20250102T020000Z").Verify(parseRaw(t, raw), "s3")
	if e := s3err.As(err); e.Code != "AccessDenied" || e.Message != "Request is not yet valid" {
		t.Fatalf("future: %v", err)
	}
	// A changed query parameter breaks the signature.
	tampered := strings.Replace(raw, "X-Amz-Expires=3600", "X-Amz-Expires=3601", 1)
	if _, err = verifierAt("20250102T033000Z").Verify(parseRaw(t, tampered), "s3"); codeOf(err) != "SignatureDoesNotMatch" {
		t.Fatalf("tampered: %v", err)
	}
}

// Vectors of the AWS SigV4 test suite (service "service", 20150830).
func TestAWSSuiteVectors(t *testing.T) {
	auth := func(signed, sig string) string {
		return "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=" + signed + ", Signature=" + sig + "\n"
	}
	cases := []struct{ name, raw string }{
		{"get-vanilla", "GET / HTTP/1.1\nHost: example.amazonaws.com\nX-Amz-Date: 20150830T123600Z\n" +
			auth("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") + "\n"},
		{"get-vanilla-query-order-key-case", "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost: example.amazonaws.com\nX-Amz-Date: 20150830T123600Z\n" +
			auth("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") + "\n"},
		{"post-vanilla", "POST / HTTP/1.1\nHost: example.amazonaws.com\nX-Amz-Date: 20150830T123600Z\n" +
			auth("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b") + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := verifierAt("20150830T123600Z")
			v.Credentials = staticCreds{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
			if _, err := v.Verify(parseRaw(t, c.raw), "service"); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

// sdkSign signs r with aws-sdk-go-v2's signer, an implementation
// independent of ours, the way the S3 client does (no path escaping).
func sdkSign(t testing.TB, r *http.Request, payloadHash string, at time.Time) {
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := s.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}, r, payloadHash, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
}

// toServer round-trips a client request through the wire format so that
// the verifier sees what a server sees.
func toServer(t testing.TB, r *http.Request) *http.Request {
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

// Random keys, queries and headers signed by the SDK must verify.
func TestSDKSignedRequestsVerify(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("abcXYZ019 -_.~+=&%/?#!$'()*,;:@[]é漢\t")
	randStr := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteRune(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &Verifier{Region: "us-east-1", Credentials: staticCreds{testAK: testSecret}, Now: func() time.Time { return at }}
	for i := 0; i < 300; i++ {
		key := strings.TrimLeft(randStr(1+rng.Intn(30)), "/")
		if key == "" {
			key = "k"
		}
		u := "http://127.0.0.1:9000/bkt/" + URIEncode(key, true)
		q := url.Values{}
		for j := 0; j < rng.Intn(4); j++ {
			q.Add(randStr(1+rng.Intn(5)), randStr(rng.Intn(8)))
		}
		if len(q) > 0 {
			u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
		}
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Amz-Meta-Note", strings.TrimSpace(strings.ReplaceAll(randStr(10), "\t", " "))+"x")
		sdkSign(t, r, EmptySHA256, at)
		if _, err := v.Verify(toServer(t, r), "s3"); err != nil {
			t.Fatalf("key %q query %q: %v", key, u, err)
		}
	}
}

func TestHeaderAuthFailures(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &Verifier{Region: "us-east-1", Credentials: staticCreds{testAK: testSecret}, Now: func() time.Time { return at }}
	signed := func(mut func(r *http.Request)) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000/bkt/key", nil)
		sdkSign(t, r, EmptySHA256, at)
		if mut != nil {
			mut(r)
		}
		return toServer(t, r)
	}
	cases := []struct {
		name string
		mut  func(r *http.Request)
		now  time.Time
		code string
	}{
		{"ok", nil, at, ""},
		{"wrong signature", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=", "Signature=0", 1)[:len(r.Header.Get("Authorization"))])
		}, at, "SignatureDoesNotMatch"},
		{"unknown key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "AKIANOSUCHKEY0000000", 1))
		}, at, "InvalidAccessKeyId"},
		{"skew", nil, at.Add(16 * time.Minute), "RequestTimeTooSkewed"},
		{"skew past", nil, at.Add(-16 * time.Minute), "RequestTimeTooSkewed"},
		{"within skew", nil, at.Add(14 * time.Minute), ""},
		{"wrong region", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "us-east-1", "eu-west-1", 1))
		}, at, "AuthorizationHeaderMalformed"},
		{"wrong service", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/sts/", 1))
		}, at, "AuthorizationHeaderMalformed"},
		{"garbage header", func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage") }, at, "AuthorizationHeaderMalformed"},
		{"sigv2", func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAK+":abc=") }, at, "InvalidRequest"},
		{"sigv4a", func(r *http.Request) { r.Header.Set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x") }, at, "NotImplemented"},
		{"no content sha", func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, at, "InvalidRequest"},
		{"bad content sha", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "nothex") }, at, "InvalidArgument"},
		{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date") }, at, "AccessDenied"},
		{"unsigned amz header", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Evil", "1") }, at, "AccessDenied"},
		{"both auth kinds", func(r *http.Request) { r.URL.RawQuery = "X-Amz-Signature=00" }, at, "InvalidArgument"},
		{"anonymous", func(r *http.Request) { r.Header.Del("Authorization") }, at, "AccessDenied"},
		{"sigv2 query", func(r *http.Request) {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "AWSAccessKeyId=" + testAK + "&Signature=x&Expires=1"
		}, at, "InvalidRequest"},
		{"changed path", func(r *http.Request) { r.URL.Path = "/bkt/other" }, at, "SignatureDoesNotMatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v.Now = func() time.Time { return c.now }
			_, err := v.Verify(signed(c.mut), "s3")
			if c.code == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if codeOf(err) != c.code {
				t.Fatalf("want %s, got %v", c.code, err)
			}
			if e := s3err.As(err); e.Status != s3err.StatusOf(c.code) {
				t.Fatalf("status %d for %s", e.Status, c.code)
			}
		})
	}
}

func TestPayloadVerifierMismatch(t *testing.T) {
	sum := sha256.Sum256([]byte("expected"))
	_, err := io.ReadAll(NewPayloadVerifier(strings.NewReader("tampered"), hex.EncodeToString(sum[:])))
	if codeOf(err) != "XAmzContentSHA256Mismatch" {
		t.Fatalf("got %v", err)
	}
}

func TestPresignedParameterErrors(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &Verifier{Region: "us-east-1", Credentials: staticCreds{testAK: testSecret}, Now: func() time.Time { return at }}
	presign := func(expires string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000/bkt/key?X-Amz-Expires="+expires, nil)
		s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		u, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}, r, UnsignedPayload, "s3", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		pr, _ := http.NewRequest(http.MethodGet, u, nil)
		return toServer(t, pr)
	}
	if _, err := v.Verify(presign("900"), "s3"); err != nil {
		t.Fatalf("valid presign: %v", err)
	}
	if _, err := v.Verify(presign("604801"), "s3"); codeOf(err) != "AuthorizationQueryParametersError" {
		t.Fatalf("long expiry: %v", err)
	}
	r := presign("900")
	r.Header.Set("X-Amz-Meta-Unsigned", "1")
	if _, err := v.Verify(r, "s3"); codeOf(err) != "AccessDenied" {
		t.Fatalf("unsigned header: %v", err)
	}
	r = presign("900")
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "%2Faws4_request", "", 1)
	if _, err := v.Verify(r, "s3"); codeOf(err) != "AuthorizationQueryParametersError" {
		t.Fatalf("bad credential: %v", err)
	}
}

func BenchmarkVerifyHeader(b *testing.B) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &Verifier{Region: "us-east-1", Credentials: staticCreds{testAK: testSecret}, Now: func() time.Time { return at }}
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000/bucket/some/object/key.txt?x-id=GetObject", nil)
	r.Header.Set("Amz-Sdk-Invocation-Id", "2b1c4e5f-0000-4000-8000-000000000000")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	r.Header.Set("Accept-Encoding", "identity")
	sdkSign(b, r, EmptySHA256, at)
	sr := toServer(b, r)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(sr, "s3"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHMACSumMatchesCryptoHMAC(t *testing.T) {
	key := SigningKey(testSecret, "20250102", "us-east-1", "s3")
	for _, n := range []int{0, 1, 63, 64, 200, 447, 448, 449, 1000} {
		data := []byte(strings.Repeat("d", n))
		got := hmacSum(key, data)
		if !bytes.Equal(got[:], hmacSHA256(key, data)) {
			t.Fatalf("len %d: differs", n)
		}
	}
}
