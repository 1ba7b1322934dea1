package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"io"

	"github.com/cairn-io/cairn/internal/s3err"
)

// payloadVerifier streams a body and, at its end, checks it against the
// signed x-amz-content-sha256. The mismatch error replaces io.EOF, so a
// store that reads to EOF before committing never commits a body the
// signature does not cover.
type payloadVerifier struct {
	r    io.Reader
	h    hash.Hash
	want [sha256.Size]byte
	err  error
}

// NewPayloadVerifier wraps body so that reading it to the end fails with
// XAmzContentSHA256Mismatch unless its SHA-256 equals hexHash.
func NewPayloadVerifier(body io.Reader, hexHash string) io.Reader {
	v := &payloadVerifier{r: body, h: sha256.New()}
	hex.Decode(v.want[:], []byte(hexHash))
	return v
}

func (v *payloadVerifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		var got [sha256.Size]byte
		v.h.Sum(got[:0])
		if subtle.ConstantTimeCompare(got[:], v.want[:]) != 1 {
			v.err = s3err.New("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.").
				With("ClientComputedContentSHA256", hex.EncodeToString(v.want[:])).
				With("S3ComputedContentSHA256", hex.EncodeToString(got[:]))
			return n, v.err
		}
		v.err = io.EOF
	}
	return n, err
}
