package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

func open(t testing.TB, dir string) *Local {
	t.Helper()
	s, err := OpenLocal(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t testing.TB, s *Local, bucket, key string, body []byte) ObjectInfo {
	t.Helper()
	info, err := s.PutObject(ctx, bucket, key, bytes.NewReader(body), ObjectInfo{}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func read(t testing.TB, s *Local, bucket, key string) []byte {
	t.Helper()
	o, err := s.OpenObject(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o.NewReader(0, o.Info().Size))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func blobFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(filepath.Join(dir, "blobs"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func body(seed, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*13 + seed*7)
	}
	return b
}

func TestKeyAndKeyWithSlashCoexist(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	must(t, s.CreateBucket(ctx, "b", "us-east-1"))
	put(t, s, "b", "a", []byte("file a"))
	put(t, s, "b", "a/b", []byte("file a/b"))
	put(t, s, "b", "../../outside", body(1, 200<<10))
	if string(read(t, s, "b", "a")) != "file a" || string(read(t, s, "b", "a/b")) != "file a/b" {
		t.Fatal("a and a/b do not coexist")
	}
	// Keys never become paths: nothing was written outside the data dir.
	if _, err := os.Stat(filepath.Join(dir, "..", "outside")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a key escaped the data dir")
	}
	s.Close()
	s = open(t, dir)
	defer s.Close()
	if !bytes.Equal(read(t, s, "b", "../../outside"), body(1, 200<<10)) {
		t.Fatal("object lost across reopen")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Concurrent PUTs to one key end with exactly one whole winner, readers
// only ever see whole versions, and the losers' blobs are reclaimed.
func TestConcurrentWritersOneKey(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	must(t, s.CreateBucket(ctx, "b", "us-east-1"))
	const writers = 16
	versions := make(map[string]bool)
	bodies := make([][]byte, writers)
	for i := range bodies {
		size := 100 + i*1000
		if i%2 == 0 {
			size = 300<<10 + i // file-backed
		}
		bodies[i] = body(i, size)
		sum := md5.Sum(bodies[i])
		versions[hex.EncodeToString(sum[:])] = true
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() { // a reader racing the writers
		for {
			select {
			case <-stop:
				readerErr <- nil
				return
			default:
			}
			o, err := s.OpenObject(ctx, "b", "k")
			if errors.Is(err, ErrNoSuchKey) {
				continue
			}
			if err != nil {
				readerErr <- err
				return
			}
			b, err := io.ReadAll(o.NewReader(0, o.Info().Size))
			o.Close()
			sum := md5.Sum(b)
			if err != nil || !versions[hex.EncodeToString(sum[:])] {
				readerErr <- fmt.Errorf("reader saw a partial or mixed object (%d bytes, %v)", len(b), err)
				return
			}
		}
	}()
	for round := 0; round < 5; round++ {
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				put(t, s, "b", "k", bodies[i])
			}(i)
		}
		wg.Wait()
	}
	close(stop)
	must(t, <-readerErr)
	final := read(t, s, "b", "k")
	sum := md5.Sum(final)
	if !versions[hex.EncodeToString(sum[:])] {
		t.Fatal("final object is not one whole version")
	}
	info, _ := s.HeadObject(ctx, "b", "k")
	if info.ETag != hex.EncodeToString(sum[:]) {
		t.Fatal("ETag does not match the final bytes")
	}
	want := 0
	if !info.Segments[0].Inline {
		want = 1
	}
	if n := blobFiles(t, dir); n != want {
		t.Fatalf("%d blob files left, want %d", n, want)
	}
}

type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

// A body that fails midway, or a verification that fails at the end,
// leaves no object and no blob behind.
func TestFailedWritesLeaveNoTrace(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	must(t, s.CreateBucket(ctx, "b", "us-east-1"))
	for _, size := range []int{10, 1 << 20} {
		_, err := s.PutObject(ctx, "b", "k", &failingReader{size, io.ErrUnexpectedEOF}, ObjectInfo{}, PutOptions{})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want the body error, got %v", err)
		}
		_, err = s.PutObject(ctx, "b", "k", bytes.NewReader(body(0, size)), ObjectInfo{}, PutOptions{Verify: func() (*Checksum, error) { return nil, errors.New("bad digest") }})
		if err == nil {
			t.Fatal("verification failure ignored")
		}
	}
	if _, err := s.HeadObject(ctx, "b", "k"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("object visible after failed writes: %v", err)
	}
	if n := blobFiles(t, dir); n != 0 {
		t.Fatalf("%d blob files left", n)
	}
	// Aborted multipart uploads reclaim their parts.
	u, err := s.CreateUpload(ctx, "b", "m", ObjectInfo{})
	must(t, err)
	for i := 1; i <= 3; i++ {
		_, err := s.PutPart(ctx, "b", "m", u.ID, i, bytes.NewReader(body(i, 200<<10)), PutOptions{})
		must(t, err)
	}
	if n := blobFiles(t, dir); n != 3 {
		t.Fatalf("%d part blobs, want 3", n)
	}
	must(t, s.AbortUpload(ctx, "b", "m", u.ID))
	if n := blobFiles(t, dir); n != 0 {
		t.Fatalf("%d blob files after abort", n)
	}
}

// Blobs written but never committed (a crash between the two) are
// reclaimed when the store opens.
func TestOrphanBlobsReclaimedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	must(t, s.CreateBucket(ctx, "b", "us-east-1"))
	put(t, s, "b", "kept", body(1, 300<<10))
	w, err := s.writeBlob(bytes.NewReader(body(2, 300<<10)), MaxPutSize) // never committed
	must(t, err)
	if w.seg.Inline {
		t.Fatal("expected a file blob")
	}
	s.Close()
	if n := blobFiles(t, dir); n != 2 {
		t.Fatalf("%d blobs before reopen", n)
	}
	s = open(t, dir)
	defer s.Close()
	if n := blobFiles(t, dir); n != 1 {
		t.Fatalf("%d blobs after reopen, want 1", n)
	}
	if !bytes.Equal(read(t, s, "b", "kept"), body(1, 300<<10)) {
		t.Fatal("committed object damaged by reclaim")
	}
}

func TestMultipartAssemblesWithoutCopy(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	must(t, s.CreateBucket(ctx, "b", "us-east-1"))
	u, err := s.CreateUpload(ctx, "b", "m", ObjectInfo{Meta: map[string]string{"x": "y"}})
	must(t, err)
	var want []CompletePart
	var all []byte
	for i := 1; i <= 3; i++ {
		size := MinPartSize
		if i == 3 {
			size = 10 // a small last part is inline
		}
		p, err := s.PutPart(ctx, "b", "m", u.ID, i, bytes.NewReader(body(i, size)), PutOptions{})
		must(t, err)
		want = append(want, CompletePart{i, p.ETag})
		all = append(all, body(i, size)...)
	}
	// An extra part that is not named is dropped.
	_, err = s.PutPart(ctx, "b", "m", u.ID, 4, bytes.NewReader(body(4, 100<<10)), PutOptions{})
	must(t, err)
	info, err := s.CompleteUpload(ctx, "b", "m", u.ID, want, CompleteOptions{})
	must(t, err)
	if info.Size != int64(len(all)) || info.PartsCount != 3 || info.Meta["x"] != "y" {
		t.Fatalf("info %+v", info)
	}
	if !bytes.Equal(read(t, s, "b", "m"), all) {
		t.Fatal("assembled bytes differ")
	}
	if n := blobFiles(t, dir); n != 2 {
		t.Fatalf("%d blob files, want the 2 large parts", n)
	}
	if _, err := s.GetUpload(ctx, "b", "m", u.ID); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatal("upload still listed after complete")
	}
	// Overwriting the object releases its part blobs.
	put(t, s, "b", "m", []byte("small"))
	if n := blobFiles(t, dir); n != 0 {
		t.Fatalf("%d blob files after overwrite", n)
	}
}

func TestListWalk(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	must(t, s.CreateBucket(ctx, "b", "us-east-1"))
	for _, k := range []string{"a/1", "a/2", "b", "c/1", "c/2/x", "d"} {
		put(t, s, "b", k, nil)
	}
	var got []string
	marker := ""
	for {
		res, err := s.ListObjects(ctx, "b", ListOptions{Delimiter: "/", Marker: marker, MaxKeys: 1})
		must(t, err)
		for _, p := range res.CommonPrefixes {
			got = append(got, p)
		}
		for _, o := range res.Objects {
			got = append(got, o.Key)
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	if fmt.Sprint(got) != "[a/ b c/ d]" {
		t.Fatalf("walk %v", got)
	}
	res, err := s.ListObjects(ctx, "b", ListOptions{Prefix: "c/", Delimiter: "/", MaxKeys: 1000})
	must(t, err)
	if len(res.Objects) != 1 || res.Objects[0].Key != "c/1" || fmt.Sprint(res.CommonPrefixes) != "[c/2/]" || res.IsTruncated {
		t.Fatalf("prefix c/: %+v", res)
	}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	in := ObjectInfo{Size: 1 << 40, ETag: "abc-3", Modified: time.Unix(1700000000, 123456789).UTC(),
		Headers: map[string]string{"Content-Type": "text/plain", "Cache-Control": "no-cache"}, Meta: map[string]string{"a": "1", "é": "ü"},
		Tags: []Tag{{"k", "v"}, {"k2", ""}}, Checksum: &Checksum{Algorithm: "CRC32", Value: "AAAAAA==-3", Type: "COMPOSITE"}, PartsCount: 3,
		Segments: []Segment{{Blob: "b1", Size: 5 << 20, Checksum: "AAAAAA=="}, {Blob: "b2", Size: 10, Inline: true}}}
	var out ObjectInfo
	must(t, decodeObject(encodeObject(&in), &out, true))
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
	enc := encodeObject(&in)
	for i := 0; i < len(enc); i++ { // every truncation is an error, never a panic
		var x ObjectInfo
		if err := decodeObject(enc[:i], &x, true); err == nil {
			t.Fatalf("truncated record of %d bytes decoded", i)
		}
	}
}

// A corrupt record is an error, never a panic or a huge allocation.
func FuzzDecodeObject(f *testing.F) {
	f.Add(encodeObject(&ObjectInfo{Size: 3, ETag: "e", Segments: []Segment{{Blob: "b", Size: 3, Inline: true}}}))
	f.Add([]byte{recordV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte(`{"s":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var info ObjectInfo
		decodeObject(b, &info, true)
		decodeObject(b, &info, false)
	})
}
