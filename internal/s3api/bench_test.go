package s3api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cairn-io/cairn/internal/testserver"
)

// discardWriter is a ResponseWriter that drops the body, so a benchmark
// times the handler, not a recorder's buffer.
type discardWriter struct {
	h      http.Header
	status int
	first  []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	if w.status != 200 && w.status != 206 && len(w.first) == 0 {
		w.first = append(w.first, p...)
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

func (w *discardWriter) ok(b *testing.B) {
	if w.status != 200 {
		b.Fatalf("status %d: %s", w.status, w.first)
	}
}

// benchUser is a user whose policy allows everything: requests by it go
// through the policy engine, as real traffic does (root skips it).
const benchConfig = `
users:
  - name: bench
    access_key: AKIABENCH00000000000
    secret_key: bench-secret-0000000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
`

func signedRequest(b *testing.B, method, url string, body []byte) *http.Request {
	r, _ := http.NewRequest(method, url, bytes.NewReader(body))
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", ph)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: "AKIABENCH00000000000", SecretAccessKey: "bench-secret-0000000000"}, r, ph, "s3", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	r.RequestURI = r.URL.RequestURI()
	return r
}

// benchHandler runs signed requests straight through the S3 handler:
// parse, authenticate (SigV4), execute against the real store, respond.
func benchPutHandler(b *testing.B, size int) {
	s := benchServer(b, nil, 0)
	body := bytes.Repeat([]byte("x"), size)
	req := signedRequest(b, "PUT", s.URL+"/bench/obj", body)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Body = io.NopCloser(bytes.NewReader(body))
		serveOK(b, s, req)
	}
}

func benchGetHandler(b *testing.B, size int) { benchGet(b, size, nil) }

// benchGet is benchGetHandler on a server whose log goes to logTo (nil:
// no log, access log off).
func benchGet(b *testing.B, size int, logTo io.Writer) {
	s := benchServer(b, logTo, size)
	req := signedRequest(b, "GET", s.URL+"/bench/obj", nil)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serveOK(b, s, req)
	}
}

// benchServer starts a server (log to logTo; nil: none) with the bucket
// "bench" and, if objectSize > 0, the object "bench/obj" of that size.
func benchServer(b *testing.B, logTo io.Writer, objectSize int) *testserver.Server {
	s := testserver.Start(b, testserver.Options{NoSync: true, Config: benchConfig, Log: logTo})
	serveOK(b, s, signedRequest(b, "PUT", s.URL+"/bench", nil))
	if objectSize > 0 {
		serveOK(b, s, signedRequest(b, "PUT", s.URL+"/bench/obj", bytes.Repeat([]byte("x"), objectSize)))
	}
	return s
}

// serveOK runs req through the handler and fails unless it answers 200.
func serveOK(b *testing.B, s *testserver.Server, req *http.Request) {
	w := &discardWriter{h: http.Header{}}
	s.App.Handler.ServeHTTP(w, req)
	w.ok(b)
}

func BenchmarkPutObject4KiB(b *testing.B) { benchPutHandler(b, 4<<10) }
func BenchmarkPutObject1MiB(b *testing.B) { benchPutHandler(b, 1<<20) }
func BenchmarkGetObject4KiB(b *testing.B) { benchGetHandler(b, 4<<10) }
func BenchmarkGetObject1MiB(b *testing.B) { benchGetHandler(b, 1<<20) }

// sessionCreds gets temporary credentials of the bench user.
func sessionCreds(b *testing.B, s *testserver.Server) aws.Credentials {
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), HTTPClient: s.HTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIABENCH00000000000", "bench-secret-0000000000", "")})
	out, err := c.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		b.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
}

// benchRead runs signed GET or HEAD requests of a 4 KiB object through the
// handler, with static or temporary credentials.
func benchRead(b *testing.B, method string, session bool) {
	s := benchServer(b, nil, 4096)
	creds := aws.Credentials{AccessKeyID: "AKIABENCH00000000000", SecretAccessKey: "bench-secret-0000000000"}
	if session {
		creds = sessionCreds(b, s)
	}
	req, _ := http.NewRequest(method, s.URL+"/bench/obj", nil)
	req.Header.Set("X-Amz-Content-Sha256", sigv4EmptySHA)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, creds, req, sigv4EmptySHA, "s3", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	req.RequestURI = req.URL.RequestURI()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serveOK(b, s, req)
	}
}

const sigv4EmptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func BenchmarkRead4KiB(b *testing.B) {
	for _, m := range []string{"GET", "HEAD"} {
		b.Run(m+"/static", func(b *testing.B) { benchRead(b, m, false) })
		b.Run(m+"/session", func(b *testing.B) { benchRead(b, m, true) })
	}
}

// BenchmarkGetObject4KiBAccessLog is GetObject with the access log on
// (JSON, to a discarding writer): the cost of one log line per request.
func BenchmarkGetObject4KiBAccessLog(b *testing.B) { benchGet(b, 4<<10, io.Discard) }
