package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// uploadKey is bucket \x00 key \x00 uploadID. Upload ids have a fixed length,
// so the id is read back from the end whatever the key holds, and the
// natural order is by bucket, key, then id, as ListMultipartUploads wants.
func uploadKey(bucket, key, id string) []byte {
	return []byte(bucket + "\x00" + key + "\x00" + id)
}

func partKey(id string, n int) []byte {
	k := make([]byte, len(id)+4)
	copy(k, id)
	binary.BigEndian.PutUint32(k[len(id):], uint32(n))
	return k
}

// CreateUpload starts a multipart upload.
func (s *Local) CreateUpload(_ context.Context, bucket, key string, tmpl ObjectInfo) (Upload, error) {
	u := Upload{Bucket: bucket, Key: key, ID: newID(), Initiated: time.Now().UTC(), Template: tmpl}
	u.Template.Segments = nil
	v, err := json.Marshal(&u)
	if err != nil {
		return u, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if _, err := objects(tx, bucket); err != nil {
			return err
		}
		return tx.Bucket(uploadsRoot).Put(uploadKey(bucket, key, u.ID), v)
	})
	return u, err
}

func getUpload(tx *bolt.Tx, bucket, key, id string) (Upload, error) {
	var u Upload
	if _, err := objects(tx, bucket); err != nil {
		return u, err
	}
	if len(id) != uploadIDLength {
		return u, ErrNoSuchUpload
	}
	v := tx.Bucket(uploadsRoot).Get(uploadKey(bucket, key, id))
	if v == nil {
		return u, ErrNoSuchUpload
	}
	err := json.Unmarshal(v, &u)
	u.Bucket, u.Key, u.ID = bucket, key, id
	return u, err
}

// GetUpload returns an upload in progress.
func (s *Local) GetUpload(_ context.Context, bucket, key, id string) (Upload, error) {
	var u Upload
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		u, err = getUpload(tx, bucket, key, id)
		return err
	})
	return u, err
}

// PutPart stores one part; uploading a part number again replaces it.
func (s *Local) PutPart(ctx context.Context, bucket, key, id string, number int, body io.Reader, opts PutOptions) (Part, error) {
	if _, err := s.GetUpload(ctx, bucket, key, id); err != nil {
		return Part{}, err
	}
	w, err := s.writeBlob(body, MaxPutSize)
	if err != nil {
		return Part{}, err
	}
	p := Part{Number: number, Size: w.seg.Size, ETag: hex.EncodeToString(w.md5[:]), Modified: time.Now().UTC(), Segment: w.seg}
	if opts.Verify != nil {
		if p.Checksum, err = opts.Verify(); err != nil {
			s.discard(w)
			return Part{}, err
		}
	}
	err = s.commitPart(bucket, key, id, &p, w.data)
	if err != nil {
		s.discard(w)
		return Part{}, err
	}
	return p, nil
}

// commitPart records a part, replacing an earlier one with its number.
func (s *Local) commitPart(bucket, key, id string, p *Part, inline []byte) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var dead []string
	err = s.commit.update(func(tx *bolt.Tx) error {
		dead = dead[:0]
		if _, err := getUpload(tx, bucket, key, id); err != nil {
			return err
		}
		parts := tx.Bucket(partsRoot)
		pk := partKey(id, p.Number)
		if old := parts.Get(pk); old != nil {
			var op Part
			if err := json.Unmarshal(old, &op); err != nil {
				return err
			}
			if op.Segment.Inline {
				if err := tx.Bucket(inlineRoot).Delete([]byte(op.Segment.Blob)); err != nil {
					return err
				}
			} else {
				dead = append(dead, op.Segment.Blob)
			}
		}
		if p.Segment.Inline {
			if err := tx.Bucket(inlineRoot).Put([]byte(p.Segment.Blob), inline); err != nil {
				return err
			}
		}
		return parts.Put(pk, v)
	})
	if err == nil {
		s.blobs.remove(dead)
	}
	return err
}

