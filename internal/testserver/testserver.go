// Package testserver starts an in-process cairn server on a real loopback
// listener over a temporary data dir, and builds aws-sdk-go-v2 clients for
// it. Tests across packages use it so that every test talks real HTTP.
package testserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cairn-io/cairn/internal/app"
)

// Root credentials of every test server.
const (
	RootAccessKey = "AKIATESTROOT00000000"
	RootSecretKey = "test-root-secret-key-0000000000000000000"
	Domain        = "s3.cairn.test"
)

// Server is a running test server.
type Server struct {
	URL  string // http://127.0.0.1:port
	Addr string
	App  *app.App
	Dir  string
	// ConfigPath is the config file written from Options.Config.
	ConfigPath string
	srv        *httptest.Server
}

// Options tune a test server.
type Options struct {
	// Config is the YAML config file's text (optional).
	Config string
	Dir    string // reuse a data dir; default a fresh temp dir
	NoSync bool
	// Now is the server's clock; nil is time.Now.
	Now func() time.Time
	// TLS serves HTTPS with a test certificate.
	TLS bool
	// Limits (zero: the server defaults).
	MaxInFlight       int
	BodyIdleTimeout   time.Duration
	ReadHeaderTimeout time.Duration
	// Log, when set, receives the server log as JSON at info level.
	Log io.Writer
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	cfgPath := ""
	if o.Config != "" {
		cfgPath = filepath.Join(t.TempDir(), "cairn.yaml")
		if err := os.WriteFile(cfgPath, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	level := slog.LevelError + 1
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if o.Log != nil {
		logger = slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := app.Open(app.Options{
		DataDir: dir, ConfigPath: cfgPath, Domain: Domain, NoSync: o.NoSync,
		RootAccessKey: RootAccessKey, RootSecretKey: RootSecretKey, Now: o.Now,
		Logger: logger, MaxInFlight: o.MaxInFlight, BodyIdleTimeout: o.BodyIdleTimeout, AccessLog: o.Log != nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(a.Handler)
	if o.ReadHeaderTimeout > 0 {
		hs.Config.ReadHeaderTimeout = o.ReadHeaderTimeout
	}
	if o.TLS {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	s := &Server{URL: hs.URL, Addr: hs.Listener.Addr().String(), App: a, Dir: dir, ConfigPath: cfgPath, srv: hs}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and closes the store.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
		s.App.Close()
		s.srv = nil
	}
}

// Client returns an S3 client with the root credentials. pathStyle false
// gives the SDK default for a custom endpoint (virtual-hosted): requests go
// to <bucket>.s3.cairn.test, which the client's dialer sends to the server.
func (s *Server) Client(pathStyle bool) *s3.Client {
	return s.ClientWith(RootAccessKey, RootSecretKey, pathStyle)
}

// ClientWith returns an S3 client with the given static credentials.
func (s *Server) ClientWith(ak, sk string, pathStyle bool) *s3.Client {
	return s.ClientWithToken(ak, sk, "", pathStyle)
}

// ClientWithToken returns an S3 client with temporary credentials.
func (s *Server) ClientWithToken(ak, sk, token string, pathStyle bool) *s3.Client {
	endpoint := s.URL
	if !pathStyle {
		_, port, _ := net.SplitHostPort(s.Addr)
		scheme := "http://"
		if s.srv.TLS != nil {
			scheme = "https://"
		}
		endpoint = scheme + Domain + ":" + port
	}
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: pathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, token),
		HTTPClient:   s.HTTPClient(),
		// Keep SDK retries out of tests: every status is asserted.
		RetryMaxAttempts: 1,
	})
}

// HTTPClient dials the server whatever host name a request names, so that
// virtual-hosted names need no DNS.
func (s *Server) HTTPClient() *http.Client {
	addr := s.Addr
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 64,
	}
	if s.srv.TLS != nil {
		tr.TLSClientConfig = s.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		tr.TLSClientConfig.ServerName = "example.com" // in the test certificate
	}
	return &http.Client{Transport: tr}
}

// Discard drains and closes a body.
func Discard(rc io.ReadCloser) { io.Copy(io.Discard, rc); rc.Close() }

// Must fails the test at once if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantErr asserts that err is an AWS API error with code and HTTP status.
func WantErr(t testing.TB, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) {
		t.Fatalf("want %s (%d), got %v", code, status, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want code %s, got %s (%v)", code, ae.ErrorCode(), err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != status {
		t.Fatalf("want status %d, got %d (%v)", status, re.HTTPStatusCode(), err)
	}
}
