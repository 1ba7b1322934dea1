// Package sigv4 owns AWS Signature Version 4 verification for S3 and STS:
// parsing the Authorization header and presigned query parameters,
// rebuilding the canonical request, deriving and caching signing keys, and
// the exact AWS error for every failure. It depends on net/http only for the
// request type, not on any router or server.
package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/s3err"
)

// Constants of the SigV4 protocol.
const (
	Algorithm        = "AWS4-HMAC-SHA256"
	UnsignedPayload  = "UNSIGNED-PAYLOAD"
	EmptySHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	TimeFormat       = "20060102T150405Z"
	DateFormat       = "20060102"
	MaxSkew          = 15 * time.Minute
	MaxPresignExpiry = 7 * 24 * time.Hour

	StreamingSigned           = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedTrailer    = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer  = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix      = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	headerContentSHA256       = "X-Amz-Content-Sha256"
	headerSecurityToken       = "X-Amz-Security-Token"
	authTypeHeader, authQuery = "header", "query"
)

// Identity is whoever an access key belongs to; the verifier needs only
// its secret.
type Identity interface {
	SecretKey() string
}

// Credentials resolves an access key (and the session token, when the
// request carries one) to its identity. Errors should be *s3err.Error
// values (InvalidAccessKeyId, InvalidToken, ExpiredToken...).
type Credentials interface {
	Lookup(accessKey, sessionToken string) (Identity, error)
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKey    string
	SessionToken string
	// PayloadHash is the x-amz-content-sha256 value (header auth) or
	// UNSIGNED-PAYLOAD (presigned).
	PayloadHash string
	AuthType    string // "header" or "query"
	Time        time.Time
	Scope       string
	Signature   string
	SigningKey  []byte
	// Identity is what Credentials.Lookup returned for the access key.
	Identity Identity
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	Region      string
	Credentials Credentials
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	keys keyCache
}

// Authorization is a parsed Authorization header.
type Authorization struct {
	AccessKey     string
	Date          string
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

func malformed(msg string) *s3err.Error {
	return s3err.New("AuthorizationHeaderMalformed", msg)
}

// ParseAuthorization parses an AWS4-HMAC-SHA256 Authorization header value.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != Algorithm {
		return a, unsupportedAlgorithm(alg)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, malformed("The authorization header is malformed; the authorization component \"" + part + "\" is malformed.")
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			sig, haveSig = v, true
		default:
			return a, malformed("The authorization header is malformed; the authorization component \"" + part + "\" is malformed.")
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return a, malformed("The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.")
	}
	if err := parseCredential(cred, &a, malformed); err != nil {
		return a, err
	}
	hs, err := parseSignedHeaders(signed, malformed)
	if err != nil {
		return a, err
	}
	a.SignedHeaders = hs
	if !isHexSignature(sig) {
		return a, malformed("The authorization header is malformed; the signature is not 64 hexadecimal characters.")
	}
	a.Signature = sig
	return a, nil
}