// allParts returns the parts of upload id in part-number order.
func allParts(tx *bolt.Tx, id string, marker, maxParts int) ([]Part, bool, error) {
	var out []Part
	c := tx.Bucket(partsRoot).Cursor()
	prefix := []byte(id)
	for k, v := c.Seek(partKey(id, marker+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if maxParts > 0 && len(out) == maxParts {
			return out, true, nil
		}
		var p Part
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, false, err
		}
		p.Number = int(binary.BigEndian.Uint32(k[len(id):]))
		out = append(out, p)
	}
	return out, false, nil
}

// ListParts lists the parts after marker, at most maxParts of them.
func (s *Local) ListParts(_ context.Context, bucket, key, id string, marker, maxParts int) ([]Part, bool, error) {
	var parts []Part
	var truncated bool
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		if _, err := getUpload(tx, bucket, key, id); err != nil {
			return err
		}
		parts, truncated, err = allParts(tx, id, marker, maxParts)
		return err
	})
	return parts, truncated, err
}

// deleteParts deletes every part record of upload id and its inline blobs,
// returning the file blobs to remove after the commit.
func deleteParts(tx *bolt.Tx, id string) ([]string, error) {
	var dead []string
	c := tx.Bucket(partsRoot).Cursor()
	prefix := []byte(id)
	inl := tx.Bucket(inlineRoot)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		var p Part
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, err
		}
		if p.Segment.Inline {
			if err := inl.Delete([]byte(p.Segment.Blob)); err != nil {
				return nil, err
			}
		} else {
			dead = append(dead, p.Segment.Blob)
		}
		if err := c.Delete(); err != nil {
			return nil, err
		}
	}
	return dead, nil
}

// AbortUpload discards an upload and its parts.
func (s *Local) AbortUpload(_ context.Context, bucket, key, id string) error {
	var dead []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getUpload(tx, bucket, key, id); err != nil {
			return err
		}
		var err error
		if dead, err = deleteParts(tx, id); err != nil {
			return err
		}
		return tx.Bucket(uploadsRoot).Delete(uploadKey(bucket, key, id))
	})
	if err == nil {
		s.blobs.remove(dead)
	}
	return err
}

