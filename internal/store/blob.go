package store

import (
	"crypto/md5"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// blobDir holds immutable blob files named by random ids, sharded by the
// first two hex digits. Object keys never become file names, so no key can
// reach outside the data dir.
type blobDir struct {
	dir  string
	sync bool
}

func openBlobDir(dir string, sync bool) (*blobDir, error) {
	for i := 0; i < 256; i++ {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("%02x", i)), 0o750); err != nil {
			return nil, fmt.Errorf("blob dir %s: %w", dir, err)
		}
	}
	return &blobDir{dir: dir, sync: sync}, nil
}

func (d *blobDir) path(id string) string { return filepath.Join(d.dir, id[:2], id) }

func (d *blobDir) open(id string) (*os.File, error) { return os.Open(d.path(id)) }

// remove deletes blobs that are no longer referenced. A failure only leaves
// garbage that the next open reclaims.
func (d *blobDir) remove(ids []string) {
	for _, id := range ids {
		os.Remove(d.path(id))
	}
}

func (d *blobDir) removeUnreferenced(live map[string]struct{}) error {
	shards, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(d.dir, sh.Name()))
		if err != nil {
			return err
		}
		for _, n := range names {
			if _, ok := live[n.Name()]; !ok || strings.HasSuffix(n.Name(), ".tmp") {
				if err := os.Remove(filepath.Join(d.dir, sh.Name(), n.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// written is the result of streaming a body into a new blob.
type written struct {
	seg  Segment
	data []byte // the bytes of an inline blob
	md5  [md5.Size]byte
}

// readChunk reads until p is full or the body ends. It returns io.EOF only
// for a clean end of the body, and any other error as it came.
func readChunk(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeBlob streams body into a new blob: inline when it ends within
// inlineMax bytes, otherwise a file that is fsynced (with its directory)
// before writeBlob returns, so that a record committed afterwards never
// points at missing bytes. limit caps the size (EntityTooLarge).
func (s *Local) writeBlob(body io.Reader, limit int64) (w written, err error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	h := md5.New()

	first := len(buf)
	if s.inlineMax >= 0 && s.inlineMax < first {
		first = s.inlineMax + 1
	}
	n, rerr := readChunk(body, buf[:first])
	if rerr != nil && rerr != io.EOF {
		return w, rerr
	}
	if int64(n) > limit {
		return w, ErrEntityTooLarge
	}
	h.Write(buf[:n])
	if rerr == io.EOF && n <= s.inlineMax {
		w.data = append([]byte(nil), buf[:n]...)
		w.seg = Segment{Blob: newID(), Size: int64(n), Inline: true}
		h.Sum(w.md5[:0])
		return w, nil
	}

	id := newID()
	path := s.blobs.path(id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return w, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	size := int64(n)
	if _, err = f.Write(buf[:n]); err != nil {
		return w, err
	}
	// Past the first buffer, MD5 (the ETag) runs on its own goroutine,
	// fed buffer by buffer: it is the slowest hash of the request and would
	// otherwise serialise with the payload hash, the checksum and the write.
	md := newPipelinedHash(h)
	defer md.abort()
	for rerr != io.EOF {
		b := md.buffer()
		n, rerr = readChunk(body, b)
		if rerr != nil && rerr != io.EOF {
			return w, rerr
		}
		size += int64(n)
		if size > limit {
			return w, ErrEntityTooLarge
		}
		if _, err = f.Write(b[:n]); err != nil {
			return w, err
		}
		md.write(b[:n])
	}
	md.wait()
	if s.blobs.sync {
		if err = f.Sync(); err != nil {
			return w, err
		}
	}
	if err = f.Close(); err != nil {
		return w, err
	}
	if s.blobs.sync {
		if err = syncDir(filepath.Dir(path)); err != nil {
			return w, err
		}
	}
	w.seg = Segment{Blob: id, Size: size}
	h.Sum(w.md5[:0])
	return w, nil
}

// pipelinedHash hashes buffers on a second goroutine. Buffers cycle
// between the reader and the hasher, so memory stays at a few buffers.
type pipelinedHash struct {
	h    hash.Hash
	full chan []byte
	free chan []byte
	done chan struct{}
	bufs []*[]byte
}

const pipelineDepth = 3

func newPipelinedHash(h hash.Hash) *pipelinedHash {
	p := &pipelinedHash{h: h, full: make(chan []byte, pipelineDepth), free: make(chan []byte, pipelineDepth), done: make(chan struct{})}
	for i := 0; i < pipelineDepth; i++ {
		bp := copyBufs.Get().(*[]byte)
		p.bufs = append(p.bufs, bp)
		p.free <- *bp
	}
	full, free, done, h2 := p.full, p.free, p.done, h
	go func() {
		defer close(done)
		for b := range full {
			h2.Write(b)
			free <- b[:cap(b)]
		}
	}()
	return p
}

// buffer returns a buffer the hasher is done with.
func (p *pipelinedHash) buffer() []byte { return <-p.free }

// write hands b (from buffer) to the hasher.
func (p *pipelinedHash) write(b []byte) { p.full <- b }

// wait finishes hashing; h then holds the sum of everything written.
func (p *pipelinedHash) wait() {
	if p.full != nil {
		close(p.full)
		p.full = nil
		<-p.done
	}
}

// abort stops the hasher (after wait, or on an error) and returns the
// buffers to the pool.
func (p *pipelinedHash) abort() {
	p.wait()
	for _, bp := range p.bufs {
		copyBufs.Put(bp)
	}
	p.bufs = nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// discard drops a blob written for a write that was not committed.
func (s *Local) discard(w written) {
	if !w.seg.Inline && w.seg.Blob != "" {
		s.blobs.remove([]string{w.seg.Blob})
	}
}
