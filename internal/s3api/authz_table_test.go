package s3api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Every S3 operation maps to its IAM action and resource, row by row
// (the table of ../shared/reference/iam-policy.md §8).
func TestOperationActionTable(t *testing.T) {
	s := &Server{domain: "s3.cairn.test"}
	rows := []struct {
		method, target string
		hdr            map[string]string
		op, action     string
		resource       string
	}{
		{"GET", "/", nil, opListBuckets, "s3:ListAllMyBuckets", "*"},
		{"PUT", "/bkt", nil, opCreateBucket, "s3:CreateBucket", "arn:aws:s3:::bkt"},
		{"HEAD", "/bkt", nil, opHeadBucket, "s3:ListBucket", "arn:aws:s3:::bkt"},
		{"DELETE", "/bkt", nil, opDeleteBucket, "s3:DeleteBucket", "arn:aws:s3:::bkt"},
		{"GET", "/bkt?location", nil, opGetBucketLocation, "s3:GetBucketLocation", "arn:aws:s3:::bkt"},
		{"GET", "/bkt", nil, opListObjects, "s3:ListBucket", "arn:aws:s3:::bkt"},
		{"GET", "/bkt?list-type=2&prefix=x", nil, opListObjectsV2, "s3:ListBucket", "arn:aws:s3:::bkt"},
		{"GET", "/bkt?uploads", nil, opListMultipartUploads, "s3:ListBucketMultipartUploads", "arn:aws:s3:::bkt"},
		{"PUT", "/bkt?policy", nil, opPutBucketPolicy, "s3:PutBucketPolicy", "arn:aws:s3:::bkt"},
		{"GET", "/bkt?policy", nil, opGetBucketPolicy, "s3:GetBucketPolicy", "arn:aws:s3:::bkt"},
		{"DELETE", "/bkt?policy", nil, opDeleteBucketPolicy, "s3:DeleteBucketPolicy", "arn:aws:s3:::bkt"},
		{"GET", "/bkt?policyStatus", nil, opGetBucketPolicyStatus, "s3:GetBucketPolicyStatus", "arn:aws:s3:::bkt"},
		{"PUT", "/bkt/k", nil, opPutObject, "s3:PutObject", "arn:aws:s3:::bkt/k"},
		{"PUT", "/bkt/dir/k%20x", nil, opPutObject, "s3:PutObject", "arn:aws:s3:::bkt/dir/k x"},
		{"PUT", "/bkt/k", map[string]string{"X-Amz-Copy-Source": "src/key"}, opCopyObject, "s3:PutObject", "arn:aws:s3:::bkt/k"},
		{"GET", "/bkt/k", nil, opGetObject, "s3:GetObject", "arn:aws:s3:::bkt/k"},
		{"GET", "/bkt/k?partNumber=2", nil, opGetObject, "s3:GetObject", "arn:aws:s3:::bkt/k"},
		{"HEAD", "/bkt/k", nil, opHeadObject, "s3:GetObject", "arn:aws:s3:::bkt/k"},
		{"DELETE", "/bkt/k", nil, opDeleteObject, "s3:DeleteObject", "arn:aws:s3:::bkt/k"},
		{"PUT", "/bkt/k?tagging", nil, opPutObjectTagging, "s3:PutObjectTagging", "arn:aws:s3:::bkt/k"},
		{"GET", "/bkt/k?tagging", nil, opGetObjectTagging, "s3:GetObjectTagging", "arn:aws:s3:::bkt/k"},
		{"DELETE", "/bkt/k?tagging", nil, opDeleteObjectTagging, "s3:DeleteObjectTagging", "arn:aws:s3:::bkt/k"},
		{"POST", "/bkt/k?uploads", nil, opCreateMultipartUpload, "s3:PutObject", "arn:aws:s3:::bkt/k"},
		{"PUT", "/bkt/k?partNumber=1&uploadId=u", nil, opUploadPart, "s3:PutObject", "arn:aws:s3:::bkt/k"},
		{"PUT", "/bkt/k?partNumber=1&uploadId=u", map[string]string{"X-Amz-Copy-Source": "src/key"}, opUploadPartCopy, "s3:PutObject", "arn:aws:s3:::bkt/k"},
		{"POST", "/bkt/k?uploadId=u", nil, opCompleteMultipartUpload, "s3:PutObject", "arn:aws:s3:::bkt/k"},
		{"DELETE", "/bkt/k?uploadId=u", nil, opAbortMultipartUpload, "s3:AbortMultipartUpload", "arn:aws:s3:::bkt/k"},
		{"GET", "/bkt/k?uploadId=u", nil, opListParts, "s3:ListMultipartUploadParts", "arn:aws:s3:::bkt/k"},
		{"GET", "/bkt/k?attributes", nil, opGetObjectAttributes, "s3:GetObjectAttributes", "arn:aws:s3:::bkt/k"},
		{"POST", "/bkt?delete", nil, opDeleteObjects, "", "arn:aws:s3:::bkt"}, // per key, as s3:DeleteObject
	}
	for _, r := range rows {
		for _, virtual := range []bool{false, true} {
			target := r.target
			host := "127.0.0.1:9000"
			if virtual && r.target != "/" {
				// /bkt/k → Host bkt.s3.cairn.test, path /k
				rest := r.target[len("/bkt"):]
				if rest == "" || rest[0] == '?' {
					rest = "/" + rest
				}
				target, host = rest, "bkt.s3.cairn.test:9000"
			}
			hr := httptest.NewRequest(r.method, target, nil)
			hr.Host = host
			for k, v := range r.hdr {
				hr.Header.Set(k, v)
			}
			req := &request{Request: hr}
			req.vbucket, req.virtual = s.virtualHostBucket(hr.Host)
			if err := s.route(req); err != nil {
				t.Fatalf("%s %s: %v", r.method, r.target, err)
			}
			a := opActions[req.op]
			resource := "*"
			switch {
			case a.object:
				resource = objectARN(req.bucket, req.key)
			case req.bucket != "":
				resource = bucketARN(req.bucket)
			}
			if req.op != r.op || a.action != r.action || resource != r.resource {
				t.Errorf("%s %s (host %s): %s %s %s, want %s %s %s", r.method, target, host, req.op, a.action, resource, r.op, r.action, r.resource)
			}
		}
	}
	// Every operation with a handler has a row above.
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.op] = true
	}
	for op := range handlers {
		if !covered[op] {
			t.Errorf("operation %s has no row in the action table test", op)
		}
		if _, ok := opActions[op]; !ok {
			t.Errorf("operation %s has no IAM action", op)
		}
	}
	_ = http.MethodGet
}
