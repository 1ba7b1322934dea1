package sts

import (
	"bytes"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/sigv4"
)

// IsRequest reports whether a request on the S3 listener is an STS call:
// the query protocol at "/" (POST form, or GET with Action). Requests for
// a bucket, by path or by host, never are.
func IsRequest(r *http.Request, virtualBucket bool) bool {
	if virtualBucket || r.URL.Path != "/" {
		return false
	}
	if r.Method == http.MethodPost {
		return true
	}
	return r.Method == http.MethodGet && r.URL.Query().Has("Action")
}

// KnownAction reports whether cairn implements an STS action.
func KnownAction(a string) bool {
	switch a {
	case "AssumeRoleWithWebIdentity", "AssumeRole", "GetCallerIdentity", "GetSessionToken":
		return true
	}
	return false
}

// Handler serves the STS query protocol.
type Handler struct {
	svc      *Service
	verifier *sigv4.Verifier
	log      *slog.Logger
}

// NewHandler builds the HTTP front of svc.
func NewHandler(svc *Service, verifier *sigv4.Verifier, log *slog.Logger) *Handler {
	return &Handler{svc: svc, verifier: verifier, log: log}
}

const maxFormBody = 128 << 10

// Serve handles one STS request whose parameters the caller read with
// ReadParams (params and the error it returned). It returns the action and
// the error it answered with (nil on success), for the caller's log.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, params url.Values, err error, requestID string) (action string, _ error) {
	// The query protocol's SDKs read the request id from this header.
	w.Header().Set("X-Amzn-Requestid", requestID)
	if err == nil {
		action = params.Get("Action")
		err = h.dispatch(w, r, params, requestID)
	}
	if err != nil {
		e := s3err.As(err)
		if _, ok := stsStatus[e.Code]; !ok {
			e = fromAuthError(e)
		}
		writeError(w, e, requestID)
		h.log.Info("sts: request refused", "request_id", requestID, "action", action, "status", e.Status, "code", e.Code, "reason", e.Cause)
		return action, e
	}
	return action, nil
}

// ReadParams merges the query string and a form body, as the query
// protocol allows both. The body is kept for signature verification (and
// for a second reader).
func ReadParams(r *http.Request) (url.Values, error) { return readParams(r) }

// FromAuthError turns a SigV4 failure into its query-protocol error.
func FromAuthError(err error) *s3err.Error { return fromAuthError(err) }

// WriteQueryError writes the error document of a query-protocol service
// (STS, IAM) whose XML namespace is ns.
func WriteQueryError(w http.ResponseWriter, ns string, e *s3err.Error, requestID string) {
	writeErrorNS(w, ns, e, requestID)
}

func readParams(r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		if err != nil {
			return nil, stsErr("InvalidParameterValue", "could not read the request body").Because(err.Error())
		}
		if len(body) > maxFormBody {
			return nil, validation("request body too large")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, stsErr("InvalidParameterValue", "malformed form body")
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params, nil
}

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, params url.Values, requestID string) error {
	action := params.Get("Action")
	if action == "" {
		return stsErr("MissingParameter", "The request must contain the parameter Action")
	}
	if v := params.Get("Version"); v != "2011-06-15" {
		return stsErr("InvalidAction", "Could not find operation "+action+" for version "+v)
	}
	switch action {
	case "AssumeRoleWithWebIdentity":
		// Unsigned by design: the web identity token is the credential.
		in := assumeInput(params)
		res, err := h.svc.AssumeRoleWithWebIdentity(r.Context(), in, strings.TrimSpace(params.Get("WebIdentityToken")))
		if err != nil {
			return err
		}
		writeDoc(w, http.StatusOK, &assumeRoleWithWebIdentityResponse{NS: stsNS, Result: webResult(res), Meta: meta{requestID}})
		return nil
	default:
		if !KnownAction(action) {
			return stsErr("InvalidAction", "Could not find operation "+action+" for version 2011-06-15")
		}
	}
	res, err := h.verifier.Verify(r, "sts")
	if err != nil {
		return fromAuthError(err)
	}
	caller := res.Identity.(*identity.Principal)
	switch action {
	case "GetCallerIdentity":
		writeDoc(w, http.StatusOK, &getCallerIdentityResponse{NS: stsNS, Result: callerResult{Arn: caller.ARN, UserID: caller.UserID, Account: caller.Account}, Meta: meta{requestID}})
	case "AssumeRole":
		in := assumeInput(params)
		in.ExternalID = params.Get("ExternalId")
		tags, order, err := tagsParam(params)
		if err != nil {
			return err
		}
		in.Tags, in.TagOrder = tags, order
		out, err := h.svc.AssumeRole(caller, in)
		if err != nil {
			return err
		}
		rr := roleResult{Credentials: credsXML(out.Credentials), User: assumedUser{out.AssumedRoleArn, out.AssumedRoleID}}
		if out.HasPacked {
			rr.Packed = &out.PackedPolicySize
		}
		writeDoc(w, http.StatusOK, &assumeRoleResponse{NS: stsNS, Result: rr, Meta: meta{requestID}})
	case "GetSessionToken":
		creds, err := h.svc.GetSessionToken(caller, params.Get("DurationSeconds"))
		if err != nil {
			return err
		}
		writeDoc(w, http.StatusOK, &getSessionTokenResponse{NS: stsNS, Result: sessionTokenResult{credsXML(creds)}, Meta: meta{requestID}})
	}
	return nil
}

