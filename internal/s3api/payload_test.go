package s3api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-io/cairn/internal/checksum"
	"github.com/cairn-io/cairn/internal/testserver"
)

var algorithms = []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme,
	types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}

func sdkClient(s *testserver.Server, calc aws.RequestChecksumCalculation, optFns ...func(*s3.Options)) *s3.Client {
	o := s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), UsePathStyle: true, HTTPClient: s.HTTPClient(), RetryMaxAttempts: 1,
		Credentials:                credentials.NewStaticCredentialsProvider(testserver.RootAccessKey, testserver.RootSecretKey, ""),
		RequestChecksumCalculation: calc, ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported}
	for _, f := range optFns {
		f(&o)
	}
	return s3.New(o)
}

func checksumOf(a types.ChecksumAlgorithm, b []byte) string {
	alg, _ := checksum.Parse(string(a))
	h := alg.New()
	h.Write(b)
	return checksum.Encode(h.Sum(nil))
}

// Over HTTPS the SDK sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with the
// checksum in a trailer; over HTTP, a signed payload hash and a checksum
// header. Each algorithm, single PUT and multipart; GetObject validates
// the returned checksum in the SDK.
func TestChecksumsAndPayloadModesWithSDK(t *testing.T) {
	for _, tlsOn := range []bool{true, false} {
		name := "http"
		if tlsOn {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			s := testserver.Start(t, testserver.Options{NoSync: true, TLS: tlsOn})
			c := sdkClient(s, aws.RequestChecksumCalculationWhenSupported)
			newBucket(t, c, "sums")
			body := bytes.Repeat([]byte("checksummed body. "), 70000) // ~1.2 MiB
			for _, a := range algorithms {
				key := aws.String("single/" + string(a))
				put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: key, Body: bytes.NewReader(body), ChecksumAlgorithm: a})
				if err != nil {
					t.Fatalf("%s: %v", a, err)
				}
				get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: key, ChecksumMode: types.ChecksumModeEnabled})
				must(t, err)
				got := readAll(t, get.Body) // the SDK validates the checksum as it reads
				if got != string(body) {
					t.Fatalf("%s: body differs", a)
				}
				want := checksumOf(a, body)
				if v := getChecksum(get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256); v != want {
					t.Fatalf("%s: GetObject checksum %q, want %q", a, v, want)
				}
				if v := getChecksum(put.ChecksumCRC32, put.ChecksumCRC32C, put.ChecksumCRC64NVME, put.ChecksumSHA1, put.ChecksumSHA256); v != want {
					t.Fatalf("%s: PutObject echo %q, want %q", a, v, want)
				}
				// A ranged read carries no whole-object checksum.
				rg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: key, ChecksumMode: types.ChecksumModeEnabled, Range: aws.String("bytes=0-9")})
				must(t, err)
				if readAll(t, rg.Body) != string(body[:10]) || getChecksum(rg.ChecksumCRC32, rg.ChecksumCRC32C, rg.ChecksumCRC64NVME, rg.ChecksumSHA1, rg.ChecksumSHA256) != "" {
					t.Fatalf("%s: ranged read", a)
				}
			}
			// Without a checksum (when_required): plain signed payload or
			// UNSIGNED-PAYLOAD trailer-less body.
			plain := sdkClient(s, aws.RequestChecksumCalculationWhenRequired)
			_, err := plain.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("plain"), Body: bytes.NewReader(body)})
			must(t, err)
			unsigned := sdkClient(s, aws.RequestChecksumCalculationWhenRequired, func(o *s3.Options) {
				o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
			})
			_, err = unsigned.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("unsigned"), Body: bytes.NewReader(body)})
			must(t, err)
			for _, k := range []string{"plain", "unsigned"} {
				get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String(k)})
				must(t, err)
				if readAll(t, get.Body) != string(body) {
					t.Fatalf("%s differs", k)
				}
			}
			// Multipart, composite checksums.
			for _, a := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmSha256} {
				key := aws.String("mpu/" + string(a))
				cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("sums"), Key: key, ChecksumAlgorithm: a})
				must(t, err)
				parts := [][]byte{bytes.Repeat([]byte{'p'}, 5<<20), []byte("tail part")}
				var done []types.CompletedPart
				var raw []byte
				for i, p := range parts {
					up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("sums"), Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)),
						Body: bytes.NewReader(p), ChecksumAlgorithm: a})
					must(t, err)
					v := getChecksum(up.ChecksumCRC32, up.ChecksumCRC32C, up.ChecksumCRC64NVME, up.ChecksumSHA1, up.ChecksumSHA256)
					if v != checksumOf(a, p) {
						t.Fatalf("part %d checksum echo %q", i+1, v)
					}
					d, _ := base64.StdEncoding.DecodeString(v)
					raw = append(raw, d...)
					cp := types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))}
					if a == types.ChecksumAlgorithmCrc32 {
						cp.ChecksumCRC32 = up.ChecksumCRC32
					} else {
						cp.ChecksumSHA256 = up.ChecksumSHA256
					}
					done = append(done, cp)
				}
				out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("sums"), Key: key, UploadId: cr.UploadId,
					MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
				must(t, err)
				want := checksumOf(a, raw) + "-2"
				if v := getChecksum(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256); v != want {
					t.Fatalf("composite %s: %q, want %q", a, v, want)
				}
				get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: key, ChecksumMode: types.ChecksumModeEnabled})
				must(t, err)
				if readAll(t, get.Body) != string(parts[0])+string(parts[1]) {
					t.Fatal("multipart body differs")
				}
			}
		})
	}
}

