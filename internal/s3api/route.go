package s3api

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/store"
)

// Operation names, as in the S3 API reference.
const (
	opListBuckets             = "ListBuckets"
	opCreateBucket            = "CreateBucket"
	opHeadBucket              = "HeadBucket"
	opDeleteBucket            = "DeleteBucket"
	opGetBucketLocation       = "GetBucketLocation"
	opListObjects             = "ListObjects"
	opListObjectsV2           = "ListObjectsV2"
	opListMultipartUploads    = "ListMultipartUploads"
	opDeleteObjects           = "DeleteObjects"
	opPutObject               = "PutObject"
	opCopyObject              = "CopyObject"
	opGetObject               = "GetObject"
	opHeadObject              = "HeadObject"
	opDeleteObject            = "DeleteObject"
	opPutObjectTagging        = "PutObjectTagging"
	opGetObjectTagging        = "GetObjectTagging"
	opDeleteObjectTagging     = "DeleteObjectTagging"
	opCreateMultipartUpload   = "CreateMultipartUpload"
	opUploadPart              = "UploadPart"
	opUploadPartCopy          = "UploadPartCopy"
	opCompleteMultipartUpload = "CompleteMultipartUpload"
	opAbortMultipartUpload    = "AbortMultipartUpload"
	opListParts               = "ListParts"
	opGetObjectAttributes     = "GetObjectAttributes"
	opPutBucketPolicy         = "PutBucketPolicy"
	opGetBucketPolicy         = "GetBucketPolicy"
	opDeleteBucketPolicy      = "DeleteBucketPolicy"
	opGetBucketPolicyStatus   = "GetBucketPolicyStatus"
)

// unimplementedSubresources are S3 sub-resources cairn does not serve yet:
// a request naming one gets 501 NotImplemented instead of being mistaken
// for a plain object or bucket operation.
var unimplementedSubresources = []string{
	"accelerate", "acl", "analytics", "cors", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metadataConfiguration", "metadataTable", "metrics",
	"notification", "object-lock", "ownershipControls", "publicAccessBlock",
	"renameObject", "replication", "requestPayment", "restore", "retention", "select", "session",
	"torrent", "versioning", "versions", "website", "versionId",
}

// route finds the bucket, the key and the operation of a request.
func (s *Server) route(req *request) error {
	r := req.Request
	path := r.URL.Path
	if !strings.HasPrefix(path, "/") {
		return s3err.InvalidURI
	}
	if req.virtual {
		req.bucket = req.vbucket
		req.key = path[1:]
	} else {
		rest := path[1:]
		req.bucket, req.key, _ = strings.Cut(rest, "/")
	}
	if req.key != "" {
		if len(req.key) > store.MaxKeyLength {
			return s3err.KeyTooLong.With("MaxSizeAllowed", "1024").With("Size", itoa(len(req.key)))
		}
		if !utf8.ValidString(req.key) {
			return s3err.InvalidURI.Because("key is not valid UTF-8")
		}
	}
	q := r.URL.Query()
	req.query = q
	for _, sub := range unimplementedSubresources {
		if _, ok := q[sub]; ok {
			if sub == "versionId" && (q.Get("versionId") == "null" || q.Get("versionId") == "") {
				continue // the only version of an unversioned object
			}
			req.op = r.Method + " ?" + sub
			return s3err.NotImplemented.Msg("The " + sub + " sub-resource is not implemented.").Because("sub-resource " + sub)
		}
	}
	req.op = operation(r.Method, req.bucket, req.key, q, r.Header)
	if req.op == "" {
		return s3err.MethodNotAllowed.With("Method", r.Method).With("ResourceType", resourceType(req))
	}
	if req.bucket != "" && req.op != opCreateBucket && !validBucketRef(req.bucket) {
		return s3err.InvalidBucketName.With("BucketName", req.bucket)
	}
	return nil
}

func resourceType(req *request) string {
	switch {
	case req.bucket == "":
		return "SERVICE"
	case req.key == "":
		return "BUCKET"
	}
	return "OBJECT"
}

// virtualHostBucket extracts the bucket from Host "<bucket>.<domain>[:port]".
func (s *Server) virtualHostBucket(host string) (string, bool) {
	if s.domain == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if b, ok := strings.CutSuffix(host, "."+s.domain); ok && b != "" {
		return b, true
	}
	return "", false
}

func has(q url.Values, k string) bool { _, ok := q[k]; return ok }

// operation maps method, target and sub-resources to an operation name,
// or "" when the method is not allowed on that resource.
func operation(method, bucket, key string, q url.Values, h http.Header) string {
	switch {
	case bucket == "":
		if method == http.MethodGet {
			return opListBuckets
		}
		return ""
	case key == "":
		switch method {
		case http.MethodGet:
			switch {
			case has(q, "policy"):
				return opGetBucketPolicy
			case has(q, "policyStatus"):
				return opGetBucketPolicyStatus
			case has(q, "location"):
				return opGetBucketLocation
			case has(q, "uploads"):
				return opListMultipartUploads
			case q.Get("list-type") == "2":
				return opListObjectsV2
			}
			return opListObjects
		case http.MethodHead:
			return opHeadBucket
		case http.MethodPut:
			if has(q, "policy") {
				return opPutBucketPolicy
			}
			return opCreateBucket
		case http.MethodDelete:
			if has(q, "policy") {
				return opDeleteBucketPolicy
			}
			return opDeleteBucket
		case http.MethodPost:
			if has(q, "delete") {
				return opDeleteObjects
			}
		}
		return ""
	}
	switch method {
	case http.MethodGet:
		switch {
		case has(q, "uploadId"):
			return opListParts
		case has(q, "tagging"):
			return opGetObjectTagging
		case has(q, "attributes"):
			return opGetObjectAttributes
		}
		return opGetObject
	case http.MethodHead:
		return opHeadObject
	case http.MethodPut:
		switch {
		case has(q, "partNumber") || has(q, "uploadId"):
			if h.Get("X-Amz-Copy-Source") != "" {
				return opUploadPartCopy
			}
			return opUploadPart
		case has(q, "tagging"):
			return opPutObjectTagging
		case h.Get("X-Amz-Copy-Source") != "":
			return opCopyObject
		}
		return opPutObject
	case http.MethodDelete:
		switch {
		case has(q, "uploadId"):
			return opAbortMultipartUpload
		case has(q, "tagging"):
			return opDeleteObjectTagging
		}
		return opDeleteObject
	case http.MethodPost:
		switch {
		case has(q, "uploads"):
			return opCreateMultipartUpload
		case has(q, "uploadId"):
			return opCompleteMultipartUpload
		}
	}
	return ""
}

// validBucketName applies the naming rules for new general-purpose buckets.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) || strings.Contains(name, "..") {
		return false
	}
	if net.ParseIP(name) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3"} {
		if strings.HasSuffix(name, sfx) {
			return false
		}
	}
	return true
}

// validBucketRef is looser: it only refuses names no bucket can have, so
// that requests for existing buckets are never rejected by a rule change.
func validBucketRef(name string) bool {
	if len(name) < 3 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