// CompleteUpload assembles the named parts into the object in one
// transaction. The object references the part blobs directly (no copy);
// parts not named are deleted.
func (s *Local) CompleteUpload(_ context.Context, bucket, key, id string, want []CompletePart, opts CompleteOptions) (ObjectInfo, error) {
	var info ObjectInfo
	var dead []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		dead = dead[:0]
		u, err := getUpload(tx, bucket, key, id)
		if err != nil {
			return err
		}
		stored, _, err := allParts(tx, id, 0, 0)
		if err != nil {
			return err
		}
		byNum := make(map[int]Part, len(stored))
		for _, p := range stored {
			byNum[p.Number] = p
		}
		chosen := make([]Part, 0, len(want))
		md5s := make([]byte, 0, len(want)*md5.Size)
		used := make(map[int]bool, len(want))
		for i, cp := range want {
			if i > 0 && cp.Number <= want[i-1].Number {
				return ErrInvalidPartOrder
			}
			p, ok := byNum[cp.Number]
			if !ok || p.ETag != cp.ETag {
				return fmt.Errorf("%w: part %d", ErrInvalidPart, cp.Number)
			}
			chosen = append(chosen, p)
			used[cp.Number] = true
			raw, _ := hex.DecodeString(p.ETag)
			md5s = append(md5s, raw...)
		}
		if len(chosen) == 0 {
			return ErrInvalidPart
		}
		for i, p := range chosen[:len(chosen)-1] {
			if p.Size < MinPartSize {
				return fmt.Errorf("%w: part %d is %d bytes", ErrEntityTooSmall, chosen[i].Number, p.Size)
			}
		}
		sum := md5.Sum(md5s)
		info = u.Template
		info.Key = key
		info.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(chosen))
		info.Modified = time.Now().UTC()
		info.PartsCount = len(chosen)
		info.Size = 0
		info.Segments = make([]Segment, 0, len(chosen))
		for _, p := range chosen {
			info.Size += p.Size
			seg := p.Segment
			if p.Checksum != nil {
				seg.Checksum = p.Checksum.Value
			}
			info.Segments = append(info.Segments, seg)
		}
		if info.Size > MaxObjectSize {
			return ErrEntityTooLarge
		}
		if opts.Check != nil {
			if err := opts.Check(&u, chosen, &info); err != nil {
				return err
			}
		}
		// Drop the parts that were not named, and all part records.
		inl := tx.Bucket(inlineRoot)
		for _, p := range stored {
			if used[p.Number] {
				continue
			}
			if p.Segment.Inline {
				if err := inl.Delete([]byte(p.Segment.Blob)); err != nil {
					return err
				}
			} else {
				dead = append(dead, p.Segment.Blob)
			}
		}
		pc := tx.Bucket(partsRoot).Cursor()
		for k, _ := pc.Seek([]byte(id)); k != nil && bytes.HasPrefix(k, []byte(id)); k, _ = pc.Seek([]byte(id)) {
			if err := pc.Delete(); err != nil {
				return err
			}
		}
		if err := tx.Bucket(uploadsRoot).Delete(uploadKey(bucket, key, id)); err != nil {
			return err
		}
		objs, _ := objects(tx, bucket)
		if old := objs.Get([]byte(key)); old != nil {
			if dead, err = dropSegments(tx, old, dead); err != nil {
				return err
			}
		}
		return objs.Put([]byte(key), encodeObject(&info))
	})
	if err == nil {
		s.blobs.remove(dead)
	}
	return info, err
}

// ListUploads lists uploads in progress by key, then initiation order of
// ids, after (keyMarker, uploadIDMarker).
func (s *Local) ListUploads(_ context.Context, bucket string, opts ListOptions, uploadIDMarker string) (UploadList, error) {
	var res UploadList
	maxUploads := opts.MaxKeys
	if maxUploads < 0 || maxUploads > maxListPageSize {
		maxUploads = maxListPageSize
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := objects(tx, bucket); err != nil {
			return err
		}
		base := []byte(bucket + "\x00")
		c := tx.Bucket(uploadsRoot).Cursor()
		start := append(append([]byte{}, base...), opts.Prefix...)
		lastCP := ""
		count := 0
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, base); k, v = c.Next() {
			rest := k[len(base):]
			if len(rest) < uploadIDLength+1 {
				continue
			}
			key := string(rest[:len(rest)-uploadIDLength-1])
			id := string(rest[len(rest)-uploadIDLength:])
			if len(key) < len(opts.Prefix) || key[:len(opts.Prefix)] != opts.Prefix {
				break
			}
			if opts.Marker != "" {
				if key < opts.Marker || (key == opts.Marker && (uploadIDMarker == "" || id <= uploadIDMarker)) {
					continue
				}
			}
			if opts.Delimiter != "" {
				if i := indexFrom(key, opts.Delimiter, len(opts.Prefix)); i >= 0 {
					cp := key[:i+len(opts.Delimiter)]
					if cp == lastCP || cp <= opts.Marker {
						continue
					}
					if count == maxUploads {
						res.IsTruncated = true
						break
					}
					lastCP = cp
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
					count++
					continue
				}
			}
			if count == maxUploads {
				res.IsTruncated = true
				break
			}
			var u Upload
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			u.Bucket, u.Key, u.ID = bucket, key, id
			res.Uploads = append(res.Uploads, u)
			res.NextKeyMarker, res.NextUploadIDMarker = key, id
			count++
		}
		return nil
	})
	return res, err
}

func indexFrom(s, sep string, from int) int {
	i := bytes.Index([]byte(s[from:]), []byte(sep))
	if i < 0 {
		return -1
	}
	return from + i
}