func getChecksum(vals ...*string) string {
	for _, v := range vals {
		if v != nil && *v != "" {
			return *v
		}
	}
	return ""
}

// signedChunked builds a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
// request, chunk signatures computed with the SDK's own stream signer.
func signedChunked(t testing.TB, s *testserver.Server, path string, data []byte, chunk int, trailer string, mutate func(body []byte) []byte, unknownLength bool) *http.Request {
	mode := "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	if trailer != "" {
		mode += "-TRAILER"
	}
	now := time.Now().UTC()
	creds := aws.Credentials{AccessKeyID: testserver.RootAccessKey, SecretAccessKey: testserver.RootSecretKey}
	// Frame lengths do not depend on signature values: compute the encoded
	// length first, as clients do.
	frame := func(sigs []string) []byte {
		var b bytes.Buffer
		i := 0
		for off := 0; off < len(data); off += chunk {
			end := min(off+chunk, len(data))
			fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", end-off, sigs[i])
			b.Write(data[off:end])
			b.WriteString("\r\n")
			i++
		}
		fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", sigs[i])
		if trailer != "" {
			fmt.Fprintf(&b, "%s\r\nx-amz-trailer-signature:%s\r\n", trailer, sigs[i+1])
		}
		b.WriteString("\r\n")
		return b.Bytes()
	}
	n := (len(data)+chunk-1)/chunk + 2
	zero := make([]string, n)
	for i := range zero {
		zero[i] = strings.Repeat("0", 64)
	}
	encodedLen := len(frame(zero))
	req, _ := http.NewRequest("PUT", s.URL+path, nil)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Content-Sha256", mode)
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
	if trailer != "" {
		req.Header.Set("X-Amz-Trailer", strings.SplitN(trailer, ":", 2)[0])
	}
	req.ContentLength = int64(encodedLen)
	if unknownLength {
		req.ContentLength = -1 // sent with Transfer-Encoding: chunked, no Content-Length to sign
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	must(t, signer.SignHTTP(ctx, creds, req, mode, "s3", "us-east-1", now))
	auth := req.Header.Get("Authorization")
	seed := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	ss := v4.NewStreamSigner(creds, "s3", "us-east-1", mustHex(seed))
	var sigs []string
	for off := 0; off <= len(data); off += chunk {
		end := min(off+chunk, len(data))
		sig, err := ss.GetSignature(context.Background(), nil, data[off:end], now)
		must(t, err)
		sigs = append(sigs, hex.EncodeToString(sig))
		if end == len(data) && off+chunk > len(data) {
			break
		}
	}
	if len(sigs) == n-2 { // data was an exact multiple of chunk: sign the final empty chunk
		sig, err := ss.GetSignature(context.Background(), nil, nil, now)
		must(t, err)
		sigs = append(sigs, hex.EncodeToString(sig))
	}
	if trailer != "" {
		// Trailer signature (aws-c-auth formula; the SDK has none).
		scope := now.Format("20060102") + "/us-east-1/s3/aws4_request"
		th := sha256.Sum256([]byte(trailer + "\n"))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + now.Format("20060102T150405Z") + "\n" + scope + "\n" + sigs[len(sigs)-1] + "\n" + hex.EncodeToString(th[:])
		sigs = append(sigs, hmacHex(signingKey(creds.SecretAccessKey, now), sts))
	} else {
		sigs = append(sigs, "")
	}
	body := frame(sigs)
	if len(body) != encodedLen {
		t.Fatalf("frame length %d != %d", len(body), encodedLen)
	}
	if mutate != nil {
		body = mutate(body)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if unknownLength {
		req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(body)})
	}
	return req
}

