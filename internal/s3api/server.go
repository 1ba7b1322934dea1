// Package s3api owns the S3 HTTP API: it turns a request into an operation
// (parse), authenticates it (sigv4), authorizes it, runs it against a
// store.Backend (execute) and writes the S3 response or error XML
// (respond). Handlers stay thin; parsing and rules live in plain functions.
package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/iam"
	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/sigv4"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/cairn-io/cairn/internal/sts"
)

// Server is the S3 API handler.
type Server struct {
	store    store.Backend
	verifier *sigv4.Verifier
	sts      *sts.Handler
	region   string
	domain   string
	owner    Owner
	policies policyCache

	trustedProxies []netip.Prefix
	log            *slog.Logger
	iam            *iam.Handler
	iamVerifier    *sigv4.Verifier
	metrics        *metrics.Metrics
	maxInFlight    int64
	inFlight       atomic.Int64
	bodyIdle       time.Duration
	accessLog      bool
	ready          func() error

	reqPrefix string
	reqSeq    atomic.Uint64
}

// Config wires a Server.
type Config struct {
	Store store.Backend
	// Credentials resolves access keys and session tokens.
	Credentials sigv4.Credentials
	// STS, when set, serves the STS query protocol at "/".
	STS    *sts.Service
	Region string
	// Account is the account id shown as the owner of buckets and objects.
	Account string
	// Domain, when set, routes Host "<bucket>.<domain>" to bucket.
	Domain string
	Logger *slog.Logger
	// Now is the clock for signature checks (tests); nil is time.Now.
	Now func() time.Time
	// TrustedProxies may set aws:SourceIp through X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// Metrics receives the request metrics; nil creates a private set.
	Metrics *metrics.Metrics
	// MaxInFlight caps concurrent requests (503 SlowDown beyond); 0 is
	// DefaultMaxInFlight.
	MaxInFlight int
	// BodyIdleTimeout ends a request whose body stops arriving for this
	// long (a slow honest upload keeps it alive); 0 is DefaultBodyIdle.
	BodyIdleTimeout time.Duration
	// AccessLog logs one line per request at info level.
	AccessLog bool
	// Ready reports whether the server can serve (for /-/readyz).
	Ready func() error
	// IAM, when set, serves the IAM API (Version 2010-05-08) at "/".
	IAM *iam.Handler
}

// Defaults of the limits.
const (
	DefaultMaxInFlight = 1024
	DefaultBodyIdle    = time.Minute
)

// New builds the S3 handler.
func New(c Config) *Server {
	var p [4]byte
	rand.Read(p[:])
	log := c.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		store:     c.Store,
		verifier:  &sigv4.Verifier{Region: c.Region, Credentials: c.Credentials, Now: c.Now},
		region:    c.Region,
		domain:    c.Domain,
		log:       log,
		reqPrefix: hex.EncodeToString(p[:]),
		owner:     Owner{ID: c.Account, DisplayName: "cairn"},

		trustedProxies: c.TrustedProxies,
		metrics:        c.Metrics,
		maxInFlight:    int64(c.MaxInFlight),
		bodyIdle:       c.BodyIdleTimeout,
		accessLog:      c.AccessLog,
		ready:          c.Ready,
		iam:            c.IAM,
		iamVerifier:    &sigv4.Verifier{Region: "us-east-1", Credentials: c.Credentials, Now: c.Now},
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.maxInFlight <= 0 {
		s.maxInFlight = DefaultMaxInFlight
	}
	if s.bodyIdle <= 0 {
		s.bodyIdle = DefaultBodyIdle
	}
	if s.ready == nil {
		s.ready = func() error { return nil }
	}
	if c.STS != nil {
		s.sts = sts.NewHandler(c.STS, s.verifier, log)
	}
	return s
}

// request is the parsed request as it flows through the handler.
type request struct {
	*http.Request
	id        string
	op        string
	bucket    string
	key       string
	principal *identity.Principal
	auth      *sigv4.Result
	context   policy.Context
	// chunked decodes an aws-chunked body (set by requestBody).
	chunked *sigv4.ChunkedReader
	// bodyTags are the tags of a PutObjectTagging body, read at
	// authorization.
	bodyTags []store.Tag
	// query is the parsed query string (parsed once, in route).
	query url.Values
	// vbucket is the bucket named by a virtual-hosted Host, if virtual.
	vbucket string
	virtual bool
}

func (s *Server) newRequestID() string {
	var b [8]byte
	n := s.reqSeq.Add(1)
	for i := 7; i >= 0; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	return s.reqPrefix + hex.EncodeToString(b[:])
}

