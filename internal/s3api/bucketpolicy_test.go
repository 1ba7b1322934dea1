package s3api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/internal/testserver"
)

const policyUsers = `
users:
  - name: alice
    access_key: AKIAALICE00000000000
    secret_key: alice-secret-0000000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
  - name: bob
    access_key: AKIABOB0000000000000
    secret_key: bob-secret-000000000000
`

func TestBucketPolicies(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, Config: policyUsers})
	root := s.Client(true)
	newBucket(t, root, "pub")
	_, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("site/index.html"), Body: strings.NewReader("<h1>hi</h1>")})
	must(t, err)
	_, err = root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pub")})
	wantErr(t, err, "NoSuchBucketPolicy", 404)

	anonGet := func(path string) (int, string) {
		resp, err := http.Get(s.URL + path)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := anonGet("/pub/site/index.html"); st != 403 {
		t.Fatalf("anonymous GET without policy: %d", st)
	}
	public := `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/site/*"}]}`
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(public)})
	must(t, err)
	got, err := root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pub")})
	must(t, err)
	if *got.Policy != public {
		t.Fatalf("policy read back %q", *got.Policy)
	}
	st, err := root.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pub")})
	must(t, err)
	if !*st.PolicyStatus.IsPublic {
		t.Fatal("public-read policy not reported public")
	}
	if code, body := anonGet("/pub/site/index.html"); code != 200 || body != "<h1>hi</h1>" {
		t.Fatalf("anonymous GET with public-read: %d %s", code, body)
	}
	// Public read of site/* grants nothing else.
	for _, path := range []string{"/pub", "/pub/other", "/"} {
		if code, body := anonGet(path); code != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
			t.Fatalf("anonymous %s: %d %s", path, code, body)
		}
	}
	req, _ := http.NewRequest("PUT", s.URL+"/pub/site/evil.html", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous PUT: %d", resp.StatusCode)
	}
	// A missing key under the public prefix: 403, since anonymous callers
	// may not list the bucket.
	if code, _ := anonGet("/pub/site/missing.html"); code != 403 {
		t.Fatalf("anonymous GET of a missing key: %d", code)
	}

	// bob has no policy of his own: the bucket policy naming him is enough.
	bob := s.ClientWith("AKIABOB0000000000000", "bob-secret-000000000000", true)
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pub"), Key: aws.String("site/index.html")}) // public
	must(t, err)
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("bob/x"), Body: strings.NewReader("x")})
	wantErr(t, err, "AccessDenied", 403)
	grant := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/site/*"},
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":["s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::pub","arn:aws:s3:::pub/bob/*"]},
	 {"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::pub","arn:aws:s3:::pub/secure/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(grant)})
	must(t, err)
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("bob/x"), Body: strings.NewReader("x")})
	must(t, err)
	// The TLS-only deny covers listing the bucket over plain HTTP, even
	// for alice whose own policy allows everything, and even for root.
	alice := s.ClientWith("AKIAALICE00000000000", "alice-secret-0000000000", true)
	_, err = alice.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("pub")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("secure/x"), Body: strings.NewReader("x")})
	wantErr(t, err, "AccessDenied", 403)
	// alice may still write elsewhere (her identity policy).
	_, err = alice.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("alice/x"), Body: strings.NewReader("x")})
	must(t, err)
	// Root can always remove the policy that locks it out.
	_, err = root.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("pub")})
	must(t, err)
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("secure/x"), Body: strings.NewReader("x")})
	must(t, err)
	if code, _ := anonGet("/pub/site/index.html"); code != 403 {
		t.Fatalf("anonymous GET after the policy was deleted: %d", code)
	}

	bad := map[string]string{
		"not json":         `{"Statement": [`,
		"no principal":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}`,
		"other bucket":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`,
		"unknown operator": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*","Condition":{"StringSorta":{"aws:Referer":"x"}}}]}`,
		"bad effect":       `{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}`,
		"too large":        `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", 21000) + `","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}`,
	}
	for name, doc := range bad {
		_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pub"), Policy: aws.String(doc)})
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		wantErr(t, err, "MalformedPolicy", 400)
	}
}

// GetObject of a missing key is 404 with s3:ListBucket, 403 without.
func TestMissingKeyVisibility(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, Config: `
users:
  - name: reader
    access_key: AKIAREADER0000000000
    secret_key: reader-secret-00000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}
  - name: lister
    access_key: AKIALISTER0000000000
    secret_key: lister-secret-00000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["s3:GetObject", "s3:ListBucket"], Resource: "*"}]}
`})
	newBucket(t, s.Client(true), "vis")
	_, err := s.ClientWith("AKIAREADER0000000000", "reader-secret-00000000", true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vis"), Key: aws.String("nope")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = s.ClientWith("AKIALISTER0000000000", "lister-secret-00000000", true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vis"), Key: aws.String("nope")})
	wantErr(t, err, "NoSuchKey", 404)
}