func TestSignedChunkedUploads(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	newBucket(t, c, "chunks")
	data := bytes.Repeat([]byte("signed chunk data "), 10000) // 180000 bytes
	crc := crc32.ChecksumIEEE(data)
	crcB64 := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	send := func(req *http.Request) rawResponse {
		resp, err := s.HTTPClient().Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return rawResponse{resp.StatusCode, resp.Header, b}
	}
	ok := []struct {
		name          string
		chunk         int
		trailer       string
		unknownLength bool
	}{
		{"signed chunks", 65536, "", false},
		{"signed chunks, one big chunk", len(data), "", false},
		{"signed chunks and trailer", 65536, "x-amz-checksum-crc32:" + crcB64, false},
		{"signed chunks, Transfer-Encoding chunked", 8192, "", true},
		{"signed chunks and trailer, Transfer-Encoding chunked", 30000, "x-amz-checksum-crc32:" + crcB64, true},
	}
	for i, cs := range ok {
		key := fmt.Sprintf("/chunks/ok-%d", i)
		r := send(signedChunked(t, s, key, data, cs.chunk, cs.trailer, nil, cs.unknownLength))
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", cs.name, r.Status, r.Body)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("chunks"), Key: aws.String(key[len("/chunks/"):])})
		must(t, err)
		if readAll(t, get.Body) != string(data) {
			t.Fatalf("%s: stored bytes differ", cs.name)
		}
		if get.ContentEncoding != nil {
			t.Fatalf("%s: aws-chunked stored as Content-Encoding %q", cs.name, *get.ContentEncoding)
		}
	}
	bad := []struct {
		name    string
		trailer string
		mutate  func([]byte) []byte
		status  int
		code    string
	}{
		{"tampered chunk", "", func(b []byte) []byte { b[200] ^= 1; return b }, 403, "SignatureDoesNotMatch"},
		{"wrong chunk signature", "", func(b []byte) []byte { i := bytes.Index(b, []byte("chunk-signature=")) + 20; b[i] ^= 1; return b }, 403, "SignatureDoesNotMatch"},
		{"wrong trailer checksum under a valid signature", "x-amz-checksum-crc32:AAAAAA==", nil, 400, "BadDigest"},
		{"wrong trailer signature", "x-amz-checksum-crc32:" + crcB64, func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + 30
			b[i] ^= 1
			return b
		}, 403, "SignatureDoesNotMatch"},
		{"truncated stream", "", func(b []byte) []byte { return b[:len(b)/2] }, 400, "IncompleteBody"},
		{"garbage size line", "", func(b []byte) []byte { copy(b, "zzzzz"); return b }, 400, "InvalidRequest"},
	}
	for i, cs := range bad {
		key := fmt.Sprintf("/chunks/bad-%d", i)
		req := signedChunked(t, s, key, data, 65536, cs.trailer, cs.mutate, cs.name == "truncated stream")
		r := send(req)
		if r.Status != cs.status || r.errorCode() != cs.code {
			t.Fatalf("%s: %d %s", cs.name, r.Status, r.Body)
		}
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chunks"), Key: aws.String(key[len("/chunks/"):])})
		wantErr(t, err, "NotFound", 404)
	}
}

