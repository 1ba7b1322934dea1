// Package s3err owns the S3 error model: an error value that carries the
// AWS error code, the HTTP status and the extra XML elements of the error
// body, and the encoder that writes it the way the AWS SDKs parse it.
package s3err

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
)

// Error is an S3 error response. It is a plain value: code and status travel
// with the error from wherever it was detected to the response writer.
type Error struct {
	Code    string
	Status  int
	Message string
	// Fields are extra elements of the <Error> body, in order
	// (BucketName, Key, Condition, HeadersNotSigned, ...).
	Fields []Field
	// Header holds response headers the error must carry
	// (for instance x-amz-bucket-region or Content-Range).
	Header map[string]string
	// Cause is a server-side reason, logged and never sent to the client.
	Cause string
}

// Field is one extra element of the error body.
type Field struct{ Name, Value string }

func (e *Error) Error() string {
	if e.Cause != "" {
		return e.Code + ": " + e.Message + " (" + e.Cause + ")"
	}
	return e.Code + ": " + e.Message
}

// With returns a copy of e carrying one more body element.
func (e *Error) With(name, value string) *Error {
	c := *e
	c.Fields = append(append([]Field(nil), e.Fields...), Field{name, value})
	return &c
}

// WithHeader returns a copy of e that sets one more response header.
func (e *Error) WithHeader(name, value string) *Error {
	c := *e
	c.Header = make(map[string]string, len(e.Header)+1)
	for k, v := range e.Header {
		c.Header[k] = v
	}
	c.Header[name] = value
	return &c
}

// WithStatus returns a copy of e with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// Because returns a copy of e with a server-side reason for the log.
func (e *Error) Because(cause string) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// Msg returns a copy of e with another client-visible message.
func (e *Error) Msg(message string) *Error {
	c := *e
	c.Message = message
	return &c
}

// New builds an error for code with the HTTP status AWS uses for it.
func New(code, message string) *Error {
	return &Error{Code: code, Status: StatusOf(code), Message: message}
}

// As extracts an *Error from err, or wraps an unknown error as InternalError.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return InternalError.Because(err.Error())
}

// StatusOf is the HTTP status AWS answers with for an error code.
func StatusOf(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

var statusByCode = map[string]int{
	"AccessDenied":                      403,
	"AuthorizationHeaderMalformed":      400,
	"AuthorizationQueryParametersError": 400,
	"BadDigest":                         400,
	"BucketAlreadyExists":               409,
	"BucketAlreadyOwnedByYou":           409,
	"BucketNotEmpty":                    409,
	"EntityTooSmall":                    400,
	"EntityTooLarge":                    400,
	"ExpiredToken":                      400,
	"IncompleteBody":                    400,
	"InternalError":                     500,
	"InvalidAccessKeyId":                403,
	"InvalidArgument":                   400,
	"InvalidBucketName":                 400,
	"InvalidDigest":                     400,
	"InvalidLocationConstraint":         400,
	"InvalidPart":                       400,
	"InvalidPartNumber":                 416,
	"InvalidPartOrder":                  400,
	"InvalidRange":                      416,
	"InvalidRequest":                    400,
	"InvalidTag":                        400,
	"InvalidToken":                      400,
	"InvalidURI":                        400,
	"KeyTooLongError":                   400,
	"MalformedXML":                      400,
	"MaxMessageLengthExceeded":          400,
	"MetadataTooLarge":                  400,
	"MethodNotAllowed":                  405,
	"MissingContentLength":              411,
	"MissingRequestBodyError":           400,
	"MissingSecurityHeader":             400,
	"NoSuchBucket":                      404,
	"NoSuchBucketPolicy":                404,
	"NoSuchKey":                         404,
	"NoSuchTagSet":                      404,
	"NoSuchUpload":                      404,
	"NotImplemented":                    501,
	"NotModified":                       304,
	"PreconditionFailed":                412,
	"RequestTimeout":                    400,
	"RequestTimeTooSkewed":              403,
	"ServiceUnavailable":                503,
	"SignatureDoesNotMatch":             403,
	"SlowDown":                          503,
	"XAmzContentSHA256Mismatch":         400,
}

// Errors used in more than one place. Callers add context with With/Because.
var (
	AccessDenied          = New("AccessDenied", "Access Denied")
	BadDigest             = New("BadDigest", "The Content-MD5 you specified did not match what we received.")
	BucketNotEmpty        = New("BucketNotEmpty", "The bucket you tried to delete is not empty")
	EntityTooLarge        = New("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
	EntityTooSmall        = New("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
	IncompleteBody        = New("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	InternalError         = New("InternalError", "We encountered an internal error. Please try again.")
	InvalidAccessKeyID    = New("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	InvalidArgument       = New("InvalidArgument", "Invalid Argument")
	InvalidBucketName     = New("InvalidBucketName", "The specified bucket is not valid.")
	InvalidDigest         = New("InvalidDigest", "The Content-MD5 you specified is not valid.")
	InvalidPart           = New("InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	InvalidPartOrder      = New("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
	InvalidRange          = New("InvalidRange", "The requested range is not satisfiable")
	InvalidRequest        = New("InvalidRequest", "Invalid Request")
	InvalidURI            = New("InvalidURI", "Couldn't parse the specified URI.")
	KeyTooLong            = New("KeyTooLongError", "Your key is too long")
	MalformedXML          = New("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
	MetadataTooLarge      = New("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size")
	MethodNotAllowed      = New("MethodNotAllowed", "The specified method is not allowed against this resource.")
	MissingContentLength  = New("MissingContentLength", "You must provide the Content-Length HTTP header.")
	MissingRequestBody    = New("MissingRequestBodyError", "Request Body is empty")
	NoSuchBucket          = New("NoSuchBucket", "The specified bucket does not exist")
	NoSuchKey             = New("NoSuchKey", "The specified key does not exist.")
	NoSuchUpload          = New("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	NotImplemented        = New("NotImplemented", "A header or query you provided implies functionality that is not implemented.")
	NotModified           = New("NotModified", "Not Modified")
	PreconditionFailed    = New("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	SignatureDoesNotMatch = New("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	SlowDown              = New("SlowDown", "Please reduce your request rate.")
)

// WriteXML writes e as an S3 error response. HEAD requests get the status
// alone: AWS sends no body there and the SDKs read only the status.
func WriteXML(w http.ResponseWriter, r *http.Request, e *Error, requestID string) {
	h := w.Header()
	for k, v := range e.Header {
		h.Set(k, v)
	}
	if r.Method == http.MethodHead || e.Status == http.StatusNotModified {
		w.WriteHeader(e.Status)
		return
	}
	body := Marshal(e, requestID)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

// Marshal renders the <Error> document (no namespace, as AWS).
func Marshal(e *Error, requestID string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, xml.Header...)
	b = append(b, "<Error>"...)
	b = appendElem(b, "Code", e.Code)
	b = appendElem(b, "Message", e.Message)
	for _, f := range e.Fields {
		b = appendElem(b, f.Name, f.Value)
	}
	b = appendElem(b, "RequestId", requestID)
	b = appendElem(b, "HostId", requestID)
	b = append(b, "</Error>"...)
	return b
}

func appendElem(b []byte, name, value string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendEscaped(b, value)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

type byteWriter struct{ b *[]byte }

func (w byteWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

func appendEscaped(b []byte, s string) []byte {
	xml.EscapeText(byteWriter{&b}, []byte(s))
	return b
}
