package s3api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/internal/testserver"
)

func TestStaticUsersAndAuthErrors(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, Config: `
users:
  - name: alice
    access_key: AKIAALICE00000000000
    secret_key: alice-secret-0000000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
`})
	root := s.Client(true)
	b := newBucket(t, root, "authz")
	alice := s.ClientWith("AKIAALICE00000000000", "alice-secret-0000000000", false)
	_, err := alice.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("from-alice"), Body: strings.NewReader("hi")})
	must(t, err)
	wrong := s.ClientWith("AKIAALICE00000000000", "not-the-secret", true)
	_, err = wrong.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("from-alice")})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	unknown := s.ClientWith("AKIANOBODY0000000000", "whatever-secret", true)
	_, err = unknown.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, err, "InvalidAccessKeyId", 403)

	// Anonymous requests are refused until bucket policies exist.
	wantRaw(t, do(t, s, "GET", "/authz/from-alice", nil, nil, false, nil), 403, "AccessDenied")
	wantRaw(t, do(t, s, "GET", "/", nil, nil, false, nil), 403, "AccessDenied")

	// The signed payload hash is checked against the body, and nothing is
	// stored when it does not match.
	r := do(t, s, "PUT", "/authz/tampered", []byte("original"), nil, true, func(r *http.Request) {
		r.Body = http.NoBody
		r.Body = readCloser(bytes.NewReader([]byte("replaced")))
	})
	wantRaw(t, r, 400, "XAmzContentSHA256Mismatch")
	if !strings.Contains(string(r.Body), "<ClientComputedContentSHA256>") {
		t.Fatalf("mismatch body %s", r.Body)
	}
	_, err = root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("tampered")})
	wantErr(t, err, "NotFound", 404)

	// UNSIGNED-PAYLOAD is accepted.
	r = do(t, s, "PUT", "/authz/unsigned", []byte("body"), map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}, true, nil)
	if r.Status != 200 {
		t.Fatalf("unsigned payload: %d %s", r.Status, r.Body)
	}
	// Missing x-amz-content-sha256.
	wantRaw(t, do(t, s, "GET", "/authz/unsigned", nil, nil, true, func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }), 400, "InvalidRequest")
	// An x-amz-* header added after signing.
	r = do(t, s, "PUT", "/authz/meta", []byte("b"), nil, true, func(r *http.Request) { r.Header.Set("X-Amz-Meta-Injected", "1") })
	wantRaw(t, r, 403, "AccessDenied")
	if !strings.Contains(string(r.Body), "<HeadersNotSigned>x-amz-meta-injected</HeadersNotSigned>") {
		t.Fatalf("HeadersNotSigned missing: %s", r.Body)
	}
	// Clock skew.
	signAt = time.Now().Add(-20 * time.Minute)
	r = do(t, s, "GET", "/authz/unsigned", nil, nil, true, nil)
	signAt = time.Time{}
	wantRaw(t, r, 403, "RequestTimeTooSkewed")
	if !strings.Contains(string(r.Body), "<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>") {
		t.Fatalf("skew body: %s", r.Body)
	}
	// Wrong region names the right one.
	wrongRegion := s3.New(s3.Options{Region: "eu-central-1", BaseEndpoint: aws.String(s.URL), UsePathStyle: true,
		Credentials: root.Options().Credentials, HTTPClient: s.HTTPClient(), RetryMaxAttempts: 1})
	_, err = wrongRegion.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, err, "AuthorizationHeaderMalformed", 400)
	// A SigV2 header is refused with the AWS wording.
	r = do(t, s, "GET", "/authz/unsigned", nil, map[string]string{"Authorization": "AWS " + testserver.RootAccessKey + ":c2lnbmF0dXJl"}, false, nil)
	wantRaw(t, r, 400, "InvalidRequest")
	if !strings.Contains(string(r.Body), "Please use AWS4-HMAC-SHA256") {
		t.Fatalf("sigv2 message: %s", r.Body)
	}
}

type rc struct{ *bytes.Reader }

func (rc) Close() error { return nil }

func readCloser(r *bytes.Reader) rc { return rc{r} }

