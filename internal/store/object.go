package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PutObject streams body into a new blob and then, in one index
// transaction, points key at it. Readers see the old object or the new one,
// never a mix; of concurrent writers to one key the last commit wins whole.
func (s *Local) PutObject(ctx context.Context, bucket, key string, body io.Reader, tmpl ObjectInfo, opts PutOptions) (ObjectInfo, error) {
	if _, err := s.GetBucket(ctx, bucket); err != nil {
		return ObjectInfo{}, err
	}
	w, err := s.writeBlob(body, MaxPutSize)
	if err != nil {
		return ObjectInfo{}, err
	}
	info := tmpl
	if opts.Verify != nil {
		if info.Checksum, err = opts.Verify(); err != nil {
			s.discard(w)
			return ObjectInfo{}, err
		}
	}
	info.Key = key
	info.Size = w.seg.Size
	info.ETag = hex.EncodeToString(w.md5[:])
	info.Modified = time.Now().UTC()
	info.PartsCount = 0
	info.Segments = []Segment{w.seg}
	if err := s.commitObject(bucket, key, &info, w.data); err != nil {
		s.discard(w)
		return ObjectInfo{}, err
	}
	return info, nil
}

// commitObject writes info under key (and the inline bytes of its single
// segment, if any), then deletes the blobs of the object it replaced.
func (s *Local) commitObject(bucket, key string, info *ObjectInfo, inline []byte) error {
	val := encodeObject(info)
	var dead []string
	err := s.commit.update(func(tx *bolt.Tx) error {
		dead = dead[:0]
		objs, err := objects(tx, bucket)
		if err != nil {
			return err
		}
		if old := objs.Get([]byte(key)); old != nil {
			if dead, err = dropSegments(tx, old, dead); err != nil {
				return err
			}
		}
		if inline != nil || (len(info.Segments) == 1 && info.Segments[0].Inline) {
			if err := tx.Bucket(inlineRoot).Put([]byte(info.Segments[0].Blob), inline); err != nil {
				return err
			}
		}
		return objs.Put([]byte(key), val)
	})
	if err == nil {
		s.blobs.remove(dead)
	}
	return err
}

// dropSegments deletes the inline blobs of the record old within tx and
// appends its file blobs to dead, to be removed after the commit.
func dropSegments(tx *bolt.Tx, old []byte, dead []string) ([]string, error) {
	var info ObjectInfo
	if err := decodeObject(old, &info, true); err != nil {
		return dead, err
	}
	inl := tx.Bucket(inlineRoot)
	for _, seg := range info.Segments {
		if seg.Inline {
			if err := inl.Delete([]byte(seg.Blob)); err != nil {
				return dead, err
			}
		} else {
			dead = append(dead, seg.Blob)
		}
	}
	return dead, nil
}

// HeadObject returns an object's metadata.
func (s *Local) HeadObject(_ context.Context, bucket, key string) (ObjectInfo, error) {
	var info ObjectInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := readRecord(tx, bucket, key, &info)
		return err
	})
	info.Key = key
	return info, err
}

// readRecord decodes key's record into info and returns the bucket's
// object index.
func readRecord(tx *bolt.Tx, bucket, key string, info *ObjectInfo) (*bolt.Bucket, error) {
	objs, err := objects(tx, bucket)
	if err != nil {
		return nil, err
	}
	v := objs.Get([]byte(key))
	if v == nil {
		return nil, ErrNoSuchKey
	}
	return objs, decodeObject(v, info, true)
}

// localObject is an open object: its file blobs are opened at once, so a
// concurrent overwrite (which unlinks them) cannot change what it reads.
type localObject struct {
	info   ObjectInfo
	files  []*os.File // per segment; nil for inline segments
	inline [][]byte   // per segment; nil for file segments
}

// OpenObject opens an object for reading.
func (s *Local) OpenObject(ctx context.Context, bucket, key string) (Object, error) {
	for attempt := 0; ; attempt++ {
		o, err := s.openOnce(bucket, key)
		// A blob can vanish between reading the record and opening the
		// file when a writer replaced the object meanwhile: read the
		// record again.
		if errors.Is(err, fs.ErrNotExist) && attempt < 8 {
			continue
		}
		return o, err
	}
}