func assumeInput(p url.Values) *AssumeInput {
	in := &AssumeInput{RoleArn: p.Get("RoleArn"), RoleSessionName: p.Get("RoleSessionName"), DurationSeconds: p.Get("DurationSeconds"), Policy: p.Get("Policy")}
	for i := 1; ; i++ {
		v := p.Get("PolicyArns.member." + strconv.Itoa(i) + ".arn")
		if v == "" {
			break
		}
		in.PolicyArns = append(in.PolicyArns, v)
	}
	return in
}

// tagsParam reads Tags.member.N.Key / .Value.
func tagsParam(p url.Values) (map[string]string, []string, error) {
	var tags map[string]string
	var order []string
	for i := 1; ; i++ {
		k := p.Get("Tags.member." + strconv.Itoa(i) + ".Key")
		if k == "" {
			break
		}
		if i > maxSessionTags {
			return nil, nil, validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
		}
		v := p.Get("Tags.member." + strconv.Itoa(i) + ".Value")
		if len(k) > 128 || len(v) > 256 {
			return nil, nil, validation("1 validation error detected: a tag key or value is too long")
		}
		if tags == nil {
			tags = map[string]string{}
		}
		lk := strings.ToLower(k)
		for _, o := range order {
			if strings.ToLower(o) == lk {
				return nil, nil, validation("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
			}
		}
		tags[k] = v
		order = append(order, k)
	}
	return tags, order, nil
}

type meta struct {
	RequestID string `xml:"RequestId"`
}

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func credsXML(c Credentials) credentialsXML {
	return credentialsXML{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration.UTC().Format(time.RFC3339)}
}

type assumedUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type webIdentityResult struct {
	Subject     string         `xml:"SubjectFromWebIdentityToken"`
	Audience    string         `xml:"Audience"`
	User        assumedUser    `xml:"AssumedRoleUser"`
	Credentials credentialsXML `xml:"Credentials"`
	Provider    string         `xml:"Provider"`
	Packed      *int           `xml:"PackedPolicySize,omitempty"`
}

func webResult(r *AssumeResult) webIdentityResult {
	out := webIdentityResult{Subject: r.Subject, Audience: r.Audience, User: assumedUser{r.AssumedRoleArn, r.AssumedRoleID},
		Credentials: credsXML(r.Credentials), Provider: r.Provider}
	if r.HasPacked {
		out.Packed = &r.PackedPolicySize
	}
	return out
}

type assumeRoleWithWebIdentityResponse struct {
	XMLName xml.Name          `xml:"AssumeRoleWithWebIdentityResponse"`
	NS      string            `xml:"xmlns,attr"`
	Result  webIdentityResult `xml:"AssumeRoleWithWebIdentityResult"`
	Meta    meta              `xml:"ResponseMetadata"`
}

type roleResult struct {
	User        assumedUser    `xml:"AssumedRoleUser"`
	Credentials credentialsXML `xml:"Credentials"`
	Packed      *int           `xml:"PackedPolicySize,omitempty"`
}

type assumeRoleResponse struct {
	XMLName xml.Name   `xml:"AssumeRoleResponse"`
	NS      string     `xml:"xmlns,attr"`
	Result  roleResult `xml:"AssumeRoleResult"`
	Meta    meta       `xml:"ResponseMetadata"`
}

type callerResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name     `xml:"GetCallerIdentityResponse"`
	NS      string       `xml:"xmlns,attr"`
	Result  callerResult `xml:"GetCallerIdentityResult"`
	Meta    meta         `xml:"ResponseMetadata"`
}

type sessionTokenResult struct {
	Credentials credentialsXML `xml:"Credentials"`
}

type getSessionTokenResponse struct {
	XMLName xml.Name           `xml:"GetSessionTokenResponse"`
	NS      string             `xml:"xmlns,attr"`
	Result  sessionTokenResult `xml:"GetSessionTokenResult"`
	Meta    meta               `xml:"ResponseMetadata"`
}
