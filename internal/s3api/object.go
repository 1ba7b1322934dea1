package s3api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/internal/checksum"

	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/store"
)

type readCloser struct {
	io.Reader
	io.Closer
}

func (s *Server) putObject(w http.ResponseWriter, req *request) error {
	tmpl, err := objectTemplate(req.Header)
	if err != nil {
		return err
	}
	body, err := requestBody(req)
	if err != nil {
		return err
	}
	check, err := newBodyCheck(req)
	if err != nil {
		return err
	}
	info, err := s.store.PutObject(req.Context(), req.bucket, req.key, check.wrap(body), tmpl, store.PutOptions{Verify: check.verify})
	if err != nil {
		return err
	}
	h := w.Header()
	h["Etag"] = []string{`"` + info.ETag + `"`}
	writeChecksumHeaders(h, info.Checksum)
	w.WriteHeader(http.StatusOK)
	return nil
}

// getObject serves GetObject and HeadObject.
func (s *Server) getObject(w http.ResponseWriter, req *request) error {
	q := req.query
	for k := range q {
		if strings.HasPrefix(k, "response-") && !validResponseOverride(k) {
			return s3err.InvalidArgument.Msg("Invalid response header override").With("ArgumentName", k)
		}
	}
	obj, err := s.store.OpenObject(req.Context(), req.bucket, req.key)
	if errors.Is(err, store.ErrNoSuchKey) && s.allow(req, "s3:ListBucket", bucketARN(req.bucket)) != nil {
		// Without s3:ListBucket a caller may not learn that a key is
		// absent (S3 answers 403, not 404).
		return s3err.AccessDenied.Because("NoSuchKey hidden: no s3:ListBucket on " + req.bucket)
	}
	if err != nil {
		return err
	}
	defer obj.Close()
	info := obj.Info()
	if err := checkPreconditions(req.Header, info.ETag, info.Modified, ""); err != nil {
		if e, ok := err.(*s3err.Error); ok && e.Code == "NotModified" {
			h := w.Header()
			h["Etag"] = []string{`"` + info.ETag + `"`}
			h["Last-Modified"] = []string{info.Modified.UTC().Format(http.TimeFormat)}
		}
		return err
	}
	h := w.Header()
	writeObjectHeaders(h, info)

	status := http.StatusOK
	rng := byteRange{0, info.Size}
	partial := false
	if pn, ok := q["partNumber"]; ok {
		n, err := strconv.Atoi(pn[0])
		if err != nil || n < 1 || n > store.MaxPartNumber {
			return s3err.InvalidArgument.Msg("Part number must be an integer between 1 and 10000, inclusive").With("ArgumentName", "partNumber").With("ArgumentValue", pn[0])
		}
		if rng, partial, err = partRange(info, n); err != nil {
			return err
		}
		if info.PartsCount > 0 {
			h["X-Amz-Mp-Parts-Count"] = []string{strconv.Itoa(info.PartsCount)}
			// A part read carries that part's checksum.
			if c := info.Checksum; c != nil && req.Header.Get("X-Amz-Checksum-Mode") == "ENABLED" && info.Segments[n-1].Checksum != "" {
				if a, ok := checksum.Parse(c.Algorithm); ok {
					h.Set(a.Header(), info.Segments[n-1].Checksum)
				}
			}
		}
	} else if v := req.Header.Get("Range"); v != "" {
		r, ok, err := parseRange(v, info.Size)
		if err != nil {
			return err
		}
		if ok {
			rng, partial = r, true
		}
	}
	if partial {
		status = http.StatusPartialContent
		h["Content-Range"] = []string{"bytes " + strconv.FormatInt(rng.off, 10) + "-" + strconv.FormatInt(rng.off+rng.n-1, 10) + "/" + strconv.FormatInt(info.Size, 10)}
	} else if req.Header.Get("X-Amz-Checksum-Mode") == "ENABLED" {
		// A whole-object checksum describes full reads only: on a range
		// the SDKs would validate the part against it and fail.
		writeChecksumHeaders(h, info.Checksum)
	}
	for k, vs := range q {
		if name, ok := responseOverrides[k]; ok {
			h[name] = []string{vs[0]}
		}
	}
	setInt(h, "Content-Length", rng.n)
	w.WriteHeader(status)
	if req.Method == http.MethodHead || rng.n == 0 {
		return nil
	}
	_, err = io.Copy(w, obj.NewReader(rng.off, rng.n))
	if err != nil {
		// The status is sent; the client sees a short body and retries.
		s.log.Warn("GetObject body aborted", "request_id", req.id, "bucket", req.bucket, "key", req.key, "err", err)
	}
	return nil
}

