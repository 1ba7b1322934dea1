package s3api

import (
	"net"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
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
func (s *Server) requestContext(req *request) policy.Context {
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
	if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		ctx.Set("aws:SourceIp", host)
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
		q := req.URL.Query()
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
	return ctx
}

// authorize decides whether the caller may run the operation.
func (s *Server) authorize(req *request) error {
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
