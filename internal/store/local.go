package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Top-level bbolt buckets. Each S3 bucket's objects live in a sub-bucket of
// objectsRoot named after it, keyed by the object key's bytes, so a listing
// is one ordered cursor walk.
var (
	bucketsRoot = []byte("buckets") // name -> Bucket
	objectsRoot = []byte("objects") // name -> {key -> ObjectInfo}
	inlineRoot  = []byte("inline")  // blob id -> bytes of a small blob
	uploadsRoot = []byte("uploads") // bucket \x00 key \x00 uploadID -> Upload
	partsRoot   = []byte("parts")   // uploadID + be32(part) -> Part
	metaRoot    = []byte("meta")    // server metadata (the IAM API's entities)
)

// Options configure a Local store.
type Options struct {
	// NoSync skips fsync of blobs and of the index. Acknowledged writes can
	// then be lost on power failure (not on a process crash).
	NoSync bool
	// InlineMax is the largest object or part kept inside the index;
	// larger ones go to blob files. 0 means DefaultInlineMax; < 0 disables
	// inlining.
	InlineMax int
}

// DefaultInlineMax is the inline threshold; docs/benchmarks.md has the
// measurements behind it.
const DefaultInlineMax = 64 << 10

// Local is the embedded store: a bbolt index plus a directory of blobs.
type Local struct {
	dir       string
	db        *bolt.DB
	blobs     *blobDir
	commit    *groupCommitter
	inlineMax int
	noSync    bool
}

var _ Backend = (*Local)(nil)

// OpenLocal opens (or creates) a store in dir. It removes blob files that no
// record references: the leftovers of writes interrupted by a crash.
func OpenLocal(dir string, opts Options) (*Local, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync, NoFreelistSync: true})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("data dir %s: index is locked by another cairn process", dir)
		}
		return nil, fmt.Errorf("data dir %s: open index: %w", dir, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketsRoot, objectsRoot, inlineRoot, uploadsRoot, partsRoot, metaRoot} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("data dir %s: init index: %w", dir, err)
	}
	blobs, err := openBlobDir(filepath.Join(dir, "blobs"), !opts.NoSync)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Local{dir: dir, db: db, blobs: blobs, inlineMax: opts.InlineMax, noSync: opts.NoSync, commit: newGroupCommitter(db)}
	if s.inlineMax == 0 {
		s.inlineMax = DefaultInlineMax
	}
	if err := s.collectGarbage(); err != nil {
		s.Close()
		return nil, fmt.Errorf("data dir %s: reclaim unreferenced blobs: %w", dir, err)
	}
	return s, nil
}

// ReadMeta reads one metadata document from a data dir without opening
// the store for writing; it fails while a server holds the data dir.
func ReadMeta(dir, key string) ([]byte, error) {
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("data dir %s is in use by a running cairn: ask it (aws iam list-users …)", dir)
		}
		return nil, err
	}
	defer db.Close()
	var out []byte
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(metaRoot); b != nil {
			out = append([]byte{}, b.Get([]byte(key))...)
		}
		return nil
	})
	return out, err
}

// GetMeta reads a server metadata document (nil when absent).
func (s *Local) GetMeta(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaRoot).Get([]byte(key)); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	return out, err
}

// PutMeta writes a server metadata document durably.
func (s *Local) PutMeta(key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(metaRoot).Put([]byte(key), value) })
}

// Ping reports whether the index can be read (readiness).
func (s *Local) Ping() error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsRoot) == nil {
			return errors.New("store: index not initialised")
		}
		return nil
	})
}

// Close closes the index.
func (s *Local) Close() error {
	s.commit.close()
	return s.db.Close()
}

