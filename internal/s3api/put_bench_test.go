package s3api_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const put64 = 64 << 20

// BenchmarkRawHash64MiB is the yardstick: SHA-256 and CRC32 of 64 MiB in
// one pass, as a client would compute them (and MD5, which S3's ETag
// needs, on its own line).
func BenchmarkRawHash64MiB(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), put64/16)
	b.Run("sha256+crc32", func(b *testing.B) {
		b.SetBytes(put64)
		for i := 0; i < b.N; i++ {
			h, c := sha256.New(), crc32.NewIEEE()
			for off := 0; off < len(data); off += 256 << 10 {
				h.Write(data[off : off+256<<10])
				c.Write(data[off : off+256<<10])
			}
			h.Sum(nil)
			c.Sum(nil)
		}
	})
	b.Run("md5", func(b *testing.B) {
		b.SetBytes(put64)
		for i := 0; i < b.N; i++ {
			md5.Sum(data)
		}
	})
}

// BenchmarkPut64MiB PUTs 64 MiB through the handler (SigV4, decoding,
// hashing, store without fsync) in each payload mode.
func BenchmarkPut64MiB(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), put64/16)
	sum := sha256.Sum256(data)
	crc := crc32.ChecksumIEEE(data)
	crcB64 := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	s := benchServer(b, nil, 0)
	creds := aws.Credentials{AccessKeyID: "AKIABENCH00000000000", SecretAccessKey: "bench-secret-0000000000"}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	modes := []struct {
		name, payload string
		body          []byte
		hdr           map[string]string
	}{
		{"signed-payload+crc32-header", hex.EncodeToString(sum[:]), data, map[string]string{"X-Amz-Checksum-Crc32": crcB64}},
		{"unsigned-payload", "UNSIGNED-PAYLOAD", data, nil},
		{"streaming-unsigned-trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", unsignedChunked(data, 1<<20, "x-amz-checksum-crc32:"+crcB64),
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length": fmt.Sprint(put64)}},
	}
	for _, mode := range []struct{ name, trailer string }{{"streaming-signed", ""}, {"streaming-signed-trailer", "x-amz-checksum-crc32:" + crcB64}} {
		b.Run(mode.name, func(b *testing.B) {
			req := signedChunked(b, s, "/bench/big", data, 1<<20, mode.trailer, nil, false)
			body, _ := io.ReadAll(req.Body)
			b.SetBytes(put64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := req.Clone(ctx)
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.RequestURI = r.URL.RequestURI()
				serveOK(b, s, r)
			}
		})
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(put64)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r, _ := http.NewRequest("PUT", s.URL+"/bench/big", bytes.NewReader(m.body))
				for k, v := range m.hdr {
					r.Header.Set(k, v)
				}
				r.Header.Set("X-Amz-Content-Sha256", m.payload)
				if err := signer.SignHTTP(ctx, creds, r, m.payload, "s3", "us-east-1", time.Now()); err != nil {
					b.Fatal(err)
				}
				r.RequestURI = r.URL.RequestURI()
				serveOK(b, s, r)
			}
		})
	}
}

func unsignedChunked(data []byte, chunk int, trailer string) []byte {
	var b bytes.Buffer
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		fmt.Fprintf(&b, "%x\r\n", end-off)
		b.Write(data[off:end])
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0\r\n%s\r\n\r\n", trailer)
	return b.Bytes()
}
