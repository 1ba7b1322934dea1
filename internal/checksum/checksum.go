// Package checksum owns the S3 flexible checksums (CRC32, CRC32C,
// CRC64NVME, SHA1, SHA256): naming, hashing, encoding and the composite
// multipart form. Hashing uses the standard library, which takes the
// hardware paths (SHA-NI, CLMUL/SSE4.2) where the CPU has them.
package checksum

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"math/bits"
	"strconv"
	"strings"
)

// Algorithm is an S3 checksum algorithm name as the API spells it.
type Algorithm string

// The algorithms cairn computes.
const (
	CRC32     Algorithm = "CRC32"
	CRC32C    Algorithm = "CRC32C"
	CRC64NVME Algorithm = "CRC64NVME"
	SHA1      Algorithm = "SHA1"
	SHA256    Algorithm = "SHA256"
)

// All lists the supported algorithms in the order the SDKs prefer them.
var All = []Algorithm{CRC64NVME, CRC32C, CRC32, SHA1, SHA256}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	nvme       = crc64.MakeTable(bits.Reverse64(0xad93d23594c93659))
)

// Parse accepts an algorithm name in any case.
func Parse(s string) (Algorithm, bool) {
	a := Algorithm(strings.ToUpper(s))
	switch a {
	case CRC32, CRC32C, CRC64NVME, SHA1, SHA256:
		return a, true
	}
	return "", false
}

// Header is the x-amz-checksum-* header that carries a value of a.
func (a Algorithm) Header() string { return "x-amz-checksum-" + strings.ToLower(string(a)) }

// New returns a fresh hash for a.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(castagnoli)
	case CRC64NVME:
		return crc64.New(nvme)
	case SHA1:
		return sha1.New()
	default:
		return sha256.New()
	}
}

// Size is the digest length of a in bytes.
func (a Algorithm) Size() int { return a.New().Size() }

// SupportsComposite reports whether multipart COMPOSITE checksums exist for a.
func (a Algorithm) SupportsComposite() bool { return a != CRC64NVME }

// SupportsFullObject reports whether multipart FULL_OBJECT checksums exist for a.
func (a Algorithm) SupportsFullObject() bool { return a == CRC32 || a == CRC32C || a == CRC64NVME }

// Encode renders a digest as S3 does: standard padded base64.
func Encode(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// Valid reports whether v is a well-formed base64 value for a.
func (a Algorithm) Valid(v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == a.Size()
}

// Composite combines part digests (base64) into the COMPOSITE value
// base64(H(raw1 || raw2 || ...)) + "-N".
func Composite(a Algorithm, parts []string) (string, bool) {
	h := a.New()
	for _, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(raw) != h.Size() {
			return "", false
		}
		h.Write(raw)
	}
	return Encode(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
}