// collectGarbage deletes blob files that no object or part references.
// It runs at open, before any write can be in flight.
func (s *Local) collectGarbage() error {
	live := make(map[string]struct{})
	err := s.db.View(func(tx *bolt.Tx) error {
		objs := tx.Bucket(objectsRoot)
		err := objs.ForEach(func(name, _ []byte) error {
			return objs.Bucket(name).ForEach(func(_, v []byte) error {
				var info ObjectInfo
				if err := decodeObject(v, &info, true); err != nil {
					return err
				}
				for _, seg := range info.Segments {
					if !seg.Inline {
						live[seg.Blob] = struct{}{}
					}
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		return tx.Bucket(partsRoot).ForEach(func(_, v []byte) error {
			var p Part
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if !p.Segment.Inline {
				live[p.Segment.Blob] = struct{}{}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return s.blobs.removeUnreferenced(live)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// --- buckets ---

// CreateBucket creates a bucket.
func (s *Local) CreateBucket(_ context.Context, name, region string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		bs := tx.Bucket(bucketsRoot)
		if bs.Get([]byte(name)) != nil {
			return ErrBucketExists
		}
		v, _ := json.Marshal(Bucket{Created: time.Now().UTC(), Region: region})
		if err := bs.Put([]byte(name), v); err != nil {
			return err
		}
		_, err := tx.Bucket(objectsRoot).CreateBucket([]byte(name))
		return err
	})
}

// DeleteBucket deletes an empty bucket and aborts its pending uploads.
func (s *Local) DeleteBucket(_ context.Context, name string) error {
	var dead []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		dead = dead[:0]
		if tx.Bucket(bucketsRoot).Get([]byte(name)) == nil {
			return ErrNoSuchBucket
		}
		objs := tx.Bucket(objectsRoot).Bucket([]byte(name))
		if k, _ := objs.Cursor().First(); k != nil {
			return ErrBucketNotEmpty
		}
		prefix := []byte(name + "\x00")
		uc := tx.Bucket(uploadsRoot).Cursor()
		for k, _ := uc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = uc.Seek(prefix) {
			id := string(k[len(k)-uploadIDLength:])
			blobs, err := deleteParts(tx, id)
			if err != nil {
				return err
			}
			dead = append(dead, blobs...)
			if err := uc.Delete(); err != nil {
				return err
			}
		}
		if err := tx.Bucket(objectsRoot).DeleteBucket([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bucketsRoot).Delete([]byte(name))
	})
	if err == nil {
		s.blobs.remove(dead)
	}
	return err
}

// GetBucket returns a bucket's description.
func (s *Local) GetBucket(_ context.Context, name string) (Bucket, error) {
	var b Bucket
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketsRoot).Get([]byte(name))
		if v == nil {
			return ErrNoSuchBucket
		}
		return json.Unmarshal(v, &b)
	})
	b.Name = name
	return b, err
}

// ListBuckets lists all buckets by name.
func (s *Local) ListBuckets(_ context.Context) ([]Bucket, error) {
	var out []Bucket
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketsRoot).ForEach(func(k, v []byte) error {
			var b Bucket
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			b.Name = string(k)
			out = append(out, b)
			return nil
		})
	})
	return out, err
}

// SetBucketPolicy stores (or, with "", deletes) a bucket's policy.
func (s *Local) SetBucketPolicy(_ context.Context, name, policy string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		bs := tx.Bucket(bucketsRoot)
		v := bs.Get([]byte(name))
		if v == nil {
			return ErrNoSuchBucket
		}
		var b Bucket
		if err := json.Unmarshal(v, &b); err != nil {
			return err
		}
		b.Policy = policy
		nv, err := json.Marshal(&b)
		if err != nil {
			return err
		}
		return bs.Put([]byte(name), nv)
	})
}

// objects returns the object index of bucket in tx.
func objects(tx *bolt.Tx, bucket string) (*bolt.Bucket, error) {
	b := tx.Bucket(objectsRoot).Bucket([]byte(bucket))
	if b == nil {
		return nil, ErrNoSuchBucket
	}
	return b, nil
}
