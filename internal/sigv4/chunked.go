package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/internal/s3err"
)

// ChunkedReader decodes an aws-chunked body as it streams, in constant
// memory whatever the chunk size:
//
//	<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
//	[<trailer-name>:<value>\r\n ... [x-amz-trailer-signature:<sig>\r\n]] \r\n
//
// In the signed modes every chunk signature is checked against the chain
// that starts at the request's seed signature, and the trailer signature
// against the final chunk's; data of a chunk is passed on before its
// signature can be checked (a chunk may be 5 GiB), so the consumer must
// read to io.EOF before committing: any failure replaces io.EOF with an
// error.
type ChunkedReader struct {
	r        *bufio.Reader
	signed   bool
	trailer  bool
	key      []byte
	amzDate  string
	scope    string
	prevSig  string
	declared int64 // x-amz-decoded-content-length, -1 when absent

	remaining  int64 // data bytes left in the current chunk
	total      int64
	chunkHash  hash.Hash
	pendingSig string // signature announced for the current chunk
	trailers   map[string]string
	started    bool
	err        error
}

const (
	maxChunkLine  = 4096
	maxTrailers   = 16
	chunkSigParam = ";chunk-signature="
)

// Errors of the aws-chunked framing.
var (
	errIncompleteChunked = s3err.IncompleteBody.Msg("The request body terminated unexpectedly")
	errMalformedChunked  = s3err.InvalidRequest.Msg("Malformed aws-chunked body: invalid chunk framing")
)

// NewChunkedReader decodes body for payload mode mode (one of the
// STREAMING-* values). res is the verified seed (its signature and signing
// key); declared is x-amz-decoded-content-length or -1.
func NewChunkedReader(body io.Reader, mode string, res *Result, declared int64) *ChunkedReader {
	c := &ChunkedReader{
		r:        bufio.NewReaderSize(body, 64<<10),
		signed:   mode == StreamingSigned || mode == StreamingSignedTrailer,
		trailer:  mode == StreamingSignedTrailer || mode == StreamingUnsignedTrailer,
		declared: declared,
	}
	if c.signed {
		c.key, c.scope, c.prevSig = res.SigningKey, res.Scope, res.Signature
		c.amzDate = res.Time.UTC().Format(TimeFormat)
		c.chunkHash = sha256.New()
	}
	return c
}

// Trailer returns a trailing header's value (lower-case name), once the
// body has been read to the end.
func (c *ChunkedReader) Trailer(name string) (string, bool) {
	v, ok := c.trailers[name]
	return v, ok
}

// DecodedLength is the number of data bytes decoded so far.
func (c *ChunkedReader) DecodedLength() int64 { return c.total }

func (c *ChunkedReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.remaining == 0 {
		if c.started {
			// End of a data chunk: CRLF, then its signature.
			if err := c.expectCRLF(); err != nil {
				return c.fail(err)
			}
		}
		done, err := c.nextChunk()
		if err != nil {
			return c.fail(err)
		}
		if done {
			c.err = io.EOF
			return 0, io.EOF
		}
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.r.Read(p)
	c.remaining -= int64(n)
	c.total += int64(n)
	if c.signed {
		c.chunkHash.Write(p[:n])
	}
	if c.declared >= 0 && c.total > c.declared {
		return c.fail(s3err.IncompleteBody.Msg("The decoded body is longer than x-amz-decoded-content-length"))
	}
	if err == io.EOF {
		return c.fail(errIncompleteChunked)
	}
	if err != nil {
		return c.fail(err)
	}
	return n, nil
}

func (c *ChunkedReader) expectCRLF() error {
	var b [2]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return errIncompleteChunked
	}
	if b != [2]byte{'\r', '\n'} {
		return errMalformedChunked.Because("chunk data not followed by CRLF (a chunk longer than its size line?)")
	}
	return c.checkChunkSignature()
}

