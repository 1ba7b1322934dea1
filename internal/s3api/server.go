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
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/identity"
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
}

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
	if s.sts != nil {
		_, virtual := s.virtualHostBucket(r.Host)
		if sts.IsRequest(r, virtual) {
			req.op, _ = s.sts.Serve(rw, r, req.id)
			return
		}
	}

	err := s.serve(rw, req)
	if err != nil {
		e := s.toS3Error(err, req)
		if rw.status == 0 {
			s3err.WriteXML(rw, r, e, req.id)
		}
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
	payload := ""
	if req.auth != nil {
		payload = req.auth.PayloadHash
		if len(payload) == 64 {
			payload = "signed"
		}
	}
	s.log.Debug("request", "request_id", req.id, "op", req.op, "principal", principalName(req.principal), "payload", payload,
		"status", rw.status, "bytes", rw.n, "duration", time.Since(start))
}

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
		return s3err.NoSuchUpload.With("UploadId", req.URL.Query().Get("uploadId"))
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
