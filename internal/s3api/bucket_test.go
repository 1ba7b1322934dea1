package s3api_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-io/cairn/internal/testserver"
)

func styles(t *testing.T, fn func(t *testing.T, s *testserver.Server, c *s3.Client)) {
	for _, path := range []bool{true, false} {
		name := "virtual-hosted"
		if path {
			name = "path-style"
		}
		t.Run(name, func(t *testing.T) {
			s := testserver.Start(t, testserver.Options{NoSync: true})
			fn(t, s, s.Client(path))
		})
	}
}

func TestBucketLifecycle(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
		must(t, err)
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
		wantErr(t, err, "BucketAlreadyOwnedByYou", 409)
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
		wantErr(t, err, "InvalidLocationConstraint", 400)

		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
		must(t, err)
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope-nope")})
		wantErr(t, err, "NotFound", 404)

		loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
		must(t, err)
		if loc.LocationConstraint != "" {
			t.Fatalf("us-east-1 location should be empty, got %q", loc.LocationConstraint)
		}
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("gamma")})
		must(t, err)
		lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		must(t, err)
		var names []string
		for _, b := range lb.Buckets {
			names = append(names, *b.Name)
			if b.CreationDate == nil || b.CreationDate.IsZero() {
				t.Fatalf("bucket %s without creation date", *b.Name)
			}
		}
		if strings.Join(names, ",") != "alpha,gamma" {
			t.Fatalf("buckets %v", names)
		}
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")})
		must(t, err)
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
		wantErr(t, err, "BucketNotEmpty", 409)
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")})
		must(t, err)
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
		must(t, err)
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
		wantErr(t, err, "NoSuchBucket", 404)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")})
		wantErr(t, err, "NoSuchBucket", 404)
	})
}

func TestBucketNameRules(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	for _, name := range []string{"ab", strings.Repeat("a", 64), "Upper", "under_score", "-lead", "trail-", "a..b", "192.168.5.4", "xn--abc", "sthree-x", "abc-s3alias", "abc--ol-s3"} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		wantErr(t, err, "InvalidBucketName", 400)
	}
	for _, name := range []string{"abc", "a.b-c", strings.Repeat("a", 63), "123"} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		must(t, err)
	}
}

func TestListObjects(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := aws.String("list")
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
		must(t, err)
		keys := []string{"a", "a/b", "a/c/d", "b+plus", "b space", "dir/x", "dir/y", "dir/z/deep", "zz", "é-unicode", "%percent", "a/.."}
		for _, k := range keys {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader("v:" + k)})
			must(t, err)
		}
		sorted := append([]string(nil), keys...)
		sort.Strings(sorted) // byte order == UTF-8 order

		// V2, no delimiter, paged by 5.
		var got []string
		var token *string
		pages := 0
		for {
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(5), ContinuationToken: token})
			must(t, err)
			pages++
			for _, o := range out.Contents {
				got = append(got, *o.Key)
				if *o.Size != int64(len("v:"+*o.Key)) || o.ETag == nil || o.LastModified == nil {
					t.Fatalf("bad entry %+v", o)
				}
				if o.Owner != nil {
					t.Fatal("owner without fetch-owner")
				}
			}
			if *out.KeyCount != int32(len(out.Contents)) {
				t.Fatalf("KeyCount %d for %d", *out.KeyCount, len(out.Contents))
			}
			if !*out.IsTruncated {
				break
			}
			token = out.NextContinuationToken
		}
		if strings.Join(got, "|") != strings.Join(sorted, "|") || pages != 3 {
			t.Fatalf("v2 listing %q in %d pages, want %q", got, pages, sorted)
		}

		// Delimiter and prefix.
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)})
		must(t, err)
		var cps, objs []string
		for _, p := range out.CommonPrefixes {
			cps = append(cps, *p.Prefix)
		}
		for _, o := range out.Contents {
			objs = append(objs, *o.Key)
			if o.Owner == nil || *o.Owner.ID == "" {
				t.Fatal("fetch-owner gave no owner")
			}
		}
		if strings.Join(cps, ",") != "a/,dir/" || strings.Join(objs, ",") != "%percent,a,b space,b+plus,zz,é-unicode" {
			t.Fatalf("delimiter listing: prefixes %v objects %v", cps, objs)
		}
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("dir/"), Delimiter: aws.String("/")})
		must(t, err)
		if len(out.Contents) != 2 || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != "dir/z/" {
			t.Fatalf("prefix dir/: %+v", out)
		}
		// Pagination through common prefixes never repeats one.
		var seen []string
		token = nil
		for {
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(1), ContinuationToken: token})
			must(t, err)
			for _, p := range out.CommonPrefixes {
				seen = append(seen, *p.Prefix)
			}
			for _, o := range out.Contents {
				seen = append(seen, *o.Key)
			}
			if !*out.IsTruncated {
				break
			}
			token = out.NextContinuationToken
		}
		if strings.Join(seen, ",") != "%percent,a,a/,b space,b+plus,dir/,zz,é-unicode" {
			t.Fatalf("paged delimiter listing %v", seen)
		}
		// start-after.
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, StartAfter: aws.String("dir/y")})
		must(t, err)
		if *out.Contents[0].Key != "dir/z/deep" {
			t.Fatalf("start-after: first %s", *out.Contents[0].Key)
		}
		// V1 with marker and delimiter gives NextMarker.
		v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
		must(t, err)
		if !*v1.IsTruncated || *v1.NextMarker != "a" || len(v1.Contents) != 2 {
			t.Fatalf("v1 page: truncated %v next %v", *v1.IsTruncated, aws.ToString(v1.NextMarker))
		}
		v1, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: v1.NextMarker})
		must(t, err)
		if len(v1.CommonPrefixes) != 1 || *v1.CommonPrefixes[0].Prefix != "a/" || *v1.Contents[0].Key != "b space" || *v1.NextMarker != "b space" {
			t.Fatalf("v1 second page: %+v", v1)
		}
		v1, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Marker: aws.String("b+plus")})
		must(t, err)
		if len(v1.Contents) != 5 || *v1.Contents[0].Key != "dir/x" || v1.Contents[0].Owner == nil {
			t.Fatalf("v1 marker listing %d first %s", len(v1.Contents), *v1.Contents[0].Key)
		}
		// max-keys=0 and a bad max-keys.
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(0)})
		must(t, err)
		if len(out.Contents) != 0 || *out.IsTruncated {
			t.Fatalf("max-keys 0: %d entries", len(out.Contents))
		}
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
		wantErr(t, err, "NoSuchBucket", 404)
	})
}

