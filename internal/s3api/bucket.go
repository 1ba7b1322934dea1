package s3api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/store"
)

type handlerFunc func(s *Server, w http.ResponseWriter, req *request) error

// handlers maps each implemented operation to its handler.
var handlers map[string]handlerFunc

func init() {
	handlers = map[string]handlerFunc{
		opListBuckets:             (*Server).listBuckets,
		opCreateBucket:            (*Server).createBucket,
		opHeadBucket:              (*Server).headBucket,
		opDeleteBucket:            (*Server).deleteBucket,
		opGetBucketLocation:       (*Server).getBucketLocation,
		opListObjects:             (*Server).listObjects,
		opListObjectsV2:           (*Server).listObjects,
		opListMultipartUploads:    (*Server).listMultipartUploads,
		opDeleteObjects:           (*Server).deleteObjects,
		opPutObject:               (*Server).putObject,
		opCopyObject:              (*Server).copyObject,
		opGetObject:               (*Server).getObject,
		opHeadObject:              (*Server).getObject,
		opDeleteObject:            (*Server).deleteObject,
		opPutObjectTagging:        (*Server).putObjectTagging,
		opGetObjectTagging:        (*Server).getObjectTagging,
		opDeleteObjectTagging:     (*Server).deleteObjectTagging,
		opCreateMultipartUpload:   (*Server).createMultipartUpload,
		opUploadPart:              (*Server).uploadPart,
		opUploadPartCopy:          (*Server).uploadPart,
		opCompleteMultipartUpload: (*Server).completeMultipartUpload,
		opAbortMultipartUpload:    (*Server).abortMultipartUpload,
		opListParts:               (*Server).listParts,
		opGetObjectAttributes:     (*Server).getObjectAttributes,
		opPutBucketPolicy:         (*Server).putBucketPolicy,
		opGetBucketPolicy:         (*Server).getBucketPolicy,
		opDeleteBucketPolicy:      (*Server).deleteBucketPolicy,
		opGetBucketPolicyStatus:   (*Server).getBucketPolicyStatus,
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func (s *Server) listBuckets(w http.ResponseWriter, req *request) error {
	buckets, err := s.store.ListBuckets(req.Context())
	if err != nil {
		return err
	}
	prefix := req.query.Get("prefix")
	res := listAllMyBucketsResult{NS: s3NS, Owner: s.owner, Prefix: prefix}
	for _, b := range buckets {
		if !strings.HasPrefix(b.Name, prefix) {
			continue
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name, CreationDate: isoTime(b.Created), BucketRegion: s.region})
	}
	return writeXML(w, http.StatusOK, &res)
}

func (s *Server) createBucket(w http.ResponseWriter, req *request) error {
	if !validBucketName(req.bucket) {
		return s3err.InvalidBucketName.With("BucketName", req.bucket)
	}
	if req.ContentLength != 0 {
		var cfg createBucketConfiguration
		if err := readXML(req.Request, &cfg); err != nil {
			if e, ok := err.(*s3err.Error); !ok || e.Code != "MissingRequestBodyError" {
				return err
			}
		}
		lc := cfg.LocationConstraint
		if lc != "" && lc != s.region && !(lc == "US" && s.region == "us-east-1") {
			return s3err.New("InvalidLocationConstraint", "The specified location-constraint is not valid").With("LocationConstraint", lc)
		}
	}
	if err := s.store.CreateBucket(req.Context(), req.bucket, s.region); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+req.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(w http.ResponseWriter, req *request) error {
	if _, err := s.store.GetBucket(req.Context(), req.bucket); err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, req *request) error {
	if err := s.store.DeleteBucket(req.Context(), req.bucket); err != nil {
		return err
	}
	s.policies.drop(req.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketLocation(w http.ResponseWriter, req *request) error {
	if _, err := s.store.GetBucket(req.Context(), req.bucket); err != nil {
		return err
	}
	region := s.region
	if region == "us-east-1" {
		region = "" // AWS reports us-east-1 as an empty constraint
	}
	return writeXML(w, http.StatusOK, &locationConstraint{NS: s3NS, Region: region})
}

// parseMaxKeys reads a max-keys style parameter (default and cap 1000).
func parseMaxKeys(q url.Values, name string) (int, error) {
	v, ok := q[name]
	if !ok || v[0] == "" {
		return store.DefaultMaxKeys, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return 0, s3err.InvalidArgument.Msg("Provided "+name+" not an integer or within integer range").
			With("ArgumentName", name).With("ArgumentValue", v[0])
	}
	return min(n, store.DefaultMaxKeys), nil
}

// encodeKey applies encoding-type=url to a key or prefix in a listing.
func encodeKey(s string, url bool) string {
	if !url {
		return s
	}
	return strings.ReplaceAll(urlQueryEscape(s), "%2F", "/")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (s *Server) listObjects(w http.ResponseWriter, req *request) error {
	q := req.query
	v2 := req.op == opListObjectsV2
	maxKeys, err := parseMaxKeys(q, "max-keys")
	if err != nil {
		return err
	}
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return s3err.InvalidArgument.Msg("Invalid Encoding Method specified in Request").With("ArgumentName", "encoding-type").With("ArgumentValue", enc)
	}
	useURL := enc == "url"
	opts := store.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxKeys}
	res := listBucketResult{NS: s3NS, Name: req.bucket, MaxKeys: maxKeys, EncodingType: enc,
		Prefix: encodeKey(opts.Prefix, useURL), Delimiter: encodeKey(opts.Delimiter, useURL)}
	if v2 {
		if tok, ok := q["continuation-token"]; ok {
			raw, err := base64.RawURLEncoding.DecodeString(tok[0])
			if err != nil || tok[0] == "" {
				return s3err.InvalidArgument.Msg("The continuation token provided is incorrect").With("ArgumentName", "continuation-token")
			}
			opts.Marker = string(raw)
			res.ContinuationToken = tok[0]
		} else {
			opts.Marker = q.Get("start-after")
		}
		res.StartAfter = encodeKey(q.Get("start-after"), useURL)
	} else {
		opts.Marker = q.Get("marker")
		m := encodeKey(opts.Marker, useURL)
		res.Marker = &m
	}
	var page store.ListResult
	if maxKeys > 0 {
		if page, err = s.store.ListObjects(req.Context(), req.bucket, opts); err != nil {
			return err
		}
	} else if _, err := s.store.GetBucket(req.Context(), req.bucket); err != nil {
		return err
	}
	withOwner := !v2 || q.Get("fetch-owner") == "true"
	res.Contents = make([]objectXML, 0, len(page.Objects))
	for i := range page.Objects {
		o := &page.Objects[i]
		x := objectXML{Key: encodeKey(o.Key, useURL), LastModified: isoTime(o.Modified), ETag: `"` + o.ETag + `"`, Size: o.Size, StorageClass: "STANDARD"}
		if withOwner {
			x.Owner = &s.owner
		}
		if o.Checksum != nil {
			x.ChecksumAlgorithm, x.ChecksumType = o.Checksum.Algorithm, o.Checksum.Type
		}
		res.Contents = append(res.Contents, x)
	}
	for _, p := range page.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{encodeKey(p, useURL)})
	}
	res.IsTruncated = page.IsTruncated
	if v2 {
		n := len(page.Objects) + len(page.CommonPrefixes)
		res.KeyCount = &n
		if page.IsTruncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(page.NextMarker))
		}
	} else if page.IsTruncated && opts.Delimiter != "" {
		res.NextMarker = encodeKey(page.NextMarker, useURL)
	}
	return writeXML(w, http.StatusOK, &res)
}

