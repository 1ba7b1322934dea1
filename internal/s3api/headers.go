package s3api

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-io/cairn/internal/checksum"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/sigv4"
	"github.com/cairn-io/cairn/internal/store"
)

// storedHeaders are the system headers kept with an object and returned on
// GET and HEAD.
var storedHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires", "X-Amz-Website-Redirect-Location"}

const (
	metaPrefix     = "X-Amz-Meta-"
	maxUserMeta    = 2 << 10
	maxTags        = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// objectTemplate collects what a PUT, a copy with REPLACE or a
// CreateMultipartUpload stores besides the bytes.
func objectTemplate(h http.Header) (store.ObjectInfo, error) {
	var info store.ObjectInfo
	for _, name := range storedHeaders {
		if v := h.Get(name); v != "" {
			if info.Headers == nil {
				info.Headers = make(map[string]string, 4)
			}
			if name == "Content-Encoding" {
				v = stripAWSChunked(v)
				if v == "" {
					continue
				}
			}
			info.Headers[name] = v
		}
	}
	size := 0
	for name, vs := range h {
		if !strings.HasPrefix(name, metaPrefix) {
			continue
		}
		k := strings.ToLower(name[len(metaPrefix):])
		v := strings.Join(vs, ",")
		size += len(k) + len(v)
		if info.Meta == nil {
			info.Meta = make(map[string]string, 4)
		}
		info.Meta[k] = v
	}
	if size > maxUserMeta {
		return info, s3err.MetadataTooLarge.With("Size", strconv.Itoa(size)).With("MaxSizeAllowed", strconv.Itoa(maxUserMeta))
	}
	if sc := h.Get("X-Amz-Storage-Class"); sc != "" && !validStorageClass(sc) {
		return info, s3err.New("InvalidStorageClass", "The storage class you specified is not valid").With("StorageClassRequested", sc)
	}
	if t := h.Get("X-Amz-Tagging"); t != "" {
		tags, err := parseTagQuery(t)
		if err != nil {
			return info, err
		}
		info.Tags = tags
	}
	return info, nil
}

func validStorageClass(sc string) bool {
	switch sc {
	case "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
		"GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE":
		return true
	}
	return false
}

// stripAWSChunked removes the aws-chunked token, which describes the
// transfer, not the object.
func stripAWSChunked(v string) string {
	if !strings.Contains(v, "aws-chunked") {
		return v
	}
	var keep []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// parseTagQuery parses the x-amz-tagging header (URL query form).
func parseTagQuery(s string) ([]store.Tag, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, s3err.New("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	var tags []store.Tag
	for k, vs := range vals {
		if len(vs) != 1 {
			return nil, s3err.New("InvalidTag", "Cannot provide multiple Tags with the same key").With("TagKey", k)
		}
		tags = append(tags, store.Tag{Key: k, Value: vs[0]})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags, validateTags(tags)
}

func validateTags(tags []store.Tag) error {
	if len(tags) > maxTags {
		return s3err.New("BadRequest", "Object tags cannot be greater than 10").Because("too many tags")
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKeyLen || !utf8.ValidString(t.Key):
			return s3err.New("InvalidTag", "The TagKey you have provided is invalid").With("TagKey", t.Key)
		case utf8.RuneCountInString(t.Value) > maxTagValueLen || !utf8.ValidString(t.Value):
			return s3err.New("InvalidTag", "The TagValue you have provided is invalid").With("TagKey", t.Key)
		case seen[t.Key]:
			return s3err.New("InvalidTag", "Cannot provide multiple Tags with the same key").With("TagKey", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// writeObjectHeaders sets the headers that describe an object.
func writeObjectHeaders(h http.Header, info *store.ObjectInfo) {
	for k, v := range info.Headers {
		h[k] = []string{v}
	}
	if _, ok := info.Headers["Content-Type"]; !ok {
		h["Content-Type"] = []string{"binary/octet-stream"}
	}
	for k, v := range info.Meta {
		h[metaPrefix+k] = []string{v}
	}
	h["Etag"] = []string{`"` + info.ETag + `"`}
	h["Last-Modified"] = []string{info.Modified.UTC().Format(http.TimeFormat)}
	h["Accept-Ranges"] = []string{"bytes"}
	if n := len(info.Tags); n > 0 {
		h["X-Amz-Tagging-Count"] = []string{strconv.Itoa(n)}
	}
}

// writeChecksumHeaders returns the stored whole-object checksum.
func writeChecksumHeaders(h http.Header, c *store.Checksum) {
	if c == nil || c.Value == "" {
		return
	}
	if a, ok := checksum.Parse(c.Algorithm); ok {
		h.Set(a.Header(), c.Value)
		if c.Type != "" {
			h.Set("X-Amz-Checksum-Type", c.Type)
		}
	}
}

// etagMatches evaluates an If-Match / If-None-Match list against etag.
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// checkPreconditions applies If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since (RFC 9110 order, as S3): 412 first, then 304.
func checkPreconditions(h http.Header, etag string, modified time.Time, prefix string) error {
	mod := modified.Truncate(time.Second)
	if v := h.Get(prefix + "If-Match"); v != "" {
		if !etagMatches(v, etag) {
			return s3err.PreconditionFailed.With("Condition", prefix+"If-Match")
		}
	} else if v := h.Get(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return s3err.PreconditionFailed.With("Condition", prefix+"If-Unmodified-Since")
		}
	}
	if v := h.Get(prefix + "If-None-Match"); v != "" {
		if etagMatches(v, etag) {
			if prefix != "" {
				return s3err.PreconditionFailed.With("Condition", prefix+"If-None-Match")
			}
			return s3err.NotModified
		}
	} else if v := h.Get(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			if prefix != "" {
				return s3err.PreconditionFailed.With("Condition", prefix+"If-Modified-Since")
			}
			return s3err.NotModified
		}
	}
	return nil
}

// byteRange is a satisfiable range of an object.
type byteRange struct{ off, n int64 }

// parseRange interprets a Range header for an object of size. ok is false
// when the header is absent or not a single valid byte range: S3 then
// serves the whole object. An unsatisfiable range is InvalidRange.
func parseRange(h string, size int64) (byteRange, bool, error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	unsatisfiable := func() error {
		return s3err.InvalidRange.With("RangeRequested", h).With("ActualObjectSize", strconv.FormatInt(size, 10)).
			WithHeader("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 || !allDigits(last) {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, unsatisfiable()
		}
		n = min(n, size)
		return byteRange{size - n, n}, true, nil
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || !allDigits(first) {
		return byteRange{}, false, nil
	}
	b := int64(-1)
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || !allDigits(last) || b < a {
			return byteRange{}, false, nil
		}
	}
	if a >= size {
		return byteRange{}, false, unsatisfiable()
	}
	if b < 0 || b >= size {
		b = size - 1
	}
	return byteRange{a, b - a + 1}, true, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// bodyCheck hashes a request body while the store reads it and checks
// Content-MD5 and a flexible checksum once it has ended.
type bodyCheck struct {
	md5      hash.Hash
	wantMD5  []byte
	alg      checksum.Algorithm
	sum      hash.Hash
	wantSum  string
	declared string // x-amz-sdk-checksum-algorithm
	// trailer is the x-amz-checksum-* trailer whose value arrives after
	// the body, read from chunked.
	trailer string
	chunked *sigv4.ChunkedReader
}

// newBodyCheck prepares the checks a request's headers ask for.
func newBodyCheck(req *request) (*bodyCheck, error) {
	h := req.Header
	c := &bodyCheck{}
	if v, ok := h["Content-Md5"]; ok {
		raw, err := base64.StdEncoding.DecodeString(v[0])
		if err != nil || len(raw) != md5.Size {
			return nil, s3err.InvalidDigest
		}
		c.wantMD5 = raw
		c.md5 = md5.New()
	}
	found := 0
	for _, a := range checksum.All {
		v := h.Get(a.Header())
		if v == "" {
			continue
		}
		found++
		if !a.Valid(v) {
			return nil, s3err.InvalidRequest.Msg("Value for " + a.Header() + " header is invalid.")
		}
		c.alg, c.wantSum = a, v
	}
	if found > 1 {
		return nil, s3err.InvalidRequest.Msg("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	if t := strings.ToLower(strings.TrimSpace(h.Get("X-Amz-Trailer"))); t != "" {
		a, ok := checksum.Parse(strings.TrimPrefix(t, "x-amz-checksum-"))
		if !ok || !strings.HasPrefix(t, "x-amz-checksum-") {
			return nil, s3err.InvalidRequest.Msg("The value specified in the x-amz-trailer header is not supported")
		}
		if req.chunked == nil || req.auth == nil || !isTrailerMode(req.auth.PayloadHash) {
			return nil, s3err.InvalidRequest.Msg("x-amz-trailer is only valid with a STREAMING-*-TRAILER payload")
		}
		if c.alg != "" && c.alg != a {
			return nil, s3err.InvalidRequest.Msg("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		c.alg, c.trailer, c.chunked = a, t, req.chunked
	}
	if d := h.Get("X-Amz-Sdk-Checksum-Algorithm"); d != "" {
		a, ok := checksum.Parse(d)
		if !ok {
			return nil, s3err.InvalidRequest.Msg("Value for x-amz-sdk-checksum-algorithm header is invalid.")
		}
		if c.alg == "" && h.Get("X-Amz-Trailer") == "" {
			return nil, s3err.InvalidRequest.Msg("x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
		}
		if c.alg != "" && a != c.alg {
			return nil, s3err.BadDigest.Msg("The " + string(a) + " you specified did not match the calculated checksum.")
		}
		c.declared = string(a)
	}
	if c.alg != "" {
		c.sum = c.alg.New()
	}
	return c, nil
}

// wrap returns body with the hashing attached.
func (c *bodyCheck) wrap(body io.Reader) io.Reader {
	switch {
	case c.md5 != nil && c.sum != nil:
		return io.TeeReader(body, io.MultiWriter(c.md5, c.sum))
	case c.md5 != nil:
		return io.TeeReader(body, c.md5)
	case c.sum != nil:
		return io.TeeReader(body, c.sum)
	}
	return body
}

// verify runs after the body ended: it compares digests and returns the
// checksum to store.
func (c *bodyCheck) verify() (*store.Checksum, error) {
	if c.md5 != nil && subtle.ConstantTimeCompare(c.md5.Sum(nil), c.wantMD5) != 1 {
		return nil, s3err.BadDigest
	}
	if c.sum == nil {
		return nil, nil
	}
	got := checksum.Encode(c.sum.Sum(nil))
	if c.trailer != "" {
		v, ok := c.chunked.Trailer(c.trailer)
		if !ok {
			return nil, s3err.InvalidRequest.Msg("The " + c.trailer + " trailer announced in x-amz-trailer was not sent")
		}
		if !c.alg.Valid(v) {
			return nil, s3err.InvalidRequest.Msg("Value for " + c.trailer + " trailing header is invalid.")
		}
		c.wantSum = v
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(c.wantSum)) != 1 {
		return nil, s3err.BadDigest.Msg("The " + string(c.alg) + " you specified did not match the calculated checksum.")
	}
	return &store.Checksum{Algorithm: string(c.alg), Value: got, Type: "FULL_OBJECT"}, nil
}

func isTrailerMode(p string) bool {
	return p == sigv4.StreamingSignedTrailer || p == sigv4.StreamingUnsignedTrailer
}

// requestBody returns the request body as the object's bytes: decoded from
// aws-chunked (every chunk and trailer signature checked) or checked
// against the signed payload hash, as the payload mode says. A plain body
// needs a Content-Length (S3 takes no HTTP-chunked upload without
// aws-chunked).
func requestBody(req *request) (io.Reader, error) {
	r := req.Request
	payload := sigv4.UnsignedPayload // anonymous requests (allowed by a bucket policy)
	if req.auth != nil {
		payload = req.auth.PayloadHash
	}
	switch payload {
	case sigv4.StreamingSigned, sigv4.StreamingSignedTrailer, sigv4.StreamingUnsignedTrailer:
		declared := int64(-1)
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, s3err.InvalidArgument.Msg("x-amz-decoded-content-length is not a valid length").With("ArgumentName", "x-amz-decoded-content-length").With("ArgumentValue", v)
			}
			declared = n
		} else if payload == sigv4.StreamingSigned {
			return nil, s3err.MissingContentLength.Msg("You must provide the x-amz-decoded-content-length header with aws-chunked uploads.")
		}
		if declared > store.MaxPutSize {
			return nil, s3err.EntityTooLarge.With("ProposedSize", strconv.FormatInt(declared, 10)).With("MaxSizeAllowed", strconv.FormatInt(store.MaxPutSize, 10))
		}
		req.chunked = sigv4.NewChunkedReader(r.Body, payload, req.auth, declared)
		return req.chunked, nil
	}
	if r.ContentLength < 0 {
		return nil, s3err.MissingContentLength
	}
	if r.ContentLength > store.MaxPutSize {
		return nil, s3err.EntityTooLarge.With("ProposedSize", strconv.FormatInt(r.ContentLength, 10)).With("MaxSizeAllowed", strconv.FormatInt(store.MaxPutSize, 10))
	}
	var body io.Reader = r.Body
	if payload != sigv4.UnsignedPayload {
		body = sigv4.NewPayloadVerifier(body, payload)
	}
	return body, nil
}
