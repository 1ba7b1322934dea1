package s3api

import (
	"bytes"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/store"
)

// opActions maps each S3 operation to the IAM action it needs and whether
// its resource is the object (else the bucket, or "*" for the service).
// It is the one place the mapping lives; tests cover it row by row.
var opActions = map[string]struct {
	action string
	object bool
}{
	opListBuckets:             {"s3:ListAllMyBuckets", false},
	opCreateBucket:            {"s3:CreateBucket", false},
	opHeadBucket:              {"s3:ListBucket", false},
	opDeleteBucket:            {"s3:DeleteBucket", false},
	opGetBucketLocation:       {"s3:GetBucketLocation", false},
	opListObjects:             {"s3:ListBucket", false},
	opListObjectsV2:           {"s3:ListBucket", false},
	opListMultipartUploads:    {"s3:ListBucketMultipartUploads", false},
	opDeleteObjects:           {"", false}, // per key, as DeleteObject
	opPutObject:               {"s3:PutObject", true},
	opCopyObject:              {"s3:PutObject", true}, // plus s3:GetObject on the source
	opGetObject:               {"s3:GetObject", true},
	opHeadObject:              {"s3:GetObject", true},
	opDeleteObject:            {"s3:DeleteObject", true},
	opPutObjectTagging:        {"s3:PutObjectTagging", true},
	opGetObjectTagging:        {"s3:GetObjectTagging", true},
	opDeleteObjectTagging:     {"s3:DeleteObjectTagging", true},
	opCreateMultipartUpload:   {"s3:PutObject", true},
	opUploadPart:              {"s3:PutObject", true},
	opUploadPartCopy:          {"s3:PutObject", true}, // plus s3:GetObject on the source
	opCompleteMultipartUpload: {"s3:PutObject", true},
	opAbortMultipartUpload:    {"s3:AbortMultipartUpload", true},
	opListParts:               {"s3:ListMultipartUploadParts", true},
	opGetObjectAttributes:     {"s3:GetObjectAttributes", true},
	opPutBucketPolicy:         {"s3:PutBucketPolicy", false},
	opGetBucketPolicy:         {"s3:GetBucketPolicy", false},
	opDeleteBucketPolicy:      {"s3:DeleteBucketPolicy", false},
	opGetBucketPolicyStatus:   {"s3:GetBucketPolicyStatus", false},
}

// emptyContext is shared, and never written to.
var emptyContext = policy.Context{}

func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

func objectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// requestContext builds the condition keys of a request. Keys about the
// request itself are set from the request, after the principal's own keys,
// so that no token claim can override them.
func (s *Server) requestContext(req *request, existingTags bool) policy.Context {
	ctx := policy.Context{}
	if req.principal != nil {
		req.principal.AddContext(ctx)
	} else {
		ctx.Set("aws:PrincipalType", "Anonymous")
		ctx.Set("aws:userid", "anonymous")
	}
	now := time.Now().UTC()
	ctx.Set("aws:CurrentTime", now.Format(time.RFC3339))
	ctx.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	ctx.Set("aws:SecureTransport", strconv.FormatBool(req.TLS != nil))
	if ip := s.sourceIP(req.Request); ip != "" {
		ctx.Set("aws:SourceIp", ip)
	}
	ctx.Set("aws:RequestedRegion", s.region)
	if req.auth != nil {
		ctx.Set("s3:signatureversion", "AWS4-HMAC-SHA256")
		if req.auth.AuthType == "query" {
			ctx.Set("s3:authType", "REST-QUERY-STRING")
		} else {
			ctx.Set("s3:authType", "REST-HEADER")
			ctx.Set("s3:x-amz-content-sha256", req.auth.PayloadHash)
		}
	}
	switch req.op {
	case opListObjects, opListObjectsV2:
		q := req.query
		ctx.Set("s3:prefix", q.Get("prefix"))
		if d, ok := q["delimiter"]; ok {
			ctx.Set("s3:delimiter", d[0])
		}
		if m, ok := q["max-keys"]; ok {
			ctx.Set("s3:max-keys", m[0])
		}
	case opCopyObject, opUploadPartCopy:
		ctx.Set("s3:x-amz-copy-source", req.Header.Get("X-Amz-Copy-Source"))
		if d := req.Header.Get("X-Amz-Metadata-Directive"); d != "" {
			ctx.Set("s3:x-amz-metadata-directive", d)
		}
	}
	// Tags the request sets: x-amz-tagging, or the PutObjectTagging body.
	var tags []store.Tag
	switch req.op {
	case opPutObject, opCopyObject, opCreateMultipartUpload:
		if t := req.Header.Get("X-Amz-Tagging"); t != "" {
			tags, _ = parseTagQuery(t) // the handler reports bad tags
		}
	case opPutObjectTagging:
		tags = req.bodyTags
	}
	if len(tags) > 0 {
		keys := make([]string, len(tags))
		for i, t := range tags {
			ctx.Set("s3:RequestObjectTag/"+t.Key, t.Value)
			ctx.Set("aws:RequestTag/"+t.Key, t.Value)
			keys[i] = t.Key
		}
		ctx.SetMulti("s3:RequestObjectTagKeys", keys)
		ctx.SetMulti("aws:TagKeys", keys)
	}
	// Tags already on the object, read only when a policy asks for them.
	if existingTags && req.key != "" {
		if info, err := s.store.HeadObject(req.Context(), req.bucket, req.key); err == nil {
			for _, t := range info.Tags {
				ctx.Set("s3:ExistingObjectTag/"+t.Key, t.Value)
			}
		}
	}
	return ctx
}

// sourceIP is the client's address: the peer, or, when the peer is a
// trusted proxy, the nearest untrusted address in X-Forwarded-For. Nothing
// a client sends can set it otherwise.
func (s *Server) sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr.String() // malformed chain: stop at the last proxy
		}
		if !s.trusted(a.Unmap()) {
			return a.Unmap().String()
		}
		addr = a
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// authorize decides whether the caller may run the operation.
func (s *Server) authorize(req *request) error {
	if req.op == opPutObjectTagging {
		// The tags are condition keys: read the (small) body first and
		// keep it for the handler.
		body, err := readBody(req.Body, maxXMLBody)
		if err != nil {
			return err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		var t tagging
		if xml.Unmarshal(body, &t) == nil {
			for _, x := range t.TagSet {
				req.bodyTags = append(req.bodyTags, store.Tag{Key: x.Key, Value: x.Value})
			}
		}
	}
	a, ok := opActions[req.op]
	if !ok || a.action == "" {
		return nil // checked inside the handler (DeleteObjects)
	}
	resource := "*"
	switch {
	case a.object:
		resource = objectARN(req.bucket, req.key)
	case req.bucket != "":
		resource = bucketARN(req.bucket)
	}
	return s.allow(req, a.action, resource)
}

// allow evaluates one action on one resource for the request's caller,
// with the reason of a denial for the log.
func (s *Server) allow(req *request, action, resource string) error {
	d := s.decide(req, action, resource)
	if d.Effect == policy.Allow {
		return nil
	}
	return s3err.AccessDenied.Because(action + " on " + resource + " denied for " + principalName(req.principal) + ": " + d.Explain())
}