func (s *Server) listMultipartUploads(w http.ResponseWriter, req *request) error {
	q := req.query
	maxUploads, err := parseMaxKeys(q, "max-uploads")
	if err != nil {
		return err
	}
	enc := q.Get("encoding-type")
	useURL := enc == "url"
	opts := store.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), Marker: q.Get("key-marker"), MaxKeys: maxUploads}
	list, err := s.store.ListUploads(req.Context(), req.bucket, opts, q.Get("upload-id-marker"))
	if err != nil {
		return err
	}
	res := listMultipartUploadsResult{NS: s3NS, Bucket: req.bucket, KeyMarker: encodeKey(opts.Marker, useURL),
		UploadIDMarker: q.Get("upload-id-marker"), Prefix: encodeKey(opts.Prefix, useURL), Delimiter: encodeKey(opts.Delimiter, useURL),
		MaxUploads: maxUploads, EncodingType: enc, IsTruncated: list.IsTruncated}
	if list.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = encodeKey(list.NextKeyMarker, useURL), list.NextUploadIDMarker
	}
	for _, u := range list.Uploads {
		x := uploadXML{Key: encodeKey(u.Key, useURL), UploadID: u.ID, Initiator: s.owner, Owner: s.owner, StorageClass: "STANDARD", Initiated: isoTime(u.Initiated)}
		if c := u.Template.Checksum; c != nil {
			x.ChecksumAlgorithm, x.ChecksumType = c.Algorithm, c.Type
		}
		res.Uploads = append(res.Uploads, x)
	}
	for _, p := range list.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{encodeKey(p, useURL)})
	}
	return writeXML(w, http.StatusOK, &res)
}

