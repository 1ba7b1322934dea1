package store

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	millionOnce sync.Once
	millionDir  string
	millionErr  error
)

// millionKeyStore builds, once per run, a bucket of 1,000,000 keys shaped
// like real ones (1000 "directories" of 1000 files). It writes the index
// directly in large transactions: going through PutObject would time the
// setup, not the listing.
func millionKeyStore(b *testing.B) *Local {
	millionOnce.Do(func() {
		millionDir, millionErr = os.MkdirTemp("", "cairn-1m-")
		if millionErr != nil {
			return
		}
		s, err := OpenLocal(millionDir, Options{NoSync: true})
		if err != nil {
			millionErr = err
			return
		}
		defer s.Close()
		if millionErr = s.CreateBucket(ctx, "big", "us-east-1"); millionErr != nil {
			return
		}
		now := time.Now().UTC()
		for d := 0; d < 1000 && millionErr == nil; d += 50 {
			millionErr = s.db.Update(func(tx *bolt.Tx) error {
				objs := tx.Bucket(objectsRoot).Bucket([]byte("big"))
				for dd := d; dd < d+50; dd++ {
					for f := 0; f < 1000; f++ {
						info := ObjectInfo{Size: 4096, ETag: "d41d8cd98f00b204e9800998ecf8427e", Modified: now,
							Headers:  map[string]string{"Content-Type": "application/octet-stream"},
							Segments: []Segment{{Blob: fmt.Sprintf("%032x", dd*1000+f), Size: 4096, Inline: true}}}
						v := encodeObject(&info)
						if err := objs.Put([]byte(fmt.Sprintf("data/dir-%04d/file-%06d.bin", dd, f)), v); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
	})
	if millionErr != nil {
		b.Fatal(millionErr)
	}
	s, err := OpenLocal(millionDir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if millionDir != "" {
		os.RemoveAll(millionDir)
	}
	os.Exit(code)
}

// BenchmarkList1MPage1000 lists a 1000-key page from the middle of a
// 1M-key bucket (ListObjectsV2 without delimiter).
func BenchmarkList1MPage1000(b *testing.B) {
	s := millionKeyStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		marker := fmt.Sprintf("data/dir-%04d/file-000500.bin", (i*37)%999)
		res, err := s.ListObjects(ctx, "big", ListOptions{Marker: marker, MaxKeys: 1000})
		if err != nil || len(res.Objects) != 1000 {
			b.Fatalf("%d objects, %v", len(res.Objects), err)
		}
	}
}

// BenchmarkList1MDelimiter lists the 1000 common prefixes of the 1M-key
// bucket with delimiter "/": each prefix costs one seek, not 1000 keys.
func BenchmarkList1MDelimiter(b *testing.B) {
	s := millionKeyStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.ListObjects(ctx, "big", ListOptions{Prefix: "data/", Delimiter: "/", MaxKeys: 1000})
		if err != nil || len(res.CommonPrefixes) != 1000 {
			b.Fatalf("%d prefixes, %v", len(res.CommonPrefixes), err)
		}
	}
}

func benchPut(b *testing.B, size int, opts Options) {
	s, err := OpenLocal(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	must(b, s.CreateBucket(ctx, "b", "us-east-1"))
	data := body(1, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.PutObject(ctx, "b", fmt.Sprintf("k-%p-%d", pb, i), bytes.NewReader(data), ObjectInfo{}, PutOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The inline threshold: a 4 KiB and a 32 KiB object stored inline in the
// index versus in a blob file, with fsync on (the default).
func BenchmarkPut4KiBInlineFsync(b *testing.B)  { benchPut(b, 4<<10, Options{}) }
func BenchmarkPut4KiBFileFsync(b *testing.B)    { benchPut(b, 4<<10, Options{InlineMax: -1}) }
func BenchmarkPut32KiBInlineFsync(b *testing.B) { benchPut(b, 32<<10, Options{}) }
func BenchmarkPut32KiBFileFsync(b *testing.B)   { benchPut(b, 32<<10, Options{InlineMax: -1}) }
func BenchmarkPut4KiBInlineNoSync(b *testing.B) { benchPut(b, 4<<10, Options{NoSync: true}) }
func BenchmarkPut4KiBFileNoSync(b *testing.B) {
	benchPut(b, 4<<10, Options{NoSync: true, InlineMax: -1})
}