func (s *Local) openOnce(bucket, key string) (*localObject, error) {
	o := &localObject{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := readRecord(tx, bucket, key, &o.info); err != nil {
			return err
		}
		o.files = make([]*os.File, len(o.info.Segments))
		o.inline = make([][]byte, len(o.info.Segments))
		inl := tx.Bucket(inlineRoot)
		for i, seg := range o.info.Segments {
			if seg.Inline {
				data := inl.Get([]byte(seg.Blob))
				if int64(len(data)) != seg.Size {
					return errors.New("store: inline blob " + seg.Blob + " has wrong size")
				}
				o.inline[i] = append([]byte{}, data...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.info.Key = key
	for i, seg := range o.info.Segments {
		if seg.Inline {
			continue
		}
		f, err := s.blobs.open(seg.Blob)
		if err != nil {
			o.Close()
			return nil, err
		}
		o.files[i] = f
	}
	return o, nil
}

func (o *localObject) Info() *ObjectInfo { return &o.info }

func (o *localObject) NewReader(off, n int64) io.Reader {
	var rs []io.Reader
	pos := int64(0)
	for i, seg := range o.info.Segments {
		start, end := pos, pos+seg.Size
		pos = end
		if end <= off || start >= off+n {
			continue
		}
		a := max(off, start) - start
		b := min(off+n, end) - start
		if o.files[i] != nil {
			rs = append(rs, io.NewSectionReader(o.files[i], a, b-a))
		} else {
			rs = append(rs, bytes.NewReader(o.inline[i][a:b]))
		}
	}
	if len(rs) == 1 {
		return rs[0]
	}
	return io.MultiReader(rs...)
}

func (o *localObject) Close() error {
	for _, f := range o.files {
		if f != nil {
			f.Close()
		}
	}
	return nil
}

// DeleteObject removes key; a missing key is not an error (S3 semantics),
// a missing bucket is.
func (s *Local) DeleteObject(_ context.Context, bucket, key string) error {
	var dead []string
	err := s.commit.update(func(tx *bolt.Tx) error {
		dead = dead[:0]
		objs, err := objects(tx, bucket)
		if err != nil {
			return err
		}
		old := objs.Get([]byte(key))
		if old == nil {
			return nil
		}
		if dead, err = dropSegments(tx, old, dead); err != nil {
			return err
		}
		return objs.Delete([]byte(key))
	})
	if err == nil {
		s.blobs.remove(dead)
	}
	return err
}

// UpdateObject rewrites an object's metadata in place; fn must not change
// its segments.
func (s *Local) UpdateObject(_ context.Context, bucket, key string, fn func(*ObjectInfo) error) (ObjectInfo, error) {
	var info ObjectInfo
	err := s.db.Update(func(tx *bolt.Tx) error {
		info = ObjectInfo{}
		objs, err := readRecord(tx, bucket, key, &info)
		if err != nil {
			return err
		}
		segs := info.Segments
		if err := fn(&info); err != nil {
			return err
		}
		info.Segments = segs
		return objs.Put([]byte(key), encodeObject(&info))
	})
	info.Key = key
	return info, err
}

// ListObjects returns one page of keys in UTF-8 byte order. With a
// delimiter, keys that share a prefix up to the delimiter roll up into one
// common prefix, and the cursor jumps past all of them at once, so a page
// costs O(page size) seeks whatever the bucket holds.
func (s *Local) ListObjects(_ context.Context, bucket string, opts ListOptions) (ListResult, error) {
	var res ListResult
	maxKeys := opts.MaxKeys
	if maxKeys < 0 || maxKeys > maxListPageSize {
		maxKeys = maxListPageSize
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		objs, err := objects(tx, bucket)
		if err != nil {
			return err
		}
		walkKeys(objs.Cursor(), opts.Prefix, opts.Delimiter, opts.Marker, maxKeys, &res,
			func(k, v []byte) error {
				info := ObjectInfo{Key: string(k)}
				if err := decodeObject(v, &info, false); err != nil {
					return err
				}
				res.Objects = append(res.Objects, info)
				return nil
			})
		return nil
	})
	return res, err
}

// walkKeys pages through a sorted cursor with prefix, delimiter and an
// exclusive marker, calling emit for each key that is not rolled up into a
// common prefix, until maxKeys entries (keys plus prefixes) are taken.
func walkKeys(c *bolt.Cursor, prefix, delimiter, marker string, maxKeys int, res *ListResult, emit func(k, v []byte) error) error {
	start := prefix
	if marker > start {
		start = marker
	}
	count := 0
	k, v := c.Seek([]byte(start))
	for k != nil && bytes.HasPrefix(k, []byte(prefix)) {
		if string(k) <= marker {
			k, v = c.Next()
			continue
		}
		if delimiter != "" {
			if i := strings.Index(string(k[len(prefix):]), delimiter); i >= 0 {
				cp := string(k[:len(prefix)+i+len(delimiter)])
				// A prefix at or before the marker was on an earlier page.
				if cp > marker {
					if count == maxKeys {
						res.IsTruncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextMarker = cp
					count++
				}
				k, v = seekPast(c, cp) // the whole group in one seek
				continue
			}
		}
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		if err := emit(k, v); err != nil {
			return err
		}
		res.NextMarker = string(k)
		count++
		k, v = c.Next()
	}
	return nil
}

// seekPast positions c on the first key that does not start with p.
func seekPast(c *bolt.Cursor, p string) ([]byte, []byte) {
	succ := []byte(p)
	for len(succ) > 0 {
		last := len(succ) - 1
		if succ[last] < 0xff {
			succ[last]++
			return c.Seek(succ[:last+1])
		}
		succ = succ[:last]
	}
	return nil, nil
}