// Unsigned trailer bodies, hand-built: a wrong trailer checksum is
// BadDigest and nothing is stored.
func TestUnsignedTrailerNegative(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	newBucket(t, s.Client(true), "utr")
	body := []byte("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
	hdr := map[string]string{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
		"X-Amz-Decoded-Content-Length": "11", "X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Sdk-Checksum-Algorithm": "CRC32"}
	wantRaw(t, do(t, s, "PUT", "/utr/k", body, hdr, true, nil), 400, "BadDigest")
	good := []byte("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n")
	if r := do(t, s, "PUT", "/utr/k", good, hdr, true, nil); r.Status != 200 || r.Header.Get("X-Amz-Checksum-Crc32") != "DUoRhQ==" {
		t.Fatalf("good trailer: %d %s", r.Status, r.Body)
	}
	missing := []byte("b\r\nhello world\r\n0\r\n\r\n")
	wantRaw(t, do(t, s, "PUT", "/utr/k2", missing, hdr, true, nil), 400, "InvalidRequest")
	short := map[string]string{}
	for k, v := range hdr {
		short[k] = v
	}
	short["X-Amz-Decoded-Content-Length"] = "12"
	wantRaw(t, do(t, s, "PUT", "/utr/k3", good, short, true, nil), 400, "IncompleteBody")
	wantRaw(t, do(t, s, "HEAD", "/utr/k2", nil, nil, true, nil), 404, "")
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestFullObjectMultipartChecksum(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, TLS: true})
	c := sdkClient(s, aws.RequestChecksumCalculationWhenSupported)
	newBucket(t, c, "full")
	for _, a := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme} {
		key := aws.String("obj-" + string(a))
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("full"), Key: key, ChecksumAlgorithm: a, ChecksumType: types.ChecksumTypeFullObject})
		must(t, err)
		if cr.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("create echoed %q", cr.ChecksumType)
		}
		parts := [][]byte{bytes.Repeat([]byte("A1"), 5<<19), bytes.Repeat([]byte("b2c"), 1000)}
		var done []types.CompletedPart
		for i, p := range parts {
			up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("full"), Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: a})
			must(t, err)
			done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumCRC32: up.ChecksumCRC32, ChecksumCRC32C: up.ChecksumCRC32C, ChecksumCRC64NVME: up.ChecksumCRC64NVME})
		}
		whole := append(append([]byte{}, parts[0]...), parts[1]...)
		want := checksumOf(a, whole)
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("full"), Key: key, UploadId: cr.UploadId, ChecksumType: types.ChecksumTypeFullObject,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, MpuObjectSize: aws.Int64(int64(len(whole)) + 1)}
		_, err = c.CompleteMultipartUpload(ctx, in)
		wantErr(t, err, "InvalidRequest", 400)
		in.MpuObjectSize = aws.Int64(int64(len(whole)))
		out, err := c.CompleteMultipartUpload(ctx, in)
		must(t, err)
		if v := getChecksum(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME); v != want || out.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("%s: FULL_OBJECT %q (%s), want %q", a, v, out.ChecksumType, want)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("full"), Key: key, ChecksumMode: types.ChecksumModeEnabled})
		must(t, err)
		if readAll(t, get.Body) != string(whole) { // validated against the combined CRC by the SDK
			t.Fatal("body differs")
		}
	}
	// SHA256 cannot be FULL_OBJECT.
	_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("full"), Key: aws.String("x"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumType: types.ChecksumTypeFullObject})
	wantErr(t, err, "InvalidRequest", 400)
}

func TestGetObjectAttributes(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, TLS: true})
	c := sdkClient(s, aws.RequestChecksumCalculationWhenSupported)
	newBucket(t, c, "attrs")
	body := []byte("attribute body")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("single"), Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err)
	out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("single"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectSize, types.ObjectAttributesStorageClass}})
	must(t, err)
	if *out.ETag != md5hex(body) || *out.ObjectSize != int64(len(body)) || out.StorageClass != types.StorageClassStandard ||
		*out.Checksum.ChecksumSHA256 != checksumOf(types.ChecksumAlgorithmSha256, body) || out.Checksum.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("attributes %+v %+v", out, out.Checksum)
	}
	// Multipart: parts with their checksums, paged.
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("mpu"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	must(t, err)
	parts := [][]byte{bytes.Repeat([]byte("1"), 5<<20), bytes.Repeat([]byte("2"), 5<<20), []byte("3")}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("attrs"), Key: aws.String("mpu"), UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		must(t, err)
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumCRC32: up.ChecksumCRC32})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("mpu"), UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	must(t, err)
	out, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("mpu"), MaxParts: aws.Int32(2),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesChecksum}})
	must(t, err)
	op := out.ObjectParts
	if op == nil || out.Checksum == nil || len(op.Parts) != 2 || op.Parts[0].ChecksumCRC32 == nil || op.TotalPartsCount == nil || op.IsTruncated == nil || op.Parts[1].Size == nil {
		t.Fatalf("attributes incomplete: %+v", op)
	}
	if *op.TotalPartsCount != 3 || len(op.Parts) != 2 || !*op.IsTruncated || *op.Parts[1].Size != 5<<20 || *op.Parts[0].ChecksumCRC32 != checksumOf(types.ChecksumAlgorithmCrc32, parts[0]) ||
		!strings.HasSuffix(*out.Checksum.ChecksumCRC32, "-3") {
		t.Fatalf("object parts %+v", op)
	}
	// GetObject of one part returns that part's checksum.
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("attrs"), Key: aws.String("mpu"), PartNumber: aws.Int32(3), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err)
	if readAll(t, g.Body) != "3" || *g.ChecksumCRC32 != checksumOf(types.ChecksumAlgorithmCrc32, parts[2]) {
		t.Fatalf("part 3 checksum %v", aws.ToString(g.ChecksumCRC32))
	}
	_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("nope"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
	wantErr(t, err, "NoSuchKey", 404)
	wantRaw(t, do(t, s, "GET", "/attrs/single?attributes", nil, map[string]string{"X-Amz-Object-Attributes": "Bogus"}, true, nil), 400, "InvalidArgument")
}