func unsupportedAlgorithm(alg string) *s3err.Error {
	switch {
	case alg == "AWS":
		return s3err.InvalidRequest.Msg("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	case alg == "AWS4-ECDSA-P256-SHA256":
		return s3err.NotImplemented.Msg("SigV4a (AWS4-ECDSA-P256-SHA256) is not implemented.")
	default:
		return s3err.InvalidArgument.Msg("Unsupported Authorization Type").With("ArgumentName", "Authorization").With("ArgumentValue", alg)
	}
}

// parseCredential splits AKID/date/region/service/aws4_request.
func parseCredential(cred string, a *Authorization, mk func(string) *s3err.Error) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" {
		return mk("The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	if parts[4] != "aws4_request" {
		return mk("The authorization header is malformed; incorrect terminal \"" + parts[4] + "\". This endpoint uses \"aws4_request\".")
	}
	if _, err := time.Parse(DateFormat, parts[1]); err != nil || len(parts[1]) != 8 {
		return mk("The authorization header is malformed; incorrect date format \"" + parts[1] + "\". This date in the credential must be in the format \"yyyyMMdd\".")
	}
	a.AccessKey, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func parseSignedHeaders(s string, mk func(string) *s3err.Error) ([]string, error) {
	if s == "" {
		return nil, mk("The authorization header is malformed; SignedHeaders is empty.")
	}
	hs := strings.Split(s, ";")
	for i, h := range hs {
		if h == "" || h != strings.ToLower(h) || (i > 0 && hs[i-1] >= h) {
			return nil, mk("The authorization header is malformed; SignedHeaders must be lowercase, sorted and unique.")
		}
	}
	return hs, nil
}

func isHexSignature(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// IsPresigned reports whether r carries SigV4 query authentication.
func IsPresigned(r *http.Request) bool {
	return strings.Contains(r.URL.RawQuery, "X-Amz-Algorithm=") || strings.Contains(r.URL.RawQuery, "X-Amz-Signature=")
}

// IsAnonymous reports whether r carries no authentication at all.
func IsAnonymous(r *http.Request) bool {
	if _, ok := r.Header["Authorization"]; ok {
		return false
	}
	q := r.URL.RawQuery
	return !IsPresigned(r) && !strings.Contains(q, "AWSAccessKeyId=") && !strings.Contains(q, "Signature=")
}

// Verify authenticates r for service ("s3" or "sts"), by Authorization
// header or presigned query. It does not read the body: for header auth
// with a hex payload hash the caller verifies the body against
// Result.PayloadHash while streaming it (see NewPayloadVerifier).
func (v *Verifier) Verify(r *http.Request, service string) (*Result, error) {
	authz, hasHeader := r.Header["Authorization"]
	presigned := IsPresigned(r)
	if hasHeader && presigned {
		return nil, s3err.InvalidArgument.Msg("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified").
			With("ArgumentName", "Authorization").With("ArgumentValue", firstN(authz[0], 40))
	}
	if presigned {
		return v.verifyQuery(r, service)
	}
	if !hasHeader {
		if strings.Contains(r.URL.RawQuery, "AWSAccessKeyId=") {
			return nil, unsupportedAlgorithm("AWS")
		}
		return nil, s3err.AccessDenied.Because("anonymous request")
	}
	return v.verifyHeader(r, authz[0], service)
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (v *Verifier) verifyHeader(r *http.Request, header, service string) (*Result, error) {
	a, err := ParseAuthorization(header)
	if err != nil {
		return nil, err
	}
	if err := v.checkScope(a, service, malformed); err != nil {
		return nil, err
	}
	t, amzDate, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if amzDate[:8] != a.Date {
		return nil, malformed("The authorization header is malformed; Invalid credential date \"" + a.Date + "\". This date is not the same as X-Amz-Date: \"" + amzDate[:8] + "\".")
	}
	payload := r.Header.Get(headerContentSHA256)
	if service == "s3" {
		if payload == "" {
			return nil, s3err.InvalidRequest.Msg("Missing required header for this request: x-amz-content-sha256")
		}
		if err := checkPayloadHashValue(payload); err != nil {
			return nil, err
		}
	} else if payload == "" {
		// Query-protocol services (STS, IAM) send no x-amz-content-sha256:
		// the payload line is the hash of the (small, form) body.
		h, err := hashSmallBody(r)
		if err != nil {
			return nil, err
		}
		payload = h
	}
	token := r.Header.Get(headerSecurityToken)
	id, err := v.Credentials.Lookup(a.AccessKey, token)
	if err != nil {
		return nil, err
	}
	secret := id.SecretKey()
	now := v.now()
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return nil, s3err.New("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.").
			With("RequestTime", amzDate).With("ServerTime", now.UTC().Format(time.RFC3339)).
			With("MaxAllowedSkewMilliseconds", "900000")
	}
	if err := checkUnsignedHeaders(r, a.SignedHeaders); err != nil {
		return nil, err
	}
	if !contains(a.SignedHeaders, "host") {
		return nil, malformed("The authorization header is malformed; the host header must be signed.")
	}
	res := &Result{
		AccessKey: a.AccessKey, SessionToken: token, PayloadHash: payload, AuthType: authTypeHeader, Identity: id,
		Time: t, Scope: a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request", Signature: a.Signature,
	}
	res.SigningKey = v.keys.get(secret, a.Date, a.Region, a.Service)
	if err := v.checkSignature(r, res, a.SignedHeaders, amzDate, payload, false); err != nil {
		return nil, err
	}
	return res, nil
}

// MaxFormBody bounds the body of query-protocol requests, which are read
// whole to hash them.
const MaxFormBody = 1 << 20

func hashSmallBody(r *http.Request) (string, error) {
	if r.Body == nil {
		return EmptySHA256, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxFormBody+1))
	if err != nil {
		return "", s3err.IncompleteBody.Because(err.Error())
	}
	if len(b) > MaxFormBody {
		return "", s3err.New("MaxMessageLengthExceeded", "Your request was too big.")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func (v *Verifier) checkScope(a Authorization, service string, mk func(string) *s3err.Error) error {
	if a.Service != service {
		return mk("The authorization header is malformed; incorrect service \"" + a.Service + "\". This endpoint belongs to \"" + service + "\".")
	}
	if a.Region != v.Region {
		return mk("The authorization header is malformed; the region '"+a.Region+"' is wrong; expecting '"+v.Region+"'").
			With("Region", v.Region).WithHeader("x-amz-bucket-region", v.Region)
	}
	return nil
}

func checkPayloadHashValue(p string) error {
	switch p {
	case UnsignedPayload, StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer:
		return nil
	}
	if strings.HasPrefix(p, streamingECDSAPrefix) {
		return s3err.NotImplemented.Msg("SigV4a streaming payloads are not implemented.")
	}
	if isHexSignature(p) {
		return nil
	}
	return s3err.InvalidArgument.Msg("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.").
		With("ArgumentName", "x-amz-content-sha256").With("ArgumentValue", firstN(p, 80))
}

// requestTime reads x-amz-date, or Date in ISO basic or RFC 1123 form.
func requestTime(r *http.Request) (time.Time, string, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(TimeFormat, v)
		if err == nil {
			return t, v, nil
		}
	} else if v := r.Header.Get("Date"); v != "" {
		if t, err := time.Parse(TimeFormat, v); err == nil {
			return t, v, nil
		}
		if t, err := http.ParseTime(v); err == nil {
			return t.UTC(), t.UTC().Format(TimeFormat), nil
		}
	}
	return time.Time{}, "", s3err.AccessDenied.Msg("AWS authentication requires a valid Date or x-amz-date header").Because("no usable request time")
}

// checkUnsignedHeaders rejects x-amz-* headers that the signature does not
// cover: an unsigned header could be added or changed by anyone in the path.
func checkUnsignedHeaders(r *http.Request, signed []string) error {
	var missing []string
	for name := range r.Header {
		if len(name) < 6 || !strings.EqualFold(name[:6], "x-amz-") {
			continue
		}
		found := false
		for _, s := range signed {
			if strings.EqualFold(s, name) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, strings.ToLower(name))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return s3err.AccessDenied.Msg("There were headers present in the request which were not signed").
		With("HeadersNotSigned", strings.Join(missing, ", ")).Because("unsigned headers: " + strings.Join(missing, ", "))
}

func contains(sorted []string, s string) bool {
	for _, x := range sorted {
		if x == s {
			return true
		}
	}
	return false
}

// checkSignature rebuilds the canonical request and compares signatures in
// constant time. It tries the canonical URI re-encoded with the SDK rule
// first and the raw path second.
func (v *Verifier) checkSignature(r *http.Request, res *Result, signed []string, amzDate, payloadHash string, presigned bool) error {
	uri, fallback := canonicalURIs(r)
	query := canonicalQuery(r.URL.RawQuery, presigned)
	want, err := hex.DecodeString(res.Signature)
	if err != nil {
		return s3err.SignatureDoesNotMatch
	}
	var cr []byte
	for _, u := range [2]string{uri, fallback} {
		if u == "" {
			continue
		}
		cr = CanonicalRequest(r.Method, u, query, r, signed, payloadHash)
		sts := StringToSign(amzDate, res.Scope, cr)
		sum := hmacSum(res.SigningKey, sts)
		if subtle.ConstantTimeCompare(sum[:], want) == 1 {
			return nil
		}
	}
	sts := StringToSign(amzDate, res.Scope, cr)
	return s3err.SignatureDoesNotMatch.
		With("AWSAccessKeyId", res.AccessKey).
		With("StringToSign", string(sts)).
		With("SignatureProvided", res.Signature).
		With("CanonicalRequest", string(cr)).
		Because("signature mismatch for access key " + res.AccessKey)
}

// StringToSign builds the SigV4 string to sign for a canonical request.
func StringToSign(amzDate, scope string, canonicalRequest []byte) []byte {
	sum := sha256.Sum256(canonicalRequest)
	b := make([]byte, 0, len(Algorithm)+len(amzDate)+len(scope)+64+3)
	b = append(b, Algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, sum[:])
	return b
}

// hmacSum is HMAC-SHA256 for keys of at most one block, without heap
// allocation: it runs once per request.
func hmacSum(key, data []byte) [sha256.Size]byte {
	var pad [64]byte
	copy(pad[:], key)
	var buf [512]byte
	inner := buf[:0]
	if 64+len(data) > len(buf) {
		inner = make([]byte, 0, 64+len(data))
	}
	for i := range pad {
		inner = append(inner, pad[i]^0x36)
	}
	inner = append(inner, data...)
	ih := sha256.Sum256(inner)
	var outer [64 + sha256.Size]byte
	for i := range pad {
		outer[i] = pad[i] ^ 0x5c
	}
	copy(outer[64:], ih[:])
	return sha256.Sum256(outer[:])
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

// keyCache memoises signing keys: a key depends only on (secret, date,
// region, service), so a day's worth of requests share four HMACs. It is
// bounded: when full it is dropped whole, which costs one derivation per
// active key.
type keyCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

const keyCacheMax = 4096

func (c *keyCache) get(secret, date, region, service string) []byte {
	id := secret + "\x00" + date + "\x00" + region + "\x00" + service
	c.mu.Lock()
	k, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return k
	}
	k = SigningKey(secret, date, region, service)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = make(map[string][]byte)
	}
	c.m[id] = k
	c.mu.Unlock()
	return k
}

// verifyQuery checks a presigned URL (query authentication).
func (v *Verifier) verifyQuery(r *http.Request, service string) (*Result, error) {
	q := r.URL.Query()
	qerr := func(msg string) *s3err.Error { return s3err.New("AuthorizationQueryParametersError", msg) }
	if alg := q.Get("X-Amz-Algorithm"); alg != Algorithm {
		if alg == "AWS4-ECDSA-P256-SHA256" {
			return nil, unsupportedAlgorithm(alg)
		}
		return nil, qerr("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	for _, p := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date", "X-Amz-Expires"} {
		if q.Get(p) == "" {
			return nil, qerr("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	var a Authorization
	if err := parseCredential(q.Get("X-Amz-Credential"), &a, qerr); err != nil {
		return nil, err
	}
	if err := v.checkScope(a, service, qerr); err != nil {
		return nil, err
	}
	amzDate := q.Get("X-Amz-Date")
	t, err := time.Parse(TimeFormat, amzDate)
	if err != nil {
		return nil, qerr("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if amzDate[:8] != a.Date {
		return nil, qerr("Invalid credential date \"" + a.Date + "\". This date is not the same as X-Amz-Date: \"" + amzDate[:8] + "\".")
	}
	expires, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || expires < 0 {
		return nil, qerr("X-Amz-Expires should be a number")
	}
	if time.Duration(expires)*time.Second > MaxPresignExpiry {
		return nil, qerr("X-Amz-Expires must be less than a week (in seconds) that is 7 days or 604800 seconds")
	}
	signed, err := parseSignedHeaders(q.Get("X-Amz-SignedHeaders"), qerr)
	if err != nil {
		return nil, err
	}
	sig := q.Get("X-Amz-Signature")
	if !isHexSignature(sig) {
		return nil, s3err.SignatureDoesNotMatch.Because("presigned signature is not 64 hex characters")
	}
	token := q.Get(headerSecurityToken)
	id, err := v.Credentials.Lookup(a.AccessKey, token)
	if err != nil {
		return nil, err
	}
	secret := id.SecretKey()
	now := v.now()
	if now.Before(t.Add(-MaxSkew)) {
		return nil, s3err.AccessDenied.Msg("Request is not yet valid").
			With("X-Amz-Date", amzDate).With("ServerTime", now.UTC().Format(time.RFC3339)).Because("presigned URL dated in the future")
	}
	if exp := t.Add(time.Duration(expires) * time.Second); now.After(exp) {
		return nil, s3err.AccessDenied.Msg("Request has expired").
			With("X-Amz-Expires", strconv.FormatInt(expires, 10)).With("Expires", exp.UTC().Format(time.RFC3339)).
			With("ServerTime", now.UTC().Format(time.RFC3339)).Because("presigned URL expired")
	}
	if err := checkUnsignedHeaders(r, signed); err != nil {
		return nil, err
	}
	if !contains(signed, "host") {
		return nil, qerr("Query-string authentication requires the host header to be signed.")
	}
	hashLine := UnsignedPayload
	if p := q.Get("X-Amz-Content-Sha256"); p != "" {
		if err := checkPayloadHashValue(p); err != nil {
			return nil, err
		}
		hashLine = p
	}
	res := &Result{
		AccessKey: a.AccessKey, SessionToken: token, PayloadHash: hashLine, AuthType: authQuery, Identity: id,
		Time: t, Scope: a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request", Signature: sig,
	}
	res.SigningKey = v.keys.get(secret, a.Date, a.Region, a.Service)
	if err := v.checkSignature(r, res, signed, amzDate, hashLine, true); err != nil {
		return nil, err
	}
	return res, nil
}