// checkChunkSignature verifies the signature of the chunk just read.
func (c *ChunkedReader) checkChunkSignature() error {
	if !c.signed {
		return nil
	}
	want := c.pendingSig
	sum := c.chunkHash.Sum(nil)
	c.chunkHash.Reset()
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prevSig + "\n" + EmptySHA256 + "\n" + hex.EncodeToString(sum)
	got := hmacSum(c.key, []byte(sts))
	gotHex := hex.EncodeToString(got[:])
	if subtle.ConstantTimeCompare([]byte(gotHex), []byte(want)) != 1 {
		return s3err.SignatureDoesNotMatch.Because("chunk signature mismatch after " + strconv.FormatInt(c.total, 10) + " bytes")
	}
	c.prevSig = gotHex
	return nil
}

// readLine reads a CRLF-terminated line of bounded length.
func (c *ChunkedReader) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return "", errMalformedChunked.Because("chunk header line too long")
	}
	if err != nil {
		return "", errIncompleteChunked
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", errMalformedChunked.Because("chunk header line not terminated by CRLF")
	}
	return string(line[:len(line)-2]), nil
}

// nextChunk reads a chunk header; at the final chunk it reads the
// trailers and reports done.
func (c *ChunkedReader) nextChunk() (bool, error) {
	c.started = true
	line, err := c.readLine()
	if err != nil {
		return false, err
	}
	sizeText, ext, _ := strings.Cut(line, ";")
	sizeText = strings.TrimSpace(sizeText)
	if sizeText == "" || len(sizeText) > 16 {
		return false, errMalformedChunked.Because("chunk size " + strconv.Quote(firstN(sizeText, 20)))
	}
	size, err := strconv.ParseInt(sizeText, 16, 64)
	if err != nil || size < 0 {
		return false, errMalformedChunked.Because("chunk size " + strconv.Quote(firstN(sizeText, 20)))
	}
	if c.signed {
		sig, ok := strings.CutPrefix(";"+ext, chunkSigParam)
		if !ok || !isHexSignature(sig) {
			return false, s3err.SignatureDoesNotMatch.Because("chunk without a valid chunk-signature")
		}
		c.pendingSig = sig
	}
	if c.declared >= 0 && c.total+size > c.declared {
		return false, s3err.IncompleteBody.Msg("The decoded body is longer than x-amz-decoded-content-length").Because("chunk of " + strconv.FormatInt(size, 10) + " bytes past the declared length")
	}
	if size > 0 {
		c.remaining = size
		return false, nil
	}
	// The final chunk: its signature covers the empty string.
	if err := c.checkChunkSignature(); err != nil {
		return false, err
	}
	if err := c.readTrailers(); err != nil {
		return false, err
	}
	if c.declared >= 0 && c.total != c.declared {
		return false, s3err.IncompleteBody.Because("decoded " + strconv.FormatInt(c.total, 10) + " bytes, declared " + strconv.FormatInt(c.declared, 10))
	}
	return true, nil
}

func (c *ChunkedReader) readTrailers() error {
	var trailerSig string
	for i := 0; ; i++ {
		line, err := c.readLine()
		if err != nil {
			if !c.trailer && errors.Is(err, errIncompleteChunked) && i == 0 {
				// Some clients end the body right after the final chunk.
				return nil
			}
			return err
		}
		if line == "" {
			break
		}
		if !c.trailer || i >= maxTrailers {
			return errMalformedChunked.Because("unexpected trailer")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return errMalformedChunked.Because("trailer without ':'")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		if c.trailers == nil {
			c.trailers = map[string]string{}
		}
		c.trailers[name] = value
	}
	if c.signed && c.trailer {
		return c.checkTrailerSignature(trailerSig)
	}
	return nil
}

// checkTrailerSignature verifies x-amz-trailer-signature over the
// canonical trailers ("name:value\n", sorted).
func (c *ChunkedReader) checkTrailerSignature(sig string) error {
	if !isHexSignature(sig) {
		return s3err.SignatureDoesNotMatch.Because("missing or malformed x-amz-trailer-signature")
	}
	names := make([]string, 0, len(c.trailers))
	for n := range c.trailers {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		buf.WriteString(n + ":" + c.trailers[n] + "\n")
	}
	sum := sha256.Sum256(buf.Bytes())
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.amzDate + "\n" + c.scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(sum[:])
	got := hmacSum(c.key, []byte(sts))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(got[:])), []byte(sig)) != 1 {
		return s3err.SignatureDoesNotMatch.Because("trailer signature mismatch")
	}
	return nil
}
