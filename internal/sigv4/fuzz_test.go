package sigv4

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/s3err"
)

// The fuzz targets check that no input makes the parsers panic, hang or
// answer with anything but an S3 error; seeds live in testdata/fuzz.

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=7071f19eb8a2ea65f09b0673fb809ac88e44e16be4f1724d9651778135dca3ba")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=")
	f.Add("AWS AKIA:sig")
	f.Add("AWS4-HMAC-SHA256 ")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) || e.Status < 400 {
				t.Fatalf("non-S3 error %v", err)
			}
			return
		}
		if a.AccessKey == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete header %q: %+v", h, a)
		}
	})
}

func FuzzPresignedQuery(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250102T030405Z&X-Amz-Expires=3600&X-Amz-Security-Token=SESSIONTOKEN%2Fwith%2Bchars%3D%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=bdf1b376196144d99101ec9935688ea03bccb591917de60319aca8ce2e6c2f3f")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1")
	f.Add("X-Amz-Signature=%zz&X-Amz-Algorithm=x")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20250102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250102T030405Z&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	v := verifierAt("20250102T033000Z")
	f.Fuzz(func(t *testing.T, q string) {
		if strings.ContainsAny(q, " \r\n#") {
			return // not a request target
		}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /vec-bucket/dir/file?" + q + " HTTP/1.1\r\nHost: s3.example.test:9000\r\n\r\n")))
		if err != nil {
			return
		}
		if _, err := v.Verify(r, "s3"); err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status == 500 {
				t.Fatalf("query %q: unexpected error %v", q, err)
			}
		}
	})
}

func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"), false)
	f.Add([]byte(v4Wire(nil))[:300], true)
	f.Add([]byte("0\r\n\r\n"), false)
	f.Add([]byte("ffffffffffffffff\r\n"), false)
	f.Add([]byte("5;chunk-signature=00\r\nabc"), true)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		mode, res := StreamingUnsignedTrailer, &Result{}
		if signed {
			mode, res = StreamingSignedTrailer, seedResult()
		}
		done := make(chan struct{})
		var out []byte
		var err error
		go func() {
			defer close(done)
			out, err = io.ReadAll(NewChunkedReader(bytes.NewReader(body), mode, res, -1))
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("decoder hangs on %q", body)
		}
		if len(out) > len(body) {
			t.Fatalf("decoded more than the body")
		}
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) || e.Status == 500 {
				t.Fatalf("non-S3 error %v", err)
			}
		}
	})
}
