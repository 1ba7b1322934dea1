package sts_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/internal/oidctest"
	"github.com/cairn-io/cairn/internal/testserver"
)

// The aws-sdk-go-v2 default credential chain with a web identity token
// file, as in a Kubernetes pod or a CI job: no code knows about STS.
func TestGoSDKDefaultChainWebIdentity(t *testing.T) {
	e := setup(t, testserver.Options{})
	tokenFile := filepath.Join(t.TempDir(), "token")
	must(t, os.WriteFile(tokenFile, []byte(oidctest.Sign(e.rsa, e.iss.Claims("repo:octo/demo", aud))+"\n"), 0o600))
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/ci")
	t.Setenv("AWS_ENDPOINT_URL_STS", e.srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")

	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithHTTPClient(e.srv.HTTPClient()))
	must(t, err)
	creds, err := cfg.Credentials.Retrieve(ctx)
	must(t, err)
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || creds.SessionToken == "" || creds.Source != "WebIdentityCredentials" {
		t.Fatalf("credentials %q from %q", creds.AccessKeyID, creds.Source)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(e.srv.URL); o.UsePathStyle = true })
	home := "home/repo:octo/demo/"
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "small"), Body: strings.NewReader("hello")})
	must(t, err)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "small")})
	must(t, err)
	if b, _ := io.ReadAll(out.Body); string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	// Multipart through the SDK's upload manager.
	big := bytes.Repeat([]byte("0123456789abcdef"), 12<<16) // 12 MiB
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20 })
	_, err = up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "big"), Body: bytes.NewReader(big)})
	must(t, err)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("work"), Key: aws.String(home + "big")})
	must(t, err)
	if *head.ContentLength != int64(len(big)) || !strings.HasSuffix(*head.ETag, `-3"`) {
		t.Fatalf("multipart object: %d bytes, ETag %s", *head.ContentLength, *head.ETag)
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("work"), Prefix: aws.String(home)})
	must(t, err)
	if len(l.Contents) != 2 {
		t.Fatalf("listed %d objects", len(l.Contents))
	}
}
