package s3api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/internal/checksum"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/store"
)

func (s *Server) createMultipartUpload(w http.ResponseWriter, req *request) error {
	tmpl, err := objectTemplate(req.Header)
	if err != nil {
		return err
	}
	if a := req.Header.Get("X-Amz-Checksum-Algorithm"); a != "" {
		alg, ok := checksum.Parse(a)
		if !ok {
			return s3err.InvalidRequest.Msg("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		typ := req.Header.Get("X-Amz-Checksum-Type")
		if typ == "" {
			typ = "COMPOSITE"
			if !alg.SupportsComposite() {
				typ = "FULL_OBJECT"
			}
		}
		switch {
		case typ == "COMPOSITE" && alg.SupportsComposite():
		case typ == "FULL_OBJECT" && alg.SupportsFullObject():
		default:
			return s3err.InvalidRequest.Msg("The " + typ + " checksum type cannot be used with the " + strings.ToLower(string(alg)) + " checksum algorithm.")
		}
		tmpl.Checksum = &store.Checksum{Algorithm: string(alg), Type: typ}
	}
	u, err := s.store.CreateUpload(req.Context(), req.bucket, req.key, tmpl)
	if err != nil {
		return err
	}
	if c := tmpl.Checksum; c != nil {
		w.Header().Set("X-Amz-Checksum-Algorithm", c.Algorithm)
		w.Header().Set("X-Amz-Checksum-Type", c.Type)
	}
	return writeXML(w, http.StatusOK, &initiateMultipartUploadResult{NS: s3NS, Bucket: req.bucket, Key: req.key, UploadID: u.ID})
}

func partNumber(req *request) (int, error) {
	v := req.query.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxPartNumber {
		return 0, s3err.InvalidArgument.Msg("Part number must be an integer between 1 and 10000, inclusive").
			With("ArgumentName", "partNumber").With("ArgumentValue", v)
	}
	return n, nil
}

// uploadPart serves UploadPart and UploadPartCopy.
func (s *Server) uploadPart(w http.ResponseWriter, req *request) error {
	n, err := partNumber(req)
	if err != nil {
		return err
	}
	id := req.query.Get("uploadId")
	if req.op == opUploadPartCopy {
		return s.uploadPartCopy(w, req, id, n)
	}
	body, err := requestBody(req)
	if err != nil {
		return err
	}
	check, err := newBodyCheck(req)
	if err != nil {
		return err
	}
	p, err := s.store.PutPart(req.Context(), req.bucket, req.key, id, n, check.wrap(body), store.PutOptions{Verify: check.verify})
	if err != nil {
		return err
	}
	h := w.Header()
	h["Etag"] = []string{`"` + p.ETag + `"`}
	if p.Checksum != nil {
		if a, ok := checksum.Parse(p.Checksum.Algorithm); ok {
			h.Set(a.Header(), p.Checksum.Value)
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) uploadPartCopy(w http.ResponseWriter, req *request, id string, n int) error {
	if _, err := s.store.GetUpload(req.Context(), req.bucket, req.key, id); err != nil {
		return err
	}
	obj, _, _, err := s.openCopySource(req)
	if err != nil {
		return err
	}
	defer obj.Close()
	size := obj.Info().Size
	rng := byteRange{0, size}
	if v := req.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		r, ok, err := parseRange(v, size)
		if err != nil || !ok || !strings.Contains(v, "-") || strings.HasPrefix(strings.TrimPrefix(v, "bytes="), "-") ||
			strings.HasSuffix(v, "-") || r.n != explicitRangeLen(v) {
			return s3err.InvalidArgument.Msg("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy").
				With("ArgumentName", "x-amz-copy-source-range").With("ArgumentValue", v)
		}
		rng = r
	}
	if rng.n > store.MaxPutSize {
		return s3err.EntityTooLarge
	}
	p, err := s.store.PutPart(req.Context(), req.bucket, req.key, id, n, obj.NewReader(rng.off, rng.n), store.PutOptions{})
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, &copyPartResult{NS: s3NS, ETag: `"` + p.ETag + `"`, LastModified: isoTime(p.Modified)})
}

// explicitRangeLen is last-first+1 of "bytes=first-last", or -1. A copy
// range must lie inside the source: S3 does not clamp it.
func explicitRangeLen(v string) int64 {
	a, b, ok := strings.Cut(strings.TrimPrefix(v, "bytes="), "-")
	if !ok {
		return -1
	}
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return y - x + 1
}

func setResultChecksum(res *completeMultipartUploadResult, c *store.Checksum) {
	if c == nil || c.Value == "" {
		return
	}
	res.set(checksum.Algorithm(c.Algorithm), c.Value)
	res.ChecksumType = c.Type
}

func (s *Server) completeMultipartUpload(w http.ResponseWriter, req *request) error {
	id := req.query.Get("uploadId")
	var body completeMultipartUpload
	if err := readXML(req.Request, &body); err != nil {
		return err
	}
	if len(body.Parts) == 0 {
		return s3err.MalformedXML.Because("CompleteMultipartUpload without parts")
	}
	want := make([]store.CompletePart, len(body.Parts))
	for i, p := range body.Parts {
		if p.PartNumber < 1 || p.PartNumber > store.MaxPartNumber {
			return s3err.InvalidArgument.Msg("Part number must be an integer between 1 and 10000, inclusive")
		}
		want[i] = store.CompletePart{Number: p.PartNumber, ETag: strings.Trim(strings.TrimSpace(p.ETag), `"`)}
	}
	h := req.Header
	check := func(u *store.Upload, parts []store.Part, info *store.ObjectInfo) error {
		if err := completeChecksum(u, body.Parts, parts, info); err != nil {
			return err
		}
		return checkCompleteHeaders(h, u, info)
	}
	info, err := s.store.CompleteUpload(req.Context(), req.bucket, req.key, id, want, store.CompleteOptions{Check: check})
	if err != nil {
		return err
	}
	res := completeMultipartUploadResult{NS: s3NS, Location: "/" + req.bucket + "/" + req.key, Bucket: req.bucket, Key: req.key, ETag: `"` + info.ETag + `"`}
	setResultChecksum(&res, info.Checksum)
	return writeXML(w, http.StatusOK, &res)
}

// completeChecksum checks the part checksums named in a Complete request
// against those stored and sets the object's COMPOSITE checksum. Uploads
// without a declared algorithm keep no object checksum; FULL_OBJECT
// multipart checksums are not computed yet (see docs).
func completeChecksum(u *store.Upload, named []completePartXML, parts []store.Part, info *store.ObjectInfo) error {
	info.Checksum = nil
	decl := u.Template.Checksum
	for i, p := range parts {
		stored := p.Checksum
		for _, a := range checksum.All {
			v := named[i].get(a)
			if v == "" {
				continue
			}
			if stored == nil || stored.Algorithm != string(a) || stored.Value != v {
				return s3err.InvalidPart.Because("part " + itoa(p.Number) + " checksum differs from the one stored")
			}
		}
	}
	if decl == nil {
		return nil
	}
	alg := checksum.Algorithm(decl.Algorithm)
	if decl.Type == "FULL_OBJECT" {
		return fullObjectChecksum(alg, parts, info)
	}
	values := make([]string, len(parts))
	for i, p := range parts {
		if p.Checksum == nil || p.Checksum.Algorithm != decl.Algorithm {
			return s3err.InvalidRequest.Msg("The upload was created using a " + strings.ToLower(decl.Algorithm) + " checksum. The complete request must include the checksum for each part. It was missing for part " + itoa(p.Number) + " in the request.")
		}
		if named[i].get(alg) == "" {
			return s3err.InvalidRequest.Msg("The upload was created using a " + strings.ToLower(decl.Algorithm) + " checksum. The complete request must include the checksum for each part. It was missing for part " + itoa(p.Number) + " in the request.")
		}
		values[i] = p.Checksum.Value
	}
	v, ok := checksum.Composite(alg, values)
	if !ok {
		return s3err.InvalidPart.Because("stored part checksum undecodable")
	}
	info.Checksum = &store.Checksum{Algorithm: decl.Algorithm, Value: v, Type: "COMPOSITE"}
	return nil
}

// fullObjectChecksum combines the parts' CRCs into the CRC of the whole
// object (CRC combination needs only the part CRCs and lengths).
func fullObjectChecksum(alg checksum.Algorithm, parts []store.Part, info *store.ObjectInfo) error {
	var acc []byte
	for i, p := range parts {
		if p.Checksum == nil || p.Checksum.Algorithm != string(alg) {
			return s3err.InvalidRequest.Msg("The upload was created using a " + strings.ToLower(string(alg)) + " checksum. Part " + itoa(p.Number) + " was uploaded without one.")
		}
		raw, err := base64.StdEncoding.DecodeString(p.Checksum.Value)
		if err != nil {
			return s3err.InvalidPart.Because("stored part checksum undecodable")
		}
		if i == 0 {
			acc = raw
			continue
		}
		var ok bool
		if acc, ok = checksum.Combine(alg, acc, raw, p.Size); !ok {
			return s3err.InvalidRequest.Msg("FULL_OBJECT checksums need CRC32, CRC32C or CRC64NVME")
		}
	}
	info.Checksum = &store.Checksum{Algorithm: string(alg), Value: checksum.Encode(acc), Type: "FULL_OBJECT"}
	return nil
}

// checkCompleteHeaders applies the Complete request's x-amz-checksum-type,
// whole-object x-amz-checksum-<alg> and x-amz-mp-object-size.
func checkCompleteHeaders(h http.Header, u *store.Upload, info *store.ObjectInfo) error {
	if t := h.Get("X-Amz-Checksum-Type"); t != "" {
		if u.Template.Checksum == nil || u.Template.Checksum.Type != t {
			return s3err.BadDigest.Msg("The checksum type in the complete request does not match the one the upload was created with.")
		}
	}
	for _, a := range checksum.All {
		v := h.Get(a.Header())
		if v == "" {
			continue
		}
		if info.Checksum == nil || info.Checksum.Algorithm != string(a) {
			return s3err.InvalidRequest.Msg("The upload was not created with a " + string(a) + " checksum.")
		}
		if v != info.Checksum.Value && v != strings.SplitN(info.Checksum.Value, "-", 2)[0] {
			return s3err.BadDigest.Msg("The " + string(a) + " you specified did not match the calculated checksum.")
		}
	}
	if v := h.Get("X-Amz-Mp-Object-Size"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != info.Size {
			return s3err.InvalidRequest.Msg("The provided MpuObjectSize does not match the size of the object.")
		}
	}
	return nil
}

func (s *Server) abortMultipartUpload(w http.ResponseWriter, req *request) error {
	if err := s.store.AbortUpload(req.Context(), req.bucket, req.key, req.query.Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParts(w http.ResponseWriter, req *request) error {
	q := req.query
	id := q.Get("uploadId")
	maxParts, err := parseMaxKeys(q, "max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return s3err.InvalidArgument.Msg("Provided part-number-marker not an integer or within integer range").With("ArgumentName", "part-number-marker").With("ArgumentValue", v)
		}
	}
	u, err := s.store.GetUpload(req.Context(), req.bucket, req.key, id)
	if err != nil {
		return err
	}
	parts, truncated, err := s.store.ListParts(req.Context(), req.bucket, req.key, id, marker, maxParts)
	if err != nil {
		return err
	}
	res := listPartsResult{NS: s3NS, Bucket: req.bucket, Key: req.key, UploadID: id, Initiator: s.owner, Owner: s.owner,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts, IsTruncated: truncated}
	if c := u.Template.Checksum; c != nil {
		res.ChecksumAlgorithm, res.ChecksumType = c.Algorithm, c.Type
	}
	for _, p := range parts {
		x := partXML{PartNumber: p.Number, LastModified: isoTime(p.Modified), ETag: `"` + p.ETag + `"`, Size: p.Size}
		if c := p.Checksum; c != nil {
			x.set(checksum.Algorithm(c.Algorithm), c.Value)
		}
		res.Parts = append(res.Parts, x)
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(w, http.StatusOK, &res)
}