// ServeHTTP runs one request through parse, authenticate, authorize,
// execute and respond.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := &request{Request: r, id: s.newRequestID()}
	h := w.Header()
	h["X-Amz-Request-Id"] = []string{req.id}
	h["X-Amz-Id-2"] = []string{req.id}
	h["Server"] = []string{"cairn"}
	rw := &statusWriter{ResponseWriter: w}
	req.vbucket, req.virtual = s.virtualHostBucket(r.Host)
	virtual := req.virtual
	if !virtual && strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.serveAdmin(rw, r)
		return
	}
	m := s.metrics
	if n := s.inFlight.Add(1); n > s.maxInFlight {
		s.inFlight.Add(-1)
		m.Rejected.Inc()
		s3err.WriteXML(rw, r, s3err.SlowDown, req.id)
		return
	}
	m.InFlight.Inc()
	body := &meteredBody{r: r.Body, rc: http.NewResponseController(w), idle: s.bodyIdle}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = body
	}
	defer s.finish(req, rw, body, start)
	if s.sts != nil && sts.IsRequest(r, virtual) {
		// Read the parameters once: the version says STS or IAM.
		params, err := sts.ReadParams(r)
		if err == nil && params.Get("Version") == iam.Version && s.iam != nil {
			req.op = "iam:" + params.Get("Action")
			s.serveIAM(rw, req, params)
			return
		}
		req.op, _ = s.sts.Serve(rw, r, params, err, req.id)
		return
	}

	err := s.serve(rw, req)
	if err != nil {
		e := s.toS3Error(err, req)
		if rw.status == 0 {
			s3err.WriteXML(rw, r, e, req.id)
		}
		s.countError(req, e)
		level := slog.LevelInfo
		if e.Status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request failed", "request_id", req.id, "op", req.op, "bucket", req.bucket,
			"key", req.key, "principal", principalName(req.principal), "status", e.Status, "code", e.Code, "reason", e.Cause)
	}
	if r.Body != nil {
		// Drain a little of an unread body so the connection can be
		// reused; never read a large one.
		io.CopyN(io.Discard, r.Body, 64<<10)
	}
}

// serveIAM authenticates an IAM API call (SigV4, service iam; IAM is
// global, so us-east-1 is accepted whatever cairn's region) and runs it.
func (s *Server) serveIAM(w http.ResponseWriter, req *request, params url.Values) {
	res, err := s.iamVerifier.Verify(req.Request, "iam")
	if err != nil {
		res, err = s.verifierForIAM(req.Request, err)
	}
	if err != nil {
		e := sts.FromAuthError(err)
		iam.WriteError(w, e, req.id)
		s.countError(req, e)
		s.log.Info("iam: request refused", "request_id", req.id, "code", e.Code, "reason", e.Cause)
		return
	}
	p := res.Identity.(*identity.Principal)
	req.principal = p
	s.iam.Serve(w, params, p, req.id)
}

// verifierForIAM retries with cairn's own region when the us-east-1
// verifier refused the scope.
func (s *Server) verifierForIAM(r *http.Request, first error) (*sigv4.Result, error) {
	if s.region == "us-east-1" {
		return nil, first
	}
	if e, ok := first.(*s3err.Error); !ok || e.Code != "AuthorizationHeaderMalformed" {
		return nil, first
	}
	return s.verifier.Verify(r, "iam")
}

// finish records a request's metrics and access log line.
func (s *Server) finish(req *request, rw *statusWriter, body *meteredBody, start time.Time) {
	if body.touched {
		// Clear the body deadline: the connection may wait for its next
		// request (under the server's idle timeout).
		body.rc.SetReadDeadline(time.Time{})
	}
	m := s.metrics
	s.inFlight.Add(-1)
	m.InFlight.Dec()
	m.BytesIn.Add(float64(body.n))
	m.BytesOut.Add(float64(rw.n))
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	op := opLabel(req.op)
	m.Requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.Duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if s.accessLog {
		s.log.Info("access", "request_id", req.id, "principal", principalName(req.principal), "op", op, "bucket", req.bucket,
			"key", req.key, "status", status, "bytes_in", body.n, "bytes_out", rw.n, "duration", time.Since(start).Round(time.Microsecond))
	}
}

// opLabel bounds the metric label: STS and IAM action names come from the
// client, so only known ones become labels (an attacker must not be able
// to grow the metric set).
func opLabel(op string) string {
	switch {
	case op == "":
		return "unknown"
	case strings.HasPrefix(op, "iam:"):
		if iam.KnownAction(strings.TrimPrefix(op, "iam:")) {
			return op
		}
		return "iam:unknown"
	case strings.HasPrefix(op, "GET ?") || strings.HasPrefix(op, "PUT ?") || strings.HasPrefix(op, "POST ?") || strings.HasPrefix(op, "DELETE ?") || strings.HasPrefix(op, "HEAD ?"):
		return "unimplemented" // a known sub-resource cairn does not serve
	}
	if _, ok := handlers[op]; ok {
		return op
	}
	if sts.KnownAction(op) {
		return "sts:" + op
	}
	return "unknown"
}

// authFailureCodes are the errors counted as authentication failures.
var authFailureCodes = map[string]bool{
	"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "ExpiredToken": true, "InvalidToken": true,
	"RequestTimeTooSkewed": true, "AuthorizationHeaderMalformed": true, "AuthorizationQueryParametersError": true,
	"MissingSecurityHeader": true, "XAmzContentSHA256Mismatch": true,
}

