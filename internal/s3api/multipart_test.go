package s3api_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-io/cairn/internal/testserver"
)

const partSize = 5 << 20

func partData(n, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*31 + n)
	}
	return b
}

func TestMultipartUpload(t *testing.T) {
	styles(t, func(t *testing.T, s *testserver.Server, c *s3.Client) {
		b := newBucket(t, c, "mpu")
		key := aws.String("big/object name")
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key, ContentType: aws.String("video/x"),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, Metadata: map[string]string{"origin": "mpu"}})
		must(t, err)
		id := cr.UploadId
		parts := [][]byte{partData(1, partSize), partData(2, partSize), partData(3, 1234)}
		var completed []types.CompletedPart
		var md5s []byte
		for i, p := range parts {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: id, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
			must(t, err)
			sum := md5.Sum(p)
			if *out.ETag != `"`+hex.EncodeToString(sum[:])+`"` {
				t.Fatalf("part ETag %s", *out.ETag)
			}
			if out.ChecksumCRC32 == nil {
				t.Fatalf("part %d: CRC32 not echoed", i+1)
			}
			md5s = append(md5s, sum[:]...)
			completed = append(completed, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumCRC32: out.ChecksumCRC32})
		}
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: id, MaxParts: aws.Int32(2)})
		must(t, err)
		if len(lp.Parts) != 2 || !*lp.IsTruncated || *lp.NextPartNumberMarker != "2" || *lp.Parts[1].Size != partSize {
			t.Fatalf("list parts %+v", lp)
		}
		lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: id, PartNumberMarker: aws.String("2")})
		must(t, err)
		if len(lp.Parts) != 1 || *lp.Parts[0].PartNumber != 3 || *lp.IsTruncated {
			t.Fatalf("list parts after 2 %+v", lp)
		}
		lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
		must(t, err)
		if len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *id || *lu.Uploads[0].Key != *key {
			t.Fatalf("list uploads %+v", lu)
		}
		// Wrong order, unknown part, wrong ETag.
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{completed[1], completed[0]}}})
		wantErr(t, err, "InvalidPartOrder", 400)
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: completed[0].ETag, PartNumber: aws.Int32(9)}}}})
		wantErr(t, err, "InvalidPart", 400)
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: aws.String(`"0123"`), PartNumber: aws.Int32(1)}}}})
		wantErr(t, err, "InvalidPart", 400)
		// A small part that is not the last: EntityTooSmall.
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{completed[0], {ETag: completed[2].ETag, PartNumber: aws.Int32(3)}, {ETag: completed[2].ETag, PartNumber: aws.Int32(3)}}}})
		wantErr(t, err, "InvalidPartOrder", 400)
		done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
		must(t, err)
		want := md5.Sum(md5s)
		if *done.ETag != fmt.Sprintf(`"%s-3"`, hex.EncodeToString(want[:])) {
			t.Fatalf("multipart ETag %s", *done.ETag)
		}
		if done.ChecksumCRC32 == nil || !strings.HasSuffix(*done.ChecksumCRC32, "-3") || done.ChecksumType != types.ChecksumTypeComposite {
			t.Fatalf("composite checksum %v %v", aws.ToString(done.ChecksumCRC32), done.ChecksumType)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key})
		must(t, err)
		all := bytes.Join(parts, nil)
		if got := readAll(t, get.Body); got != string(all) || *get.ContentType != "video/x" || get.Metadata["origin"] != "mpu" || *get.ETag != *done.ETag {
			t.Fatalf("assembled object differs (len %d) or lost metadata %+v", len(got), get.Metadata)
		}
		// Range across the part boundary and GET by part number.
		rg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", partSize-3, partSize+2))})
		must(t, err)
		if got := readAll(t, rg.Body); got != string(all[partSize-3:partSize+3]) {
			t.Fatal("range across parts differs")
		}
		pn, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, PartNumber: aws.Int32(3)})
		must(t, err)
		if got := readAll(t, pn.Body); got != string(parts[2]) || *pn.PartsCount != 3 {
			t.Fatalf("part 3: %d bytes, count %v", len(got), pn.PartsCount)
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, PartNumber: aws.Int32(4)})
		wantErr(t, err, "InvalidPartNumber", 416)
		// The upload is gone.
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: id, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
		wantErr(t, err, "NoSuchUpload", 404)
		lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
		must(t, err)
		if len(lu.Uploads) != 0 {
			t.Fatalf("uploads left: %d", len(lu.Uploads))
		}
	})
}

func TestMultipartEntityTooSmallAndAbort(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	b := newBucket(t, c, "mpu2")
	key := aws.String("k")
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key})
	must(t, err)
	var parts []types.CompletedPart
	for i := 1; i <= 2; i++ {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i)), Body: strings.NewReader("small")})
		must(t, err)
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i))})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	wantErr(t, err, "EntityTooSmall", 400)
	// A lone small part is fine (it is the last).
	// Re-uploading part 1 replaces it.
	out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("again")})
	must(t, err)
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: cr.UploadId})
	must(t, err)
	if len(lp.Parts) != 2 || *lp.Parts[0].ETag != *out.ETag {
		t.Fatalf("replaced part: %+v", lp.Parts)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	wantErr(t, err, "InvalidArgument", 400)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId})
	must(t, err)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId})
	wantErr(t, err, "NoSuchUpload", 404)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: cr.UploadId})
	wantErr(t, err, "NoSuchUpload", 404)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key})
	wantErr(t, err, "NotFound", 404)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: aws.String("not-an-upload"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantErr(t, err, "NoSuchUpload", 404)
	// Complete with no parts is MalformedXML.
	cr, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key})
	must(t, err)
	r := do(t, s, "POST", "/mpu2/k?uploadId="+*cr.UploadId, []byte("<CompleteMultipartUpload></CompleteMultipartUpload>"), nil, true, nil)
	wantRaw(t, r, 400, "MalformedXML")
	r = do(t, s, "POST", "/mpu2/k?uploadId="+*cr.UploadId, []byte("<CompleteMultipartUpload><Part>"), nil, true, nil)
	wantRaw(t, r, 400, "MalformedXML")
}

func TestUploadPartCopy(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true})
	c := s.Client(true)
	b := newBucket(t, c, "upc")
	src := partData(7, 6<<20)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("src"), Body: bytes.NewReader(src)})
	must(t, err)
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("dst")})
	must(t, err)
	p1, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("dst"), UploadId: cr.UploadId, PartNumber: aws.Int32(1),
		CopySource: aws.String("upc/src"), CopySourceRange: aws.String("bytes=0-5242879")})
	must(t, err)
	p2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("dst"), UploadId: cr.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("upc/src"), CopySourceRange: aws.String("bytes=5242880-6291455")})
	must(t, err)
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("dst"), UploadId: cr.UploadId, PartNumber: aws.Int32(3),
		CopySource: aws.String("upc/src"), CopySourceRange: aws.String("bytes=0-99999999")})
	wantErr(t, err, "InvalidArgument", 400)
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("dst"), UploadId: cr.UploadId, PartNumber: aws.Int32(3),
		CopySource: aws.String("upc/src"), CopySourceRange: aws.String("garbage")})
	wantErr(t, err, "InvalidArgument", 400)
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("dst"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{ETag: p1.CopyPartResult.ETag, PartNumber: aws.Int32(1)}, {ETag: p2.CopyPartResult.ETag, PartNumber: aws.Int32(2)}}}})
	must(t, err)
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dst")})
	must(t, err)
	if readAll(t, get.Body) != string(src) {
		t.Fatal("copied parts differ from the source")
	}
}