const maxDeleteObjects = 1000

func (s *Server) deleteObjects(w http.ResponseWriter, req *request) error {
	h := req.Header
	hasChecksum := false
	for k := range h {
		if strings.HasPrefix(k, "X-Amz-Checksum-") && k != "X-Amz-Checksum-Mode" {
			hasChecksum = true
		}
	}
	if h.Get("Content-Md5") == "" && !hasChecksum {
		return s3err.InvalidRequest.Msg("Missing required header for this request: Content-MD5 OR x-amz-checksum-*")
	}
	body, err := requestBody(req)
	if err != nil {
		return err
	}
	check, err := newBodyCheck(req)
	if err != nil {
		return err
	}
	// The digest covers the whole body: check it before parsing.
	raw, err := readBody(check.wrap(body), maxXMLBody)
	if err != nil {
		return err
	}
	if _, err := check.verify(); err != nil {
		return err
	}
	var del deleteRequest
	if err := parseXML(raw, &del); err != nil {
		return err
	}
	if len(del.Objects) == 0 || len(del.Objects) > maxDeleteObjects {
		return s3err.MalformedXML.Because("DeleteObjects with " + itoa(len(del.Objects)) + " keys")
	}
	if _, err := s.store.GetBucket(req.Context(), req.bucket); err != nil {
		return err
	}
	res := deleteResult{NS: s3NS}
	for _, o := range del.Objects {
		var err error
		switch {
		case o.Key == "":
			err = s3err.New("UserKeyMustBeSpecified", "The key must be specified.")
		case len(o.Key) > store.MaxKeyLength:
			err = s3err.KeyTooLong
		case o.VersionID != "" && o.VersionID != "null":
			err = s3err.New("NoSuchVersion", "The specified version does not exist.")
		default:
			if err = s.allow(req, "s3:DeleteObject", objectARN(req.bucket, o.Key)); err != nil {
				s.log.Info("DeleteObjects key denied", "request_id", req.id, "key", o.Key, "reason", s3err.As(err).Cause)
			} else {
				err = s.store.DeleteObject(req.Context(), req.bucket, o.Key)
			}
		}
		if err != nil {
			e := s.toS3Error(err, req)
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if !del.Quiet {
			res.Deleted = append(res.Deleted, deletedXML{Key: o.Key, VersionID: o.VersionID})
		}
	}
	return writeXML(w, http.StatusOK, &res)
}