func TestListObjectsEncodingURL(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("enc")})
	must(t, err)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("a b+c/d&e"), Body: strings.NewReader("x")})
	must(t, err)
	r := do(t, s, "GET", "/enc?list-type=2&encoding-type=url", nil, nil, true, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "<Key>a+b%2Bc/d%26e</Key>") || !strings.Contains(string(r.Body), "<EncodingType>url</EncodingType>") {
		t.Fatalf("encoded listing: %s", r.Body)
	}
	r = do(t, s, "GET", "/enc?list-type=2", nil, nil, true, nil)
	if !strings.Contains(string(r.Body), "<Key>a b+c/d&amp;e</Key>") {
		t.Fatalf("raw listing: %s", r.Body)
	}
	r = do(t, s, "GET", "/enc?list-type=2&max-keys=abc", nil, nil, true, nil)
	wantRaw(t, r, 400, "InvalidArgument")
	r = do(t, s, "GET", "/enc?list-type=2&continuation-token=%25%25", nil, nil, true, nil)
	wantRaw(t, r, 400, "InvalidArgument")
	r = do(t, s, "GET", "/enc?list-type=2&encoding-type=base64", nil, nil, true, nil)
	wantRaw(t, r, 400, "InvalidArgument")
}

func TestDeleteObjects(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := aws.String("del")
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
		must(t, err)
		for _, k := range []string{"one", "two", "three"} {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)})
			must(t, err)
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("one")}, {Key: aws.String("missing")}}}})
		must(t, err)
		if len(out.Deleted) != 2 || len(out.Errors) != 0 {
			t.Fatalf("deleted %d errors %d", len(out.Deleted), len(out.Errors))
		}
		out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{
			{Key: aws.String("two")}, {Key: aws.String("three")}}}})
		must(t, err)
		if len(out.Deleted) != 0 || len(out.Errors) != 0 {
			t.Fatalf("quiet: deleted %d errors %d", len(out.Deleted), len(out.Errors))
		}
		l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b})
		must(t, err)
		if len(l.Contents) != 0 {
			t.Fatalf("%d objects left", len(l.Contents))
		}
	})
	s := testserver.Start(t, testserver.Options{NoSync: true})
	s.Client(true).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("raw")})
	body := []byte(`<Delete><Object><Key>x</Key></Object></Delete>`)
	wantRaw(t, do(t, s, "POST", "/raw?delete", body, nil, true, nil), 400, "InvalidRequest") // neither Content-MD5 nor checksum
	wantRaw(t, do(t, s, "POST", "/raw?delete", body, map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, true, nil), 400, "BadDigest")
	wantRaw(t, do(t, s, "POST", "/raw?delete", body, map[string]string{"Content-MD5": "nope"}, true, nil), 400, "InvalidDigest")
	wantRaw(t, do(t, s, "POST", "/raw?delete", []byte("<Delete><Object>"), map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, true, nil), 400, "BadDigest")
	md5 := map[string]string{"Content-MD5": md5b64([]byte("<Delete><Object>"))}
	wantRaw(t, do(t, s, "POST", "/raw?delete", []byte("<Delete><Object>"), md5, true, nil), 400, "MalformedXML")
	var many strings.Builder
	many.WriteString("<Delete>")
	for i := 0; i < 1001; i++ {
		many.WriteString("<Object><Key>k</Key></Object>")
	}
	many.WriteString("</Delete>")
	mb := []byte(many.String())
	wantRaw(t, do(t, s, "POST", "/raw?delete", mb, map[string]string{"Content-MD5": md5b64(mb)}, true, nil), 400, "MalformedXML")
	if r := do(t, s, "POST", "/raw?delete", body, map[string]string{"Content-MD5": md5b64(body)}, true, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "<Deleted><Key>x</Key></Deleted>") {
		t.Fatalf("delete with Content-MD5: %d %s", r.Status, r.Body)
	}
}
