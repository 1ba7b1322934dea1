package sigv4

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// v4Wire builds the reference V4 body of ../shared/reference/sigv4.md §9:
// 70000 × 'a' in chunks of 65536 and 4464, CRC32 trailer, signed trailer.
func v4Wire(mut func(parts []string) []string) string {
	data := strings.Repeat("a", 70000)
	parts := []string{
		"10000;chunk-signature=29764d6fb79d4ce7bf387c9e41ed28bf6cd2bcc45a6ca2416879095bcaad82e8\r\n", data[:65536], "\r\n",
		"1170;chunk-signature=52884fe89aaab41dbe03cf7bf8326a663534b915e9ca34aabdd58387252a23a4\r\n", data[65536:], "\r\n",
		"0;chunk-signature=dcc5813a76b62165671bf691d917a9a1d5876b12f60f21d3fe7569702a1b1fb8\r\n",
		"x-amz-checksum-crc32:EiniBA==\r\n",
		"x-amz-trailer-signature:425760662c9366971abf717b89edefd60df40d1087fb744ee06bb79a086d711b\r\n",
		"\r\n",
	}
	if mut != nil {
		parts = mut(parts)
	}
	return strings.Join(parts, "")
}

const v4Seed = "e401289da1d03560fd739733744e36e59ca810c5ff2484da86d5d9bc78b6e8ea"

func v4Request(t *testing.T, body string) string {
	return "PUT /vec-bucket/chunked.bin HTTP/1.1\nHost: s3.example.test:9000\nContent-Encoding: aws-chunked\n" +
		fmt.Sprintf("Content-Length: %d\n", len(body)) +
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER\nx-amz-date: 20250102T030405Z\n" +
		"x-amz-decoded-content-length: 70000\nx-amz-trailer: x-amz-checksum-crc32\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=" + testAK + "/20250102/us-east-1/s3/aws4_request, " +
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-trailer, Signature=" + v4Seed + "\n\n" + body
}

func TestReferenceVectorV4SignedChunksWithTrailer(t *testing.T) {
	body := v4Wire(nil)
	if len(body) != 70386 {
		t.Fatalf("wire body is %d bytes, reference says 70386", len(body))
	}
	r := parseRaw(t, v4Request(t, body))
	res, err := verifierAt("20250102T030405Z").Verify(r, "s3")
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if res.PayloadHash != StreamingSignedTrailer {
		t.Fatalf("payload mode %s", res.PayloadHash)
	}
	cr := NewChunkedReader(r.Body, res.PayloadHash, res, 70000)
	got, err := io.ReadAll(iotestOneByte(cr))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if string(got) != strings.Repeat("a", 70000) {
		t.Fatalf("decoded %d bytes", len(got))
	}
	if v, ok := cr.Trailer("x-amz-checksum-crc32"); !ok || v != "EiniBA==" {
		t.Fatalf("trailer %q", v)
	}
}

func seedResult() *Result {
	at, _ := time.Parse(TimeFormat, "20250102T030405Z")
	return &Result{SigningKey: SigningKey(testSecret, "20250102", "us-east-1", "s3"), Scope: "20250102/us-east-1/s3/aws4_request", Signature: v4Seed, Time: at}
}

// iotestOneByte reads in small, uneven pieces, as a slow network would.
func iotestOneByte(r io.Reader) io.Reader { return &smallReads{r: r} }

type smallReads struct {
	r io.Reader
	n int
}

func (s *smallReads) Read(p []byte) (int, error) {
	s.n++
	if max := 1 + s.n%997; len(p) > max {
		p = p[:max]
	}
	return s.r.Read(p)
}

