package sigv4

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// appendURIEncode appends s encoded with the RFC 3986 unreserved set that
// the AWS SDKs use: A-Z a-z 0-9 - _ . ~ stay literal, every other byte is
// %XX in uppercase hex. keepSlash leaves '/' literal (paths) or encodes it
// (query names and values).
func appendURIEncode(dst []byte, s string, keepSlash bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == '/' && keepSlash:
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// URIEncode encodes s as the SDKs do for a path (keepSlash) or a query part.
func URIEncode(s string, keepSlash bool) string {
	return string(appendURIEncode(make([]byte, 0, len(s)+16), s, keepSlash))
}

// rawPath is the request path exactly as the client sent it.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		// Absolute-form request target or a synthetic request: fall back
		// to the parsed URL.
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// canonicalURIs returns the canonical URI candidates for S3: the raw path
// decoded and re-encoded with the SDK rule, and, when it differs, the raw
// path verbatim (S3 signs the path with single encoding and no
// normalisation, so a client that escaped differently still verifies).
func canonicalURIs(r *http.Request) (primary, fallback string) {
	raw := rawPath(r)
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return raw, ""
	}
	enc := URIEncode(dec, true)
	if enc == raw {
		return enc, ""
	}
	return enc, raw
}

type queryPair struct{ k, v string }

// canonicalQuery builds the canonical query string from the raw query.
// Names and values are percent-decoded without turning '+' into a space,
// re-encoded, and sorted by name then value. skipSignature leaves out
// X-Amz-Signature (presigned requests).
func canonicalQuery(rawQuery string, skipSignature bool) string {
	if rawQuery == "" {
		return ""
	}
	pairs := make([]queryPair, 0, 8)
	for rawQuery != "" {
		var item string
		item, rawQuery, _ = strings.Cut(rawQuery, "&")
		if item == "" {
			continue
		}
		k, v, _ := strings.Cut(item, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, queryPair{URIEncode(k, false), URIEncode(v, false)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	n := 0
	for _, p := range pairs {
		n += len(p.k) + len(p.v) + 2
	}
	b := make([]byte, 0, n)
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return string(b)
}

// appendCanonicalHeaders appends "name:value\n" for each signed header.
func appendCanonicalHeaders(b []byte, r *http.Request, signed []string) []byte {
	for _, name := range signed {
		b = append(b, name...)
		b = append(b, ':')
		switch name {
		case "host":
			b = appendTrimmed(b, r.Host)
		case "transfer-encoding":
			b = appendTrimmed(b, strings.Join(r.TransferEncoding, ","))
		case "content-length":
			// net/http servers keep it in Header; requests built in
			// process carry only ContentLength.
			if v, ok := r.Header["Content-Length"]; ok {
				b = appendTrimmed(b, v[0])
			} else if r.ContentLength >= 0 {
				b = strconv.AppendInt(b, r.ContentLength, 10)
			}
		default:
			key, ok := canonicalNames[name]
			if !ok {
				key = http.CanonicalHeaderKey(name)
			}
			for i, v := range r.Header[key] {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendTrimmed(b, v)
			}
		}
		b = append(b, '\n')
	}
	return b
}

// canonicalNames are the header names the SDKs sign, in net/http's form,
// so that the lookup does not build the canonical key per request.
var canonicalNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "content-type", "content-md5",
		"amz-sdk-invocation-id", "amz-sdk-request", "accept-encoding", "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm",
		"x-amz-checksum-mode", "x-amz-decoded-content-length", "x-amz-trailer", "content-encoding", "range", "x-amz-copy-source",
		"x-amz-metadata-directive", "x-amz-tagging", "if-match", "if-none-match", "date"} {
		m[n] = http.CanonicalHeaderKey(n)
	}
	return m
}()

// appendTrimmed appends v with leading and trailing spaces removed and inner
// runs of spaces folded to one, as SigV4 canonical header values require.
func appendTrimmed(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") && strings.IndexByte(v, '\t') < 0 {
		return append(b, v...) // the common case: nothing to fold
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
			if !space {
				b = append(b, ' ')
			}
			space = true
			continue
		}
		space = false
		b = append(b, c)
	}
	return b
}

// CanonicalRequest builds the canonical request for r, the way the SDKs
// sign it.
func CanonicalRequest(method, canonicalURI, canonicalQuery string, r *http.Request, signed []string, payloadHash string) []byte {
	b := make([]byte, 0, 512)
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, canonicalURI...)
	b = append(b, '\n')
	b = append(b, canonicalQuery...)
	b = append(b, '\n')
	b = appendCanonicalHeaders(b, r, signed)
	b = append(b, '\n')
	for i, s := range signed {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, s...)
	}
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b
}
