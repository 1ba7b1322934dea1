package sts

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"

	"github.com/cairn-io/cairn/internal/s3err"
)

// STS errors travel as *s3err.Error values (code, status, client message,
// and a server-side reason); only their XML shape differs from S3's.
var stsStatus = map[string]int{
	"InvalidIdentityToken":       400,
	"IDPRejectedClaim":           403,
	"IDPCommunicationError":      400,
	"ExpiredTokenException":      400,
	"MalformedPolicyDocument":    400,
	"PackedPolicyTooLarge":       400,
	"AccessDenied":               403,
	"ValidationError":            400,
	"InvalidClientTokenId":       403,
	"SignatureDoesNotMatch":      403,
	"IncompleteSignature":        400,
	"MissingAuthenticationToken": 403,
	"RequestExpired":             400,
	"ExpiredToken":               403,
	"InvalidAction":              400,
	"MissingParameter":           400,
	"InvalidParameterValue":      400,
	"InternalFailure":            500,
}

func stsErr(code, msg string) *s3err.Error {
	s, ok := stsStatus[code]
	if !ok {
		s = 400
	}
	return &s3err.Error{Code: code, Status: s, Message: msg}
}

func validation(msg string) *s3err.Error { return stsErr("ValidationError", msg).Because(msg) }

func invalidToken(reason string) *s3err.Error {
	return stsErr("InvalidIdentityToken", "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.").Because(reason)
}

// fromAuthError turns a SigV4 failure (S3 codes) into the STS code the
// query protocol uses for it.
func fromAuthError(err error) *s3err.Error {
	var e *s3err.Error
	if !errors.As(err, &e) {
		return stsErr("InternalFailure", "An internal error occurred.").Because(err.Error())
	}
	m := map[string]*s3err.Error{
		"InvalidAccessKeyId":                stsErr("InvalidClientTokenId", "The security token included in the request is invalid."),
		"InvalidToken":                      stsErr("InvalidClientTokenId", "The security token included in the request is invalid."),
		"AuthorizationHeaderMalformed":      stsErr("IncompleteSignature", e.Message),
		"AuthorizationQueryParametersError": stsErr("IncompleteSignature", e.Message),
		"RequestTimeTooSkewed":              stsErr("RequestExpired", "Request has expired."),
		"ExpiredToken":                      stsErr("ExpiredToken", "The security token included in the request is expired"),
		"SignatureDoesNotMatch":             stsErr("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."),
	}
	if e.Code == "AccessDenied" && e.Cause == "anonymous request" {
		return stsErr("MissingAuthenticationToken", "Request is missing Authentication Token").Because(e.Cause)
	}
	if x, ok := m[e.Code]; ok {
		return x.Because(e.Code + ": " + e.Cause)
	}
	if _, ok := stsStatus[e.Code]; ok {
		return e
	}
	return stsErr("InvalidParameterValue", e.Message).Because(e.Code + ": " + e.Cause)
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

func writeError(w http.ResponseWriter, e *s3err.Error, requestID string) {
	writeErrorNS(w, stsNS, e, requestID)
}

func writeErrorNS(w http.ResponseWriter, ns string, e *s3err.Error, requestID string) {
	var doc errorResponse
	doc.NS = ns
	doc.Error.Type = "Sender"
	if e.Status >= 500 {
		doc.Error.Type = "Receiver"
	}
	doc.Error.Code, doc.Error.Message = e.Code, e.Message
	doc.RequestID = requestID
	writeDoc(w, e.Status, &doc)
}

func writeDoc(w http.ResponseWriter, status int, v any) {
	b, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}