func TestChunkedNegative(t *testing.T) {
	cases := []struct {
		name string
		mut  func(p []string) []string
		code string
	}{
		{"tampered chunk data", func(p []string) []string { p[1] = "b" + p[1][1:]; return p }, "SignatureDoesNotMatch"},
		{"wrong chunk signature", func(p []string) []string { p[3] = strings.Replace(p[3], "52884f", "52884e", 1); return p }, "SignatureDoesNotMatch"},
		{"wrong final chunk signature", func(p []string) []string { p[6] = strings.Replace(p[6], "dcc581", "dcc580", 1); return p }, "SignatureDoesNotMatch"},
		{"wrong trailer value under its signature", func(p []string) []string { p[7] = "x-amz-checksum-crc32:AAAAAA==\r\n"; return p }, "SignatureDoesNotMatch"},
		{"wrong trailer signature", func(p []string) []string { p[8] = strings.Replace(p[8], "425760", "425761", 1); return p }, "SignatureDoesNotMatch"},
		{"missing trailer signature", func(p []string) []string { p[8] = ""; return p }, "SignatureDoesNotMatch"},
		{"truncated in data", func(p []string) []string { p[4] = p[4][:100]; return p[:5] }, "IncompleteBody"},
		{"truncated after a chunk", func(p []string) []string { return p[:3] }, "IncompleteBody"},
		{"garbage size line", func(p []string) []string {
			p[3] = "zz;chunk-signature=52884fe89aaab41dbe03cf7bf8326a663534b915e9ca34aabdd58387252a23a4\r\n"
			return p
		}, "InvalidRequest"},
		{"size line without CRLF", func(p []string) []string { p[3] = strings.TrimSuffix(p[3], "\r\n") + "\n"; return p }, "InvalidRequest"},
		{"chunk larger than its size line", func(p []string) []string { p[4] += "aaaa"; return p }, "InvalidRequest"},
		{"chunk past the decoded length", func(p []string) []string {
			p[3] = strings.Replace(p[3], "1170;", "1171;", 1)
			p[4] += "a"
			return p
		}, "IncompleteBody"},
		{"huge size line", func(p []string) []string { p[0] = strings.Repeat("f", 5000) + "\r\n"; return p }, "InvalidRequest"},
		{"no chunk signature", func(p []string) []string { p[0] = "10000\r\n"; return p }, "SignatureDoesNotMatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The seed signature of the reference (it signs the original
			// Content-Length, so the mutated bodies are fed to the decoder
			// directly).
			res := seedResult()
			_, err := io.Copy(io.Discard, NewChunkedReader(strings.NewReader(v4Wire(c.mut)), StreamingSignedTrailer, res, 70000))
			if codeOf(err) != c.code {
				t.Fatalf("want %s, got %v", c.code, err)
			}
		})
	}
}

func TestChunkedUnsignedTrailer(t *testing.T) {
	body := "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
	cr := NewChunkedReader(strings.NewReader(body), StreamingUnsignedTrailer, &Result{}, 11)
	got, err := io.ReadAll(cr)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("%q %v", got, err)
	}
	if v, _ := cr.Trailer("x-amz-checksum-crc32"); v != "DUoRhQ==" {
		t.Fatalf("trailer %q", v)
	}
	// Declared length that does not match.
	_, err = io.ReadAll(NewChunkedReader(strings.NewReader(body), StreamingUnsignedTrailer, &Result{}, 12))
	if codeOf(err) != "IncompleteBody" {
		t.Fatalf("short: %v", err)
	}
	// Trailers in a mode that has none.
	_, err = io.ReadAll(NewChunkedReader(strings.NewReader(body), StreamingSigned, &Result{SigningKey: make([]byte, 32)}, -1))
	if codeOf(err) != "SignatureDoesNotMatch" {
		t.Fatalf("unsigned chunks in signed mode: %v", err)
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 64<<20)
	var body bytes.Buffer
	fmt.Fprintf(&body, "%x\r\n", len(data))
	body.Write(data)
	body.WriteString("\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
	wire := body.Bytes()
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cr := NewChunkedReader(bytes.NewReader(wire), StreamingUnsignedTrailer, &Result{}, int64(len(data)))
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{cr}, buf); err != nil {
			b.Fatal(err)
		}
	}
}
