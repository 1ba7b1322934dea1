// Package store owns object storage: buckets, objects, multipart uploads and
// listings behind the Backend interface, and Local, the embedded engine that
// keeps an index in bbolt and object bytes either inline in that index
// (small objects) or in immutable blob files (large ones). See
// docs/storage.md for the layout and the crash-consistency argument.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors returned by a Backend. The S3 layer maps each to its S3 code.
var (
	ErrNoSuchBucket     = errors.New("store: no such bucket")
	ErrBucketExists     = errors.New("store: bucket already exists")
	ErrBucketNotEmpty   = errors.New("store: bucket not empty")
	ErrNoSuchKey        = errors.New("store: no such key")
	ErrNoSuchUpload     = errors.New("store: no such upload")
	ErrInvalidPart      = errors.New("store: invalid part")
	ErrInvalidPartOrder = errors.New("store: invalid part order")
	ErrEntityTooSmall   = errors.New("store: part too small")
	ErrEntityTooLarge   = errors.New("store: entity too large")
)

// Limits of the S3 data model that the store enforces.
const (
	MaxObjectSize   = 5 << 40 // 5 TiB
	MaxPutSize      = 5 << 30 // single PUT and one part: 5 GiB
	MinPartSize     = 5 << 20 // every part but the last
	MaxPartNumber   = 10000
	MaxKeyLength    = 1024
	DefaultMaxKeys  = 1000
	uploadIDLength  = 32
	maxListPageSize = 1000
)

// Bucket describes a bucket.
type Bucket struct {
	Name    string    `json:"-"`
	Created time.Time `json:"c"`
	Region  string    `json:"r,omitempty"`
	// Policy is the bucket policy document, "" for none.
	Policy string `json:"p,omitempty"`
}

// Tag is one object tag; tag order is kept as given.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Checksum is a flexible checksum stored with an object or a part.
type Checksum struct {
	Algorithm string `json:"a,omitempty"` // CRC32, CRC32C, CRC64NVME, SHA1, SHA256
	Value     string `json:"v,omitempty"` // base64, with "-N" for composite values
	Type      string `json:"t,omitempty"` // FULL_OBJECT or COMPOSITE
}

// Segment is a run of object bytes held in one blob. The segments of a
// multipart object are its parts.
type Segment struct {
	Blob   string `json:"b"`
	Size   int64  `json:"s"`
	Inline bool   `json:"i,omitempty"`
	// Checksum is the part's flexible checksum value (multipart only).
	Checksum string `json:"c,omitempty"`
}

// ObjectInfo is everything stored about an object except its bytes.
type ObjectInfo struct {
	Key      string    `json:"-"`
	Size     int64     `json:"s"`
	ETag     string    `json:"e"` // without quotes
	Modified time.Time `json:"m"`
	// Headers are the stored system headers (Content-Type, Cache-Control,
	// ...), by canonical header name.
	Headers map[string]string `json:"h,omitempty"`
	// Meta is the user metadata, by lower-case name without x-amz-meta-.
	Meta     map[string]string `json:"u,omitempty"`
	Tags     []Tag             `json:"t,omitempty"`
	Checksum *Checksum         `json:"k,omitempty"`
	// PartsCount is the number of parts of a multipart object, 0 otherwise.
	PartsCount int       `json:"p,omitempty"`
	Segments   []Segment `json:"g"`
}

// Upload describes a multipart upload in progress.
type Upload struct {
	Bucket    string     `json:"-"`
	Key       string     `json:"-"`
	ID        string     `json:"-"`
	Initiated time.Time  `json:"i"`
	Template  ObjectInfo `json:"o"` // headers, metadata, tags, checksum algorithm
}

// Part describes an uploaded part.
type Part struct {
	Number   int       `json:"-"`
	Size     int64     `json:"s"`
	ETag     string    `json:"e"`
	Modified time.Time `json:"m"`
	Checksum *Checksum `json:"k,omitempty"`
	Segment  Segment   `json:"g"`
}

// CompletePart names a part in a CompleteMultipartUpload request.
type CompletePart struct {
	Number int
	ETag   string // without quotes
}

// ListOptions select a page of a listing. Marker is exclusive: the page
// starts after it.
type ListOptions struct {
	Prefix    string
	Delimiter string
	Marker    string
	MaxKeys   int
}

// ListResult is one page of a listing.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextMarker is the last key or common prefix on the page.
	NextMarker string
}

// UploadList is one page of ListMultipartUploads.
type UploadList struct {
	Uploads            []Upload
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// PutOptions tune a single write.
type PutOptions struct {
	// Verify runs after the body was read whole and before the write is
	// committed; an error aborts the write. It lets the S3 layer check
	// checksums computed while streaming; the checksum it returns, if
	// any, is stored with the object or part.
	Verify func() (*Checksum, error)
}

// CompleteOptions tune CompleteUpload.
type CompleteOptions struct {
	// Check runs inside the commit with the upload, the chosen parts and
	// the object about to be written (ETag and size set); it may fill in
	// the checksum or refuse the completion. It must not block.
	Check func(u *Upload, parts []Part, info *ObjectInfo) error
}

// Object is an open object: its metadata, and its bytes as a snapshot that
// later writes to the same key do not change.
type Object interface {
	Info() *ObjectInfo
	// NewReader returns the bytes [off, off+n).
	NewReader(off, n int64) io.Reader
	Close() error
}

// Backend is what the S3 layer needs from a store. Local is the embedded
// implementation; a gateway backend over an upstream S3 cluster implements
// the same interface.
type Backend interface {
	CreateBucket(ctx context.Context, name, region string) error
	DeleteBucket(ctx context.Context, name string) error
	GetBucket(ctx context.Context, name string) (Bucket, error)
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// SetBucketPolicy stores a bucket's policy ("" deletes it).
	SetBucketPolicy(ctx context.Context, name, policy string) error

	PutObject(ctx context.Context, bucket, key string, body io.Reader, tmpl ObjectInfo, opts PutOptions) (ObjectInfo, error)
	OpenObject(ctx context.Context, bucket, key string) (Object, error)
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	DeleteObject(ctx context.Context, bucket, key string) error
	// UpdateObject changes an object's metadata (tags) in place.
	UpdateObject(ctx context.Context, bucket, key string, fn func(*ObjectInfo) error) (ObjectInfo, error)
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)

	CreateUpload(ctx context.Context, bucket, key string, tmpl ObjectInfo) (Upload, error)
	GetUpload(ctx context.Context, bucket, key, uploadID string) (Upload, error)
	PutPart(ctx context.Context, bucket, key, uploadID string, number int, body io.Reader, opts PutOptions) (Part, error)
	ListParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) ([]Part, bool, error)
	AbortUpload(ctx context.Context, bucket, key, uploadID string) error
	CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, opts CompleteOptions) (ObjectInfo, error)
	ListUploads(ctx context.Context, bucket string, opts ListOptions, uploadIDMarker string) (UploadList, error)

	Close() error
}