func TestBadInput(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	newBucket(t, c, "bad")
	cases := []struct {
		name, method, path string
		body               string
		hdr                map[string]string
		status             int
		code               string
	}{
		{"malformed tagging xml", "PUT", "/bad/k?tagging", "<Tagging><TagSet>", nil, 400, "MalformedXML"},
		{"malformed create bucket xml", "PUT", "/newbucket", "<CreateBucketConfiguration>", nil, 400, "MalformedXML"},
		{"oversized metadata", "PUT", "/bad/meta", "x", map[string]string{"X-Amz-Meta-Big": strings.Repeat("v", 2100)}, 400, "MetadataTooLarge"},
		{"invalid bucket name", "PUT", "/Bad_Name", "", nil, 400, "InvalidBucketName"},
		{"bucket ref too short", "GET", "/ab", "", nil, 400, "InvalidBucketName"},
		{"key too long", "PUT", "/bad/" + strings.Repeat("k", 1025), "x", nil, 400, "KeyTooLongError"},
		{"unknown subresource acl", "GET", "/bad?acl", "", nil, 501, "NotImplemented"},
		{"unknown subresource versioning", "PUT", "/bad?versioning", "<VersioningConfiguration/>", nil, 501, "NotImplemented"},
		{"unknown subresource object lock", "GET", "/bad/k?retention", "", nil, 501, "NotImplemented"},
		{"no bucket policy", "GET", "/bad?policy", "", nil, 404, "NoSuchBucketPolicy"},
		{"lifecycle not implemented", "GET", "/bad?lifecycle", "", nil, 501, "NotImplemented"},
		{"method not allowed", "POST", "/bad/k", "", nil, 405, "MethodNotAllowed"},
		{"service put", "PUT", "/", "", nil, 405, "MethodNotAllowed"},
		{"bad tagging header", "PUT", "/bad/t", "x", map[string]string{"X-Amz-Tagging": "a=1&a=2"}, 400, "InvalidTag"},
		{"bad storage class", "PUT", "/bad/t", "x", map[string]string{"X-Amz-Storage-Class": "PLATINUM"}, 400, "InvalidStorageClass"},
		{"bad content-md5", "PUT", "/bad/t", "x", map[string]string{"Content-MD5": "!!"}, 400, "InvalidDigest"},
		{"wrong content-md5", "PUT", "/bad/t", "x", map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, 400, "BadDigest"},
		{"wrong crc32", "PUT", "/bad/t", "x", map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, 400, "BadDigest"},
		{"malformed crc32", "PUT", "/bad/t", "x", map[string]string{"X-Amz-Checksum-Crc32": "zz"}, 400, "InvalidRequest"},
		{"algorithm without value", "PUT", "/bad/t", "x", map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "CRC32"}, 400, "InvalidRequest"},
		{"bad part number", "PUT", "/bad/k?partNumber=0&uploadId=x", "x", nil, 400, "InvalidArgument"},
		{"bad max-keys", "GET", "/bad?max-keys=-1", "", nil, 400, "InvalidArgument"},
		{"bad copy source", "PUT", "/bad/c", "", map[string]string{"X-Amz-Copy-Source": "%zz"}, 400, "InvalidArgument"},
		{"copy bad directive", "PUT", "/bad/c", "", map[string]string{"X-Amz-Copy-Source": "bad/k", "X-Amz-Metadata-Directive": "MERGE"}, 400, "InvalidArgument"},
		{"complete garbage", "POST", "/bad/k?uploadId=00000000000000000000000000000000", "not xml", nil, 400, "MalformedXML"},
		{"complete unknown upload", "POST", "/bad/k?uploadId=00000000000000000000000000000000", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", nil, 404, "NoSuchUpload"},
		{"signed streaming without decoded length", "PUT", "/bad/s", "", map[string]string{"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, 411, "MissingContentLength"},
		{"sigv4a streaming", "PUT", "/bad/s", "", map[string]string{"X-Amz-Content-Sha256": "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"}, 501, "NotImplemented"},
		{"trailer without streaming", "PUT", "/bad/s", "x", map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, 400, "InvalidRequest"},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			wantRaw(t, do(t, s, cs.method, cs.path, []byte(cs.body), cs.hdr, true, nil), cs.status, cs.code)
		})
	}
	// Range garbage is ignored, as S3 does.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("r"), Body: strings.NewReader("abc")})
	must(t, err)
	for _, rg := range []string{"bytes=", "bytes=-", "bytes=a-b", "bytes=--1", "bytes=1-2-3", "bytes= 99999999999999999999999-"} {
		r := do(t, s, "GET", "/bad/r", nil, map[string]string{"Range": rg}, true, nil)
		if r.Status != 200 || string(r.Body) != "abc" {
			t.Fatalf("range %q: %d %q", rg, r.Status, r.Body)
		}
	}
	// Malformed tagging XML on an existing key.
	r := do(t, s, "PUT", "/bad/r?tagging", []byte("<Tagging><TagSet>"), nil, true, nil)
	wantRaw(t, r, 400, "MalformedXML")
	r = do(t, s, "PUT", "/bad/r?tagging", nil, nil, true, nil)
	wantRaw(t, r, 400, "MissingRequestBodyError")
	// A body shorter than its Content-Length leaves nothing behind.
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bad"), Key: aws.String("t")})
	wantErr(t, err, "NotFound", 404)
}
