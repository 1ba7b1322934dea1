package s3api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-io/cairn/internal/testserver"
)

// Condition keys set by the server from the request: tags being set, tags
// already on the object, the client address behind a trusted proxy.
func TestServerSetConditionKeys(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, Config: `
trusted_proxies: [127.0.0.1/32]
users:
  - name: tagger
    access_key: AKIATAGGER0000000000
    secret_key: tagger-secret-0000000
    policies:
      - Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: ["s3:PutObject", "s3:PutObjectTagging"], Resource: "arn:aws:s3:::cond/*",
             Condition: {StringEquals: {"s3:RequestObjectTag/class": public}, "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": [class, owner]}}}
          - {Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::cond/*"}
          - {Effect: Deny, Action: "s3:GetObject", Resource: "arn:aws:s3:::cond/*", Condition: {StringEquals: {"s3:ExistingObjectTag/class": secret}}}
  - name: office
    access_key: AKIAOFFICE0000000000
    secret_key: office-secret-0000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*", Condition: {IpAddress: {"aws:SourceIp": "203.0.113.0/24"}}}]}
`})
	root := s.Client(true)
	newBucket(t, root, "cond")
	tagger := s.ClientWith("AKIATAGGER0000000000", "tagger-secret-0000000", true)
	_, err := tagger.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("a"), Body: strings.NewReader("x"), Tagging: aws.String("class=public&owner=me")})
	must(t, err)
	_, err = tagger.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("b"), Body: strings.NewReader("x"), Tagging: aws.String("class=internal")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = tagger.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("c"), Body: strings.NewReader("x"), Tagging: aws.String("class=public&cost=1")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = tagger.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("d"), Body: strings.NewReader("x")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = tagger.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("cond"), Key: aws.String("a"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("class"), Value: aws.String("public")}}}})
	must(t, err)
	_, err = tagger.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("cond"), Key: aws.String("a"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("class"), Value: aws.String("secret")}}}})
	wantErr(t, err, "AccessDenied", 403)
	// Existing tags: readable while public, denied once root tags it secret.
	_, err = tagger.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("a")})
	must(t, err)
	_, err = root.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("cond"), Key: aws.String("a"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("class"), Value: aws.String("secret")}}}})
	must(t, err)
	_, err = tagger.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("a")})
	wantErr(t, err, "AccessDenied", 403)

	// aws:SourceIp: the test client is 127.0.0.1, a trusted proxy, so
	// X-Forwarded-For decides; without it, 127.0.0.1 is the source.
	get := func(xff string) rawResponse {
		return doAs(t, s, "AKIAOFFICE0000000000", "office-secret-0000000", "GET", "/cond/b2", map[string]string{"X-Forwarded-For": xff})
	}
	root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("b2"), Body: strings.NewReader("x")})
	if r := get("203.0.113.50"); r.Status != 200 {
		t.Fatalf("office address through the proxy: %d %s", r.Status, r.Body)
	}
	if r := get("198.51.100.1"); r.Status != 403 {
		t.Fatalf("other address: %d", r.Status)
	}
	// A client cannot prepend its way in: the nearest untrusted hop counts.
	if r := get("203.0.113.50, 198.51.100.1"); r.Status != 403 {
		t.Fatalf("spoofed chain: %d", r.Status)
	}
	if r := get(""); r.Status != 403 {
		t.Fatalf("no header: %d", r.Status)
	}
	_ = http.MethodGet
}
