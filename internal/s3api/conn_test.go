package s3api_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/internal/testserver"
)

// A client that announces more bytes than it sends and closes the
// connection leaves no object behind.
func TestTruncatedBodyLeavesNothing(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	newBucket(t, c, "trunc")
	for _, size := range []int{100, 1 << 20} {
		full := strings.Repeat("z", size)
		r, _ := http.NewRequest("PUT", s.URL+"/trunc/k", strings.NewReader(full))
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		must(t, signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: testserver.RootAccessKey, SecretAccessKey: testserver.RootSecretKey}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()))
		conn, err := net.Dial("tcp", s.Addr)
		must(t, err)
		fmt.Fprintf(conn, "PUT /trunc/k HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", r.Host, size)
		for k, v := range r.Header {
			fmt.Fprintf(conn, "%s: %s\r\n", k, v[0])
		}
		fmt.Fprintf(conn, "\r\n%s", full[:size/2])
		conn.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			if resp.StatusCode != 400 {
				t.Fatalf("truncated body answered %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		conn.Close()
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trunc"), Key: aws.String("k")})
		wantErr(t, err, "NotFound", 404)
	}
}

// A body that differs from its signed hash after the first megabyte is
// refused and not stored, even for large objects that spill to files.
func TestLargeBodyHashMismatch(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	newBucket(t, s.Client(true), "hash")
	good := []byte(strings.Repeat("a", 3<<20))
	sum := sha256.Sum256(good)
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] = 'b'
	r := do(t, s, "PUT", "/hash/k", bad, map[string]string{"X-Amz-Content-Sha256": hex.EncodeToString(sum[:])}, true, nil)
	wantRaw(t, r, 400, "XAmzContentSHA256Mismatch")
	wantRaw(t, do(t, s, "HEAD", "/hash/k", nil, nil, true, nil), 404, "")
}
