package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Object records are on the hot path of every GET, HEAD and listing, so
// they use a small binary encoding instead of JSON (decoding a typical
// record takes a fraction of a microsecond instead of a few). Layout,
// version 1: a version byte, then fields in a fixed order; strings and
// byte runs are uvarint-length-prefixed, integers are (u)varints, maps are
// a count then key/value pairs.

const recordV1 = 1

var errCorrupt = errors.New("store: corrupt object record")

func encodeObject(info *ObjectInfo) []byte {
	b := make([]byte, 0, 128+len(info.Segments)*48)
	b = append(b, recordV1)
	b = binary.AppendVarint(b, info.Size)
	b = appendString(b, info.ETag)
	b = binary.AppendVarint(b, info.Modified.UnixNano())
	b = appendMap(b, info.Headers)
	b = appendMap(b, info.Meta)
	b = binary.AppendUvarint(b, uint64(len(info.Tags)))
	for _, t := range info.Tags {
		b = appendString(b, t.Key)
		b = appendString(b, t.Value)
	}
	if c := info.Checksum; c != nil {
		b = append(b, 1)
		b = appendString(b, c.Algorithm)
		b = appendString(b, c.Value)
		b = appendString(b, c.Type)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(info.PartsCount))
	b = binary.AppendUvarint(b, uint64(len(info.Segments)))
	for _, s := range info.Segments {
		b = appendString(b, s.Blob)
		b = binary.AppendVarint(b, s.Size)
		if s.Inline {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendString(b, s.Checksum)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strMap() map[string]string {
	n := d.uvarint()
	if n == 0 || d.err != nil || n > uint64(len(d.b)) {
		return nil
	}
	m := make(map[string]string, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// decodeObject decodes a record; withSegments false skips the segment
// list (listings do not need it).
func decodeObject(v []byte, info *ObjectInfo, withSegments bool) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, info) // records written before the binary encoding
	}
	if len(v) == 0 || v[0] != recordV1 {
		return errCorrupt
	}
	d := decoder{b: v[1:]}
	info.Size = d.varint()
	info.ETag = d.str()
	info.Modified = time.Unix(0, d.varint()).UTC()
	info.Headers = d.strMap()
	info.Meta = d.strMap()
	if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
		info.Tags = make([]Tag, n)
		for i := range info.Tags {
			info.Tags[i] = Tag{Key: d.str(), Value: d.str()}
		}
	}
	if d.byte1() == 1 {
		info.Checksum = &Checksum{Algorithm: d.str(), Value: d.str(), Type: d.str()}
	}
	info.PartsCount = int(d.uvarint())
	if withSegments {
		n := d.uvarint()
		if d.err == nil && n <= uint64(len(d.b)) {
			info.Segments = make([]Segment, n)
			for i := range info.Segments {
				info.Segments[i] = Segment{Blob: d.str(), Size: d.varint(), Inline: d.byte1() == 1, Checksum: d.str()}
			}
		} else {
			d.err = errCorrupt
		}
	}
	return d.err
}
