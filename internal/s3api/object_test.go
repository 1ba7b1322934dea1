package s3api_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-io/cairn/internal/testserver"
)

func md5b64(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }
func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func newBucket(t *testing.T, c *s3.Client, name string) *string {
	t.Helper()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	must(t, err)
	return aws.String(name)
}

func TestPutGetHeadObject(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := newBucket(t, c, "objects")
		for _, size := range []int{0, 1, 64 << 10, 64<<10 + 1, 3 << 20} {
			body := bytes.Repeat([]byte{byte(size % 251)}, size)
			for i := range body {
				body[i] = byte(i * 7)
			}
			key := fmt.Sprintf("size/%d", size)
			put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: bytes.NewReader(body),
				ContentType: aws.String("text/x-test"), CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="x"`),
				ContentEncoding: aws.String("identity"), ContentLanguage: aws.String("en"), Expires: aws.Time(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)),
				Metadata: map[string]string{"color": "blue", "Mixed-Case": "Value  with  spaces"}})
			must(t, err)
			if *put.ETag != `"`+md5hex(body)+`"` {
				t.Fatalf("ETag %s want %s", *put.ETag, md5hex(body))
			}
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
			must(t, err)
			got := readAll(t, get.Body)
			if got != string(body) {
				t.Fatalf("size %d: body differs (%d bytes)", size, len(got))
			}
			if *get.ContentType != "text/x-test" || *get.CacheControl != "max-age=60" || *get.ContentDisposition != `attachment; filename="x"` ||
				*get.ContentEncoding != "identity" || *get.ContentLanguage != "en" || *get.ContentLength != int64(size) || *get.ETag != *put.ETag ||
				get.Metadata["color"] != "blue" || get.Metadata["mixed-case"] != "Value  with  spaces" || *get.AcceptRanges != "bytes" {
				t.Fatalf("headers: %+v meta %v", get, get.Metadata)
			}
			if get.ExpiresString == nil || *get.ExpiresString != "Tue, 01 Jan 2030 00:00:00 GMT" {
				t.Fatalf("Expires %v", aws.ToString(get.ExpiresString))
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
			must(t, err)
			if *head.ContentLength != int64(size) || *head.ETag != *put.ETag || head.LastModified == nil || head.Metadata["color"] != "blue" {
				t.Fatalf("head %+v", head)
			}
		}
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("missing")})
		wantErr(t, err, "NoSuchKey", 404)
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("missing")})
		wantErr(t, err, "NotFound", 404)
		// Default content type.
		if r := do(t, s, "PUT", "/objects/plain", []byte("p"), nil, true, nil); r.Status != 200 {
			t.Fatalf("raw put: %d %s", r.Status, r.Body)
		}
		r := do(t, s, "HEAD", "/objects/plain", nil, nil, true, nil)
		if r.Header.Get("Content-Type") != "binary/octet-stream" {
			t.Fatalf("default content type %q", r.Header.Get("Content-Type"))
		}
	})
}

func TestHeadErrorHasNoBody(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	newBucket(t, s.Client(true), "hbk")
	r := do(t, s, "HEAD", "/hbk/missing", nil, nil, true, nil)
	if r.Status != 404 || len(r.Body) != 0 || r.Header.Get("X-Amz-Request-Id") == "" {
		t.Fatalf("HEAD 404: %d %q", r.Status, r.Body)
	}
}

func TestAwkwardKeys(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := newBucket(t, c, "keys")
		keys := []string{"a", "a/b", "a/b/c", "..", "../escape", "a/../../etc/passwd", "%", "%2F", "+", "a b", "with?query", "hash#tag",
			"日本語/ファイル", "emoji 🎉", "tab\tkey", "semi;colon", "a//double", "/leading", "trailing/", "~tilde", strings.Repeat("k", 1024)}
		for i, k := range keys {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(fmt.Sprint("body-", i))})
			if err != nil {
				t.Fatalf("put %q: %v", k, err)
			}
		}
		for i, k := range keys {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(k)})
			if err != nil {
				t.Fatalf("get %q: %v", k, err)
			}
			if got := readAll(t, out.Body); got != fmt.Sprint("body-", i) {
				t.Fatalf("key %q: got %q", k, got)
			}
		}
		l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b})
		must(t, err)
		if len(l.Contents) != len(keys) {
			t.Fatalf("listed %d of %d keys", len(l.Contents), len(keys))
		}
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
		wantErr(t, err, "KeyTooLongError", 400)
	})
}

func TestRangeGet(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	b := newBucket(t, c, "ranges")
	body := "0123456789abcdefghij" // 20 bytes
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("r"), Body: strings.NewReader(body)})
	must(t, err)
	cases := []struct {
		rng, want, contentRange string
		status                  int
	}{
		{"bytes=0-4", "01234", "bytes 0-4/20", 206},
		{"bytes=5-", "56789abcdefghij", "bytes 5-19/20", 206},
		{"bytes=-3", "hij", "bytes 17-19/20", 206},
		{"bytes=15-100", "fghij", "bytes 15-19/20", 206},
		{"bytes=-100", body, "bytes 0-19/20", 206},
		{"bytes=19-19", "j", "bytes 19-19/20", 206},
		{"bytes=garbage", body, "", 200},
		{"bytes=5-2", body, "", 200},
		{"items=0-1", body, "", 200},
		{"bytes=0-1,3-4", body, "", 200},
	}
	for _, cs := range cases {
		r := do(t, s, "GET", "/ranges/r", nil, map[string]string{"Range": cs.rng}, true, nil)
		if r.Status != cs.status || string(r.Body) != cs.want || r.Header.Get("Content-Range") != cs.contentRange {
			t.Fatalf("%s: %d %q %q", cs.rng, r.Status, r.Body, r.Header.Get("Content-Range"))
		}
	}
	for _, rng := range []string{"bytes=20-", "bytes=25-30", "bytes=-0"} {
		r := do(t, s, "GET", "/ranges/r", nil, map[string]string{"Range": rng}, true, nil)
		wantRaw(t, r, 416, "InvalidRange")
		if r.Header.Get("Content-Range") != "bytes */20" || !strings.Contains(string(r.Body), "<ActualObjectSize>20</ActualObjectSize>") {
			t.Fatalf("%s: %q %s", rng, r.Header.Get("Content-Range"), r.Body)
		}
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("r"), Range: aws.String("bytes=2-3")})
	must(t, err)
	if got := readAll(t, out.Body); got != "23" || *out.ContentRange != "bytes 2-3/20" {
		t.Fatalf("sdk range: %q %s", got, *out.ContentRange)
	}
}

func TestConditionalGet(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	b := newBucket(t, c, "cond")
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("data")})
	must(t, err)
	etag := *put.ETag
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		hdr    map[string]string
		status int
		code   string
	}{
		{map[string]string{"If-Match": etag}, 200, ""},
		{map[string]string{"If-Match": `"nope"`}, 412, "PreconditionFailed"},
		{map[string]string{"If-Match": "*"}, 200, ""},
		{map[string]string{"If-None-Match": etag}, 304, ""},
		{map[string]string{"If-None-Match": `"nope"`}, 200, ""},
		{map[string]string{"If-Modified-Since": future}, 304, ""},
		{map[string]string{"If-Modified-Since": past}, 200, ""},
		{map[string]string{"If-Unmodified-Since": past}, 412, "PreconditionFailed"},
		{map[string]string{"If-Unmodified-Since": future}, 200, ""},
		// If-Match true wins over If-Unmodified-Since false.
		{map[string]string{"If-Match": etag, "If-Unmodified-Since": past}, 200, ""},
		// If-None-Match false (matches) with If-Modified-Since true: 304.
		{map[string]string{"If-None-Match": etag, "If-Modified-Since": past}, 304, ""},
	}
	for _, cs := range cases {
		r := do(t, s, "GET", "/cond/k", nil, cs.hdr, true, nil)
		if r.Status != cs.status || r.errorCode() != cs.code {
			t.Fatalf("%v: %d %s", cs.hdr, r.Status, r.Body)
		}
		if cs.status == 304 && (len(r.Body) != 0 || r.Header.Get("ETag") != etag) {
			t.Fatalf("304 with body %q etag %q", r.Body, r.Header.Get("ETag"))
		}
		if cs.status == 200 && string(r.Body) != "data" {
			t.Fatalf("200 body %q", r.Body)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), IfMatch: aws.String(`"other"`)})
	wantErr(t, err, "PreconditionFailed", 412)
}

func TestResponseOverrides(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	b := newBucket(t, c, "ovr")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"), ContentType: aws.String("text/plain")})
	must(t, err)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), ResponseContentType: aws.String("application/json"),
		ResponseContentDisposition: aws.String("attachment"), ResponseCacheControl: aws.String("no-cache"), ResponseContentLanguage: aws.String("fr"),
		ResponseContentEncoding: aws.String("gzip"), ResponseExpires: aws.Time(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC))})
	must(t, err)
	readAll(t, out.Body)
	if *out.ContentType != "application/json" || *out.ContentDisposition != "attachment" || *out.CacheControl != "no-cache" ||
		*out.ContentLanguage != "fr" || *out.ContentEncoding != "gzip" || *out.ExpiresString != "Mon, 03 Feb 2031 04:05:06 GMT" {
		t.Fatalf("overrides: %+v", out)
	}
	wantRaw(t, do(t, s, "GET", "/ovr/k?response-content-foo=bar", nil, nil, true, nil), 400, "InvalidArgument")
}

func TestCopyObject(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := newBucket(t, c, "copy")
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("src key+1"), Body: strings.NewReader("source-bytes"),
			ContentType: aws.String("text/a"), Metadata: map[string]string{"m": "1"}, Tagging: aws.String("t=1")})
		must(t, err)
		cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst"), CopySource: aws.String("copy/src%20key%2B1")})
		must(t, err)
		if *cp.CopyObjectResult.ETag != *put.ETag {
			t.Fatalf("copy ETag %s want %s", *cp.CopyObjectResult.ETag, *put.ETag)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dst")})
		must(t, err)
		if readAll(t, get.Body) != "source-bytes" || *get.ContentType != "text/a" || get.Metadata["m"] != "1" || *get.TagCount != 1 {
			t.Fatalf("COPY directive lost metadata: %+v", get)
		}
		// REPLACE metadata.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst2"), CopySource: aws.String("copy/src%20key%2B1"),
			MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/b"), Metadata: map[string]string{"n": "2"}})
		must(t, err)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("dst2")})
		must(t, err)
		if *head.ContentType != "text/b" || head.Metadata["n"] != "2" || head.Metadata["m"] != "" {
			t.Fatalf("REPLACE: %+v %v", head, head.Metadata)
		}
		// Onto itself: only with REPLACE.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst"), CopySource: aws.String("copy/dst")})
		wantErr(t, err, "InvalidRequest", 400)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst"), CopySource: aws.String("copy/dst"),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"self": "yes"}})
		must(t, err)
		get, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dst")})
		must(t, err)
		if readAll(t, get.Body) != "source-bytes" || get.Metadata["self"] != "yes" {
			t.Fatalf("self copy: %v", get.Metadata)
		}
		// Conditions on the source.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst3"), CopySource: aws.String("copy/dst2"), CopySourceIfMatch: aws.String(`"nope"`)})
		wantErr(t, err, "PreconditionFailed", 412)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst3"), CopySource: aws.String("copy/dst2"), CopySourceIfNoneMatch: put.ETag})
		wantErr(t, err, "PreconditionFailed", 412)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst3"), CopySource: aws.String("copy/dst2"), CopySourceIfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
		wantErr(t, err, "PreconditionFailed", 412)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst3"), CopySource: aws.String("copy/dst2"), CopySourceIfMatch: put.ETag})
		must(t, err)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst4"), CopySource: aws.String("copy/missing")})
		wantErr(t, err, "NoSuchKey", 404)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("dst4"), CopySource: aws.String("nobucket")})
		wantErr(t, err, "InvalidArgument", 400)
	})
}

func TestObjectTagging(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := newBucket(t, c, "tags")
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"), Tagging: aws.String("a=1&b=two%20words")})
		must(t, err)
		tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")})
		must(t, err)
		if len(tg.TagSet) != 2 || *tg.TagSet[1].Key != "b" || *tg.TagSet[1].Value != "two words" {
			t.Fatalf("tags %+v", tg.TagSet)
		}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("z"), Value: aws.String("9")}}}})
		must(t, err)
		tg, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")})
		must(t, err)
		if len(tg.TagSet) != 1 || *tg.TagSet[0].Key != "z" {
			t.Fatalf("replaced tags %+v", tg.TagSet)
		}
		// Tagging does not touch the data.
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k")})
		must(t, err)
		if readAll(t, get.Body) != "x" || *get.TagCount != 1 {
			t.Fatal("data or tag count changed")
		}
		_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("k")})
		must(t, err)
		tg, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")})
		must(t, err)
		if len(tg.TagSet) != 0 {
			t.Fatalf("tags after delete %+v", tg.TagSet)
		}
		var eleven []types.Tag
		for i := 0; i < 11; i++ {
			eleven = append(eleven, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
		}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: eleven}})
		wantErr(t, err, "BadRequest", 400)
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: []types.Tag{
			{Key: aws.String("d"), Value: aws.String("1")}, {Key: aws.String("d"), Value: aws.String("2")}}}})
		wantErr(t, err, "InvalidTag", 400)
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("missing"), Tagging: &types.Tagging{TagSet: []types.Tag{}}})
		wantErr(t, err, "NoSuchKey", 404)
	})
}