func (s *Server) countError(req *request, e *s3err.Error) {
	switch {
	case authFailureCodes[e.Code]:
		s.metrics.AuthFailures.WithLabelValues(e.Code).Inc()
	case e.Code == "AccessDenied" && req.principal == nil && req.auth == nil && !sigv4.IsAnonymous(req.Request):
		s.metrics.AuthFailures.WithLabelValues("AccessDenied").Inc() // presigned expired, unsigned headers...
	case e.Code == "AccessDenied":
		action := "unknown"
		if a, ok := opActions[req.op]; ok && a.action != "" {
			action = a.action
		}
		s.metrics.Denials.WithLabelValues(action).Inc()
	case e.Status >= 500:
		s.metrics.StorageErrors.Inc()
	}
}

// adminPrefix holds the operational endpoints. No bucket name can start
// with "-", so no path-style request can reach them by accident;
// virtual-hosted requests never do.
const adminPrefix = "/-/"

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case adminPrefix + "metrics":
		s.metrics.Handler().ServeHTTP(w, r)
	case adminPrefix + "healthz":
		w.Write([]byte("ok\n"))
	case adminPrefix + "readyz":
		if err := s.ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	default:
		http.NotFound(w, r)
	}
}

// AdminHandler serves the operational endpoints on their own listener
// (--admin-listen), at /metrics, /healthz and /readyz.
func (s *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = adminPrefix + strings.TrimPrefix(r.URL.Path, "/")
		s.serveAdmin(w, r2)
	})
}

// meteredBody counts request body bytes and keeps a read deadline that
// moves with progress: a client that stops sending for idle is cut off
// (slow loris), a slow but steady upload of any size is not.
type meteredBody struct {
	r       io.ReadCloser
	rc      *http.ResponseController
	idle    time.Duration
	n       int64
	touched bool
}

func (b *meteredBody) Read(p []byte) (int, error) {
	b.touched = true
	b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *meteredBody) Close() error { return b.r.Close() }

func principalName(p *identity.Principal) string {
	if p == nil {
		return "anonymous"
	}
	return p.ARN
}

func (s *Server) serve(w http.ResponseWriter, req *request) error {
	if err := s.route(req); err != nil {
		return err
	}
	if err := s.authenticate(req); err != nil {
		return err
	}
	if err := s.authorize(req); err != nil {
		return err
	}
	h, ok := handlers[req.op]
	if !ok {
		return s3err.NotImplemented.Because("operation " + req.op)
	}
	return h(s, w, req)
}

// authenticate verifies the signature and resolves the principal. A
// request with no authentication at all goes on as anonymous: only a
// bucket policy can allow it.
func (s *Server) authenticate(req *request) error {
	if sigv4.IsAnonymous(req.Request) {
		return nil
	}
	res, err := s.verifier.Verify(req.Request, "s3")
	if err != nil {
		return err
	}
	req.auth = res
	p, ok := res.Identity.(*identity.Principal)
	if !ok {
		return s3err.InternalError.Because("credentials resolved to an unknown identity type")
	}
	req.principal = p
	return nil
}

// toS3Error maps store and I/O errors to S3 errors.
func (s *Server) toS3Error(err error, req *request) *s3err.Error {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		return s3err.NoSuchBucket.With("BucketName", req.bucket)
	case errors.Is(err, store.ErrNoSuchKey):
		return s3err.NoSuchKey.With("Key", req.key)
	case errors.Is(err, store.ErrBucketExists):
		return s3err.New("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.").With("BucketName", req.bucket)
	case errors.Is(err, store.ErrBucketNotEmpty):
		return s3err.BucketNotEmpty.With("BucketName", req.bucket)
	case errors.Is(err, store.ErrNoSuchUpload):
		return s3err.NoSuchUpload.With("UploadId", req.query.Get("uploadId"))
	case errors.Is(err, store.ErrInvalidPartOrder):
		return s3err.InvalidPartOrder
	case errors.Is(err, store.ErrInvalidPart):
		return s3err.InvalidPart.Because(err.Error())
	case errors.Is(err, store.ErrEntityTooSmall):
		return s3err.EntityTooSmall.Because(err.Error())
	case errors.Is(err, store.ErrEntityTooLarge):
		return s3err.EntityTooLarge
	case errors.Is(err, io.ErrUnexpectedEOF):
		return s3err.IncompleteBody.Because(err.Error())
	case errors.Is(err, context.Canceled):
		return s3err.New("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.").Because(err.Error())
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return s3err.New("MaxMessageLengthExceeded", "Your request was too big.").Because(err.Error())
	}
	return s3err.InternalError.Because(err.Error())
}

// statusWriter remembers whether a response was started.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom keeps net/http's sendfile path for file-backed bodies.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.n += n
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func setInt(h http.Header, name string, v int64) { h[name] = []string{strconv.FormatInt(v, 10)} }