// partRange is the byte range of part n of an object.
func partRange(info *store.ObjectInfo, n int) (byteRange, bool, error) {
	if info.PartsCount == 0 {
		if n == 1 {
			return byteRange{0, info.Size}, false, nil
		}
	} else if n <= len(info.Segments) {
		off := int64(0)
		for _, seg := range info.Segments[:n-1] {
			off += seg.Size
		}
		return byteRange{off, info.Segments[n-1].Size}, true, nil
	}
	return byteRange{}, false, s3err.New("InvalidPartNumber", "The requested partnumber is not satisfiable").WithStatus(http.StatusRequestedRangeNotSatisfiable)
}

var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func validResponseOverride(k string) bool { _, ok := responseOverrides[k]; return ok }

func (s *Server) deleteObject(w http.ResponseWriter, req *request) error {
	if err := s.store.DeleteObject(req.Context(), req.bucket, req.key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=...]",
// URL-encoded.
func copySource(h http.Header) (bucket, key string, err error) {
	src := h.Get("X-Amz-Copy-Source")
	bad := s3err.InvalidArgument.Msg("Copy Source must mention the source bucket and key: sourcebucket/sourcekey").With("ArgumentName", "x-amz-copy-source").With("ArgumentValue", src)
	path, query, _ := strings.Cut(src, "?")
	if query != "" {
		vals, _ := url.ParseQuery(query)
		if v := vals.Get("versionId"); v != "" && v != "null" {
			return "", "", s3err.New("NoSuchVersion", "The specified version does not exist.")
		}
	}
	dec, uerr := url.PathUnescape(path)
	if uerr != nil {
		return "", "", bad
	}
	dec = strings.TrimPrefix(dec, "/")
	bucket, key, ok := strings.Cut(dec, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", bad
	}
	if len(key) > store.MaxKeyLength {
		return "", "", s3err.KeyTooLong
	}
	return bucket, key, nil
}

// openCopySource opens the source of a copy and applies the
// x-amz-copy-source-if-* conditions.
func (s *Server) openCopySource(req *request) (store.Object, string, string, error) {
	bucket, key, err := copySource(req.Header)
	if err != nil {
		return nil, "", "", err
	}
	if err := s.allow(req, "s3:GetObject", objectARN(bucket, key)); err != nil {
		return nil, "", "", err
	}
	obj, err := s.store.OpenObject(req.Context(), bucket, key)
	if err != nil {
		switch err {
		case store.ErrNoSuchBucket:
			return nil, "", "", s3err.NoSuchBucket.With("BucketName", bucket)
		case store.ErrNoSuchKey:
			return nil, "", "", s3err.NoSuchKey.With("Key", key)
		}
		return nil, "", "", err
	}
	info := obj.Info()
	if err := checkPreconditions(req.Header, info.ETag, info.Modified, "X-Amz-Copy-Source-"); err != nil {
		obj.Close()
		return nil, "", "", err
	}
	return obj, bucket, key, nil
}

func (s *Server) copyObject(w http.ResponseWriter, req *request) error {
	directive := req.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return s3err.InvalidArgument.Msg("Unknown metadata directive.").With("ArgumentName", "x-amz-metadata-directive").With("ArgumentValue", directive)
	}
	tagDirective := req.Header.Get("X-Amz-Tagging-Directive")
	if tagDirective != "" && tagDirective != "COPY" && tagDirective != "REPLACE" {
		return s3err.InvalidArgument.Msg("Unknown tagging directive.").With("ArgumentName", "x-amz-tagging-directive").With("ArgumentValue", tagDirective)
	}
	obj, srcBucket, srcKey, err := s.openCopySource(req)
	if err != nil {
		return err
	}
	defer obj.Close()
	src := obj.Info()
	if srcBucket == req.bucket && srcKey == req.key && directive != "REPLACE" && tagDirective != "REPLACE" {
		return s3err.InvalidRequest.Msg("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	tmpl := store.ObjectInfo{Headers: src.Headers, Meta: src.Meta, Tags: src.Tags}
	if directive == "REPLACE" || tagDirective == "REPLACE" {
		repl, err := objectTemplate(req.Header)
		if err != nil {
			return err
		}
		if directive == "REPLACE" {
			tmpl.Headers, tmpl.Meta = repl.Headers, repl.Meta
		}
		if tagDirective == "REPLACE" {
			tmpl.Tags = repl.Tags
		}
	}
	if src.Size > store.MaxPutSize {
		return s3err.InvalidRequest.Msg("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	info, err := s.store.PutObject(req.Context(), req.bucket, req.key, obj.NewReader(0, src.Size), tmpl, store.PutOptions{})
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, &copyObjectResult{NS: s3NS, ETag: `"` + info.ETag + `"`, LastModified: isoTime(info.Modified)})
}

func (s *Server) putObjectTagging(w http.ResponseWriter, req *request) error {
	var t tagging
	if err := readXML(req.Request, &t); err != nil {
		return err
	}
	tags := make([]store.Tag, 0, len(t.TagSet))
	for _, x := range t.TagSet {
		tags = append(tags, store.Tag{Key: x.Key, Value: x.Value})
	}
	if err := validateTags(tags); err != nil {
		return err
	}
	_, err := s.store.UpdateObject(req.Context(), req.bucket, req.key, func(info *store.ObjectInfo) error {
		info.Tags = tags
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObjectTagging(w http.ResponseWriter, req *request) error {
	info, err := s.store.HeadObject(req.Context(), req.bucket, req.key)
	if err != nil {
		return err
	}
	res := tagging{NS: s3NS, TagSet: make([]tagXML, 0, len(info.Tags))}
	for _, t := range info.Tags {
		res.TagSet = append(res.TagSet, tagXML{t.Key, t.Value})
	}
	return writeXML(w, http.StatusOK, &res)
}

func (s *Server) deleteObjectTagging(w http.ResponseWriter, req *request) error {
	_, err := s.store.UpdateObject(req.Context(), req.bucket, req.key, func(info *store.ObjectInfo) error {
		info.Tags = nil
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getObjectAttributes serves GetObjectAttributes.
func (s *Server) getObjectAttributes(w http.ResponseWriter, req *request) error {
	want := map[string]bool{}
	// Clients send the list in one header or as repeated headers.
	for _, a := range strings.Split(strings.Join(req.Header.Values("X-Amz-Object-Attributes"), ","), ",") {
		a = strings.TrimSpace(a)
		switch a {
		case "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize":
			want[a] = true
		case "":
		default:
			return s3err.InvalidArgument.Msg("Invalid attribute name specified.").With("ArgumentName", "x-amz-object-attributes").With("ArgumentValue", a)
		}
	}
	if len(want) == 0 {
		return s3err.InvalidArgument.Msg("The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty").With("ArgumentName", "x-amz-object-attributes")
	}
	maxParts, marker := 1000, 0
	if v := req.Header.Get("X-Amz-Max-Parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3err.InvalidArgument.Msg("Invalid x-amz-max-parts").With("ArgumentName", "x-amz-max-parts")
		}
		maxParts = min(n, 1000)
	}
	if v := req.Header.Get("X-Amz-Part-Number-Marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3err.InvalidArgument.Msg("Invalid x-amz-part-number-marker").With("ArgumentName", "x-amz-part-number-marker")
		}
		marker = n
	}
	obj, err := s.store.OpenObject(req.Context(), req.bucket, req.key)
	if err != nil {
		return err
	}
	info := obj.Info()
	obj.Close()
	res := objectAttributes{NS: s3NS}
	if want["ETag"] {
		res.ETag = info.ETag
	}
	if want["StorageClass"] {
		res.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		res.ObjectSize = &info.Size
	}
	alg := checksum.Algorithm("")
	if info.Checksum != nil {
		alg = checksum.Algorithm(info.Checksum.Algorithm)
	}
	if want["Checksum"] && info.Checksum != nil {
		res.Checksum = &checksumXML{Type: info.Checksum.Type}
		res.Checksum.set(alg, info.Checksum.Value)
	}
	if want["ObjectParts"] && info.PartsCount > 0 {
		op := &objectParts{TotalPartsCount: info.PartsCount, PartNumberMarker: marker, MaxParts: maxParts}
		for i, seg := range info.Segments {
			n := i + 1
			if n <= marker {
				continue
			}
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			p := partAttr{PartNumber: n, Size: seg.Size}
			p.set(alg, seg.Checksum)
			op.Parts = append(op.Parts, p)
			op.NextPartNumberMarker = n
		}
		res.ObjectParts = op
	}
	w.Header().Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	return writeXML(w, http.StatusOK, &res)
}
