package iam

import (
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
	"github.com/cairn-io/cairn/internal/sts"
)

const ns = "https://iam.amazonaws.com/doc/2010-05-08/"

// Version is the IAM API version; requests name it.
const Version = "2010-05-08"

func isoTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(time.RFC3339)
}

type userXML struct {
	Path       string `xml:"Path"`
	UserName   string `xml:"UserName"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type roleXML struct {
	Path               string `xml:"Path"`
	RoleName           string `xml:"RoleName"`
	RoleID             string `xml:"RoleId"`
	Arn                string `xml:"Arn"`
	CreateDate         string `xml:"CreateDate"`
	AssumeRolePolicy   string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration int    `xml:"MaxSessionDuration"`
}

type policyXML struct {
	PolicyName       string `xml:"PolicyName"`
	PolicyID         string `xml:"PolicyId"`
	Arn              string `xml:"Arn"`
	Path             string `xml:"Path"`
	DefaultVersionID string `xml:"DefaultVersionId"`
	AttachmentCount  int    `xml:"AttachmentCount"`
	IsAttachable     bool   `xml:"IsAttachable"`
	CreateDate       string `xml:"CreateDate"`
	UpdateDate       string `xml:"UpdateDate"`
}

type keyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type attachedXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

var knownActions = map[string]bool{}

func init() {
	for _, a := range strings.Fields(`CreateUser GetUser DeleteUser ListUsers CreateAccessKey DeleteAccessKey ListAccessKeys UpdateAccessKey
		PutUserPolicy GetUserPolicy DeleteUserPolicy ListUserPolicies CreateRole GetRole DeleteRole ListRoles UpdateAssumeRolePolicy UpdateRole
		PutRolePolicy GetRolePolicy DeleteRolePolicy ListRolePolicies CreatePolicy GetPolicy GetPolicyVersion DeletePolicy ListPolicies
		AttachUserPolicy DetachUserPolicy ListAttachedUserPolicies AttachRolePolicy DetachRolePolicy ListAttachedRolePolicies
		CreateOpenIDConnectProvider GetOpenIDConnectProvider ListOpenIDConnectProviders DeleteOpenIDConnectProvider
		AddClientIDToOpenIDConnectProvider RemoveClientIDFromOpenIDConnectProvider`) {
		knownActions[a] = true
	}
}

// KnownAction reports whether cairn implements an IAM action.
func KnownAction(a string) bool { return knownActions[a] }

// Handler serves the IAM query protocol; the S3 server authenticates the
// caller (SigV4, service iam) before calling Serve.
type Handler struct {
	svc *Service
	log *slog.Logger
}

// NewHandler builds the HTTP front of svc.
func NewHandler(svc *Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Serve answers one authenticated IAM request; it returns the error it
// answered with.
func (h *Handler) Serve(w http.ResponseWriter, params url.Values, caller *identity.Principal, requestID string) error {
	action := params.Get("Action")
	err := h.dispatch(w, action, params, caller, requestID)
	if err != nil {
		e := s3err.As(err)
		writeError(w, e, requestID)
		h.log.Info("iam: request refused", "request_id", requestID, "action", action, "principal", caller.ARN, "code", e.Code, "reason", e.Cause)
		return e
	}
	if !strings.HasPrefix(action, "Get") && !strings.HasPrefix(action, "List") {
		h.log.Info("audit: iam change", "request_id", requestID, "action", action, "principal", caller.ARN,
			"user", params.Get("UserName"), "role", params.Get("RoleName"), "policy", params.Get("PolicyName")+params.Get("PolicyArn"))
	}
	return nil
}

// WriteError writes an IAM error document.
func WriteError(w http.ResponseWriter, e *s3err.Error, requestID string) { writeError(w, e, requestID) }

func writeError(w http.ResponseWriter, e *s3err.Error, requestID string) {
	sts.WriteQueryError(w, ns, e, requestID)
}

// respond writes <ActionResponse><ActionResult>inner</ActionResult>...
func respond(w http.ResponseWriter, action, requestID string, inner any) {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<" + action + `Response xmlns="` + ns + `">`)
	if inner != nil {
		enc := xml.NewEncoder(&b)
		if err := enc.EncodeElement(inner, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			panic("iam: response does not encode: " + err.Error()) // a programming error, caught by the tests
		}
		enc.Flush()
	}
	b.WriteString("<ResponseMetadata><RequestId>" + requestID + "</RequestId></ResponseMetadata></" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}

// encodeDoc URL-encodes a policy document as IAM returns it (RFC 3986,
// spaces as %20: the SDKs decode with unquote, not unquote_plus).
func encodeDoc(doc string) string { return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20") }

func members(p url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[prefix+".member."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (h *Handler) userXML(u *User) userXML {
	acct := h.svc.account
	return userXML{Path: "/", UserName: u.Name, UserID: identity.UserID(acct, u.Name), Arn: "arn:aws:iam::" + acct + ":user/" + u.Name, CreateDate: isoTime(u.Created)}
}

func (h *Handler) roleXML(r *Role) roleXML {
	acct := h.svc.account
	return roleXML{Path: "/", RoleName: r.Name, RoleID: identity.RoleID(acct, r.Name), Arn: "arn:aws:iam::" + acct + ":role/" + r.Name,
		CreateDate: isoTime(r.Created), AssumeRolePolicy: encodeDoc(r.Trust), MaxSessionDuration: r.MaxSession}
}

func (h *Handler) policyXML(p *Policy, attached int) policyXML {
	return policyXML{PolicyName: p.Name, PolicyID: identity.PolicyID(h.svc.account, p.Name), Arn: h.svc.policyARN(p.Name), Path: "/",
		DefaultVersionID: "v1", AttachmentCount: attached, IsAttachable: true, CreateDate: isoTime(p.Created), UpdateDate: isoTime(p.Created)}
}

// resourceOf is the ARN an action is about, for authorization.
func (h *Handler) resourceOf(p url.Values) string {
	acct := h.svc.account
	switch {
	case p.Get("UserName") != "":
		return "arn:aws:iam::" + acct + ":user/" + p.Get("UserName")
	case p.Get("RoleName") != "":
		return "arn:aws:iam::" + acct + ":role/" + p.Get("RoleName")
	case p.Get("PolicyArn") != "":
		return p.Get("PolicyArn")
	case p.Get("OpenIDConnectProviderArn") != "":
		return p.Get("OpenIDConnectProviderArn")
	case p.Get("PolicyName") != "":
		return h.svc.policyARN(p.Get("PolicyName"))
	}
	return "*"
}

func (h *Handler) dispatch(w http.ResponseWriter, action string, p url.Values, caller *identity.Principal, rid string) error {
	if caller.Type == identity.TypeAssumedRole || caller.SessionUser != "" {
		// Like AWS for most IAM calls made with session credentials of a
		// user; role sessions may call IAM when their policies allow it.
		if caller.SessionUser != "" {
			return iamErr("InvalidClientTokenId", "The security token included in the request is invalid")
		}
	}
	if !caller.Root() {
		d := identity.Decide(caller, &policy.Request{Action: "iam:" + action, Resource: h.resourceOf(p), Context: policy.Context{}})
		if d.Effect != policy.Allow {
			return iamErr("AccessDenied", "User: "+caller.ARN+" is not authorized to perform: iam:"+action+" on resource: "+h.resourceOf(p)).Because(d.Explain())
		}
	}
	s := h.svc
	userName := p.Get("UserName")
	switch action {
	case "CreateUser":
		u, err := s.createUser(userName)
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			User userXML `xml:"User"`
		}{h.userXML(u)})
	case "GetUser":
		if userName == "" {
			if caller.Type != identity.TypeUser {
				return iamErr("ValidationError", "Must specify userName when calling with non-User credentials")
			}
			userName = caller.Name
		}
		u, err := s.getUser(userName)
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			User userXML `xml:"User"`
		}{h.userXML(u)})
	case "DeleteUser":
		if err := s.deleteUser(userName); err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "ListUsers":
		var out struct {
			Users       []userXML `xml:"Users>member"`
			IsTruncated bool      `xml:"IsTruncated"`
		}
		for _, u := range s.listUsers() {
			out.Users = append(out.Users, h.userXML(u))
		}
		respond(w, action, rid, &out)
	case "CreateAccessKey":
		if userName == "" {
			userName = caller.Name
		}
		k, err := s.createAccessKey(userName)
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			Key keyXML `xml:"AccessKey"`
		}{keyXML{UserName: userName, AccessKeyID: k.ID, Status: "Active", SecretAccessKey: k.Secret, CreateDate: isoTime(k.Created)}})
	case "DeleteAccessKey":
		err := s.changeKey(userName, p.Get("AccessKeyId"), func(u *User, i int) { u.Keys = append(u.Keys[:i], u.Keys[i+1:]...) })
		if err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "UpdateAccessKey":
		status := p.Get("Status")
		if status != "Active" && status != "Inactive" {
			return iamErr("ValidationError", "1 validation error detected: Value '"+status+"' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")
		}
		if err := s.changeKey(userName, p.Get("AccessKeyId"), func(u *User, i int) { u.Keys[i].Active = status == "Active" }); err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "ListAccessKeys":
		if userName == "" {
			userName = caller.Name
		}
		keys, err := s.listAccessKeys(userName)
		if err != nil {
			return err
		}
		var out struct {
			Keys        []keyXML `xml:"AccessKeyMetadata>member"`
			IsTruncated bool     `xml:"IsTruncated"`
		}
		for _, k := range keys {
			st := "Active"
			if !k.Active {
				st = "Inactive"
			}
			out.Keys = append(out.Keys, keyXML{UserName: userName, AccessKeyID: k.ID, Status: st, CreateDate: isoTime(k.Created)})
		}
		respond(w, action, rid, &out)
	case "PutUserPolicy", "PutRolePolicy":
		name, doc := p.Get("PolicyName"), p.Get("PolicyDocument")
		if err := validName("policyName", name, policyNameRE); err != nil {
			return err
		}
		if err := checkDoc(doc, policy.Identity); err != nil {
			return err
		}
		err := h.withInline(action, p, func(m map[string]string) (map[string]string, error) {
			if m == nil {
				m = map[string]string{}
			}
			m[name] = doc
			return m, nil
		})
		if err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "DeleteUserPolicy", "DeleteRolePolicy":
		name := p.Get("PolicyName")
		err := h.withInline(action, p, func(m map[string]string) (map[string]string, error) {
			if _, ok := m[name]; !ok {
				return nil, iamErr("NoSuchEntity", "The policy with name "+name+" cannot be found.")
			}
			delete(m, name)
			return m, nil
		})
		if err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "GetUserPolicy", "GetRolePolicy", "ListUserPolicies", "ListRolePolicies":
		inline, err := h.inline(action, p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(action, "List") {
			var out struct {
				Names       []string `xml:"PolicyNames>member"`
				IsTruncated bool     `xml:"IsTruncated"`
			}
			out.Names = sortStrings(sortedKeys(inline))
			respond(w, action, rid, &out)
			return nil
		}
		name := p.Get("PolicyName")
		doc, ok := inline[name]
		if !ok {
			return iamErr("NoSuchEntity", "The policy with name "+name+" cannot be found.")
		}
		respond(w, action, rid, &struct {
			UserName string `xml:"UserName,omitempty"`
			RoleName string `xml:"RoleName,omitempty"`
			Name     string `xml:"PolicyName"`
			Doc      string `xml:"PolicyDocument"`
		}{p.Get("UserName"), p.Get("RoleName"), name, encodeDoc(doc)})
	case "CreateRole":
		maxSession := 0
		if v := p.Get("MaxSessionDuration"); v != "" {
			maxSession, _ = strconv.Atoi(v)
			if maxSession == 0 {
				maxSession = -1
			}
		}
		r, err := s.createRole(p.Get("RoleName"), p.Get("AssumeRolePolicyDocument"), maxSession)
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			Role roleXML `xml:"Role"`
		}{h.roleXML(r)})
	case "GetRole":
		r, err := s.getRole(p.Get("RoleName"))
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			Role roleXML `xml:"Role"`
		}{h.roleXML(r)})
	case "DeleteRole":
		if err := s.deleteRole(p.Get("RoleName")); err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "ListRoles":
		var out struct {
			Roles       []roleXML `xml:"Roles>member"`
			IsTruncated bool      `xml:"IsTruncated"`
		}
		for _, r := range s.listRoles() {
			out.Roles = append(out.Roles, h.roleXML(r))
		}
		respond(w, action, rid, &out)
	case "UpdateAssumeRolePolicy":
		doc := p.Get("PolicyDocument")
		if err := checkDoc(doc, policy.Trust); err != nil {
			return err
		}
		if err := s.changeRole(p.Get("RoleName"), func(r *Role) error { r.Trust = doc; return nil }); err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "UpdateRole":
		err := s.changeRole(p.Get("RoleName"), func(r *Role) error {
			if v := p.Get("MaxSessionDuration"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 3600 || n > 43200 {
					return iamErr("ValidationError", "1 validation error detected: Value at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200")
				}
				r.MaxSession = n
			}
			return nil
		})
		if err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "CreatePolicy":
		pol, err := s.createPolicy(p.Get("PolicyName"), p.Get("PolicyDocument"))
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			Policy policyXML `xml:"Policy"`
		}{h.policyXML(pol, 0)})
	case "GetPolicy":
		pol, n, err := s.getPolicy(p.Get("PolicyArn"))
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			Policy policyXML `xml:"Policy"`
		}{h.policyXML(pol, n)})
	case "GetPolicyVersion":
		pol, _, err := s.getPolicy(p.Get("PolicyArn"))
		if err != nil {
			return err
		}
		if v := p.Get("VersionId"); v != "v1" {
			return iamErr("NoSuchEntity", "Policy "+p.Get("PolicyArn")+" version "+v+" does not exist.")
		}
		respond(w, action, rid, &struct {
			Doc       string `xml:"PolicyVersion>Document"`
			VersionID string `xml:"PolicyVersion>VersionId"`
			Default   bool   `xml:"PolicyVersion>IsDefaultVersion"`
			Created   string `xml:"PolicyVersion>CreateDate"`
		}{encodeDoc(pol.Document), "v1", true, isoTime(pol.Created)})
	case "DeletePolicy":
		if err := s.deletePolicy(p.Get("PolicyArn")); err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "ListPolicies":
		var out struct {
			Policies    []policyXML `xml:"Policies>member"`
			IsTruncated bool        `xml:"IsTruncated"`
		}
		if p.Get("Scope") != "AWS" { // cairn has no AWS-managed policies
			for _, pol := range s.listPolicies() {
				out.Policies = append(out.Policies, h.policyXML(pol, 0))
			}
		}
		respond(w, action, rid, &out)
	case "AttachUserPolicy", "DetachUserPolicy", "AttachRolePolicy", "DetachRolePolicy":
		add := strings.HasPrefix(action, "Attach")
		err := s.update(func(st *State, f *config.Config) error {
			if strings.Contains(action, "User") {
				u, err := s.user(st, f, userName, true)
				if err != nil {
					return err
				}
				return s.attach(&u.Attached, p.Get("PolicyArn"), st, f, add)
			}
			r, err := s.role(st, f, p.Get("RoleName"), true)
			if err != nil {
				return err
			}
			return s.attach(&r.Attached, p.Get("PolicyArn"), st, f, add)
		})
		if err != nil {
			return err
		}
		respond(w, action, rid, nil)
	case "ListAttachedUserPolicies", "ListAttachedRolePolicies":
		var names []string
		s.mu.Lock()
		f := s.File()
		var err error
		if strings.Contains(action, "User") {
			var u *User
			if u, err = s.user(s.state, f, userName, false); err == nil {
				names = u.Attached
				for _, fu := range f.Users {
					if fu.Name == userName {
						names = fu.ManagedPolicies
					}
				}
			}
		} else {
			var r *Role
			if r, err = s.role(s.state, f, p.Get("RoleName"), false); err == nil {
				names = r.Attached
				for _, fr := range f.Roles {
					if fr.Name == p.Get("RoleName") {
						names = fr.ManagedPolicies
					}
				}
			}
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		var out struct {
			Attached    []attachedXML `xml:"AttachedPolicies>member"`
			IsTruncated bool          `xml:"IsTruncated"`
		}
		for _, n := range names {
			out.Attached = append(out.Attached, attachedXML{n, s.policyARN(n)})
		}
		respond(w, action, rid, &out)
	case "CreateOpenIDConnectProvider":
		pr, err := s.createProvider(p.Get("Url"), members(p, "ClientIDList"), members(p, "ThumbprintList"))
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			Arn string `xml:"OpenIDConnectProviderArn"`
		}{s.providerARN(pr.URL)})
	case "GetOpenIDConnectProvider":
		s.mu.Lock()
		pr, err := s.providerByARN(s.state, s.File(), p.Get("OpenIDConnectProviderArn"), false)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		respond(w, action, rid, &struct {
			URL         string   `xml:"Url"`
			ClientIDs   []string `xml:"ClientIDList>member"`
			Thumbprints []string `xml:"ThumbprintList>member"`
			Created     string   `xml:"CreateDate"`
		}{config.ProviderARNSuffix(pr.URL), pr.ClientIDs, pr.Thumbprints, isoTime(pr.Created)})
	case "ListOpenIDConnectProviders":
		s.mu.Lock()
		var arns []string
		for _, fp := range s.File().Providers {
			arns = append(arns, s.providerARN(fp.URL))
		}
		for _, u := range sortedKeys(s.state.Providers) {
			arns = append(arns, s.providerARN(u))
		}
		s.mu.Unlock()
		var out struct {
			List []struct {
				Arn string `xml:"Arn"`
			} `xml:"OpenIDConnectProviderList>member"`
		}
		for _, a := range arns {
			out.List = append(out.List, struct {
				Arn string `xml:"Arn"`
			}{a})
		}
		respond(w, action, rid, &out)
	case "DeleteOpenIDConnectProvider", "AddClientIDToOpenIDConnectProvider", "RemoveClientIDFromOpenIDConnectProvider":
		err := s.update(func(st *State, f *config.Config) error {
			pr, err := s.providerByARN(st, f, p.Get("OpenIDConnectProviderArn"), true)
			if err != nil {
				return err
			}
			switch action {
			case "DeleteOpenIDConnectProvider":
				delete(st.Providers, pr.URL)
			case "AddClientIDToOpenIDConnectProvider":
				for _, c := range pr.ClientIDs {
					if c == p.Get("ClientID") {
						return nil
					}
				}
				pr.ClientIDs = append(pr.ClientIDs, p.Get("ClientID"))
			default:
				for i, c := range pr.ClientIDs {
					if c == p.Get("ClientID") {
						pr.ClientIDs = append(pr.ClientIDs[:i], pr.ClientIDs[i+1:]...)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		respond(w, action, rid, nil)
	default:
		return iamErr("InvalidAction", "Could not find operation "+action+" for version "+Version)
	}
	return nil
}

// inline returns the inline policies of the named user or role.
func (h *Handler) inline(action string, p url.Values) (map[string]string, error) {
	s := h.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.File()
	if strings.Contains(action, "User") {
		u, err := s.user(s.state, f, p.Get("UserName"), false)
		if err != nil {
			return nil, err
		}
		if u.Inline == nil {
			return fileInline(func() []config.PolicyDoc {
				for _, fu := range f.Users {
					if fu.Name == u.Name {
						return fu.Policies
					}
				}
				return nil
			}()), nil
		}
		return u.Inline, nil
	}
	r, err := s.role(s.state, f, p.Get("RoleName"), false)
	if err != nil {
		return nil, err
	}
	if r.Inline == nil {
		for _, fr := range f.Roles {
			if fr.Name == r.Name {
				return fileInline(fr.Policies), nil
			}
		}
	}
	return r.Inline, nil
}

// fileInline names the config file's unnamed inline policies "inline-N".
func fileInline(docs []config.PolicyDoc) map[string]string {
	m := map[string]string{}
	for i, d := range docs {
		m["inline-"+strconv.Itoa(i)] = d.Text
	}
	return m
}

func (h *Handler) withInline(action string, p url.Values, fn func(map[string]string) (map[string]string, error)) error {
	s := h.svc
	return s.update(func(st *State, f *config.Config) error {
		if strings.Contains(action, "User") {
			u, err := s.user(st, f, p.Get("UserName"), true)
			if err != nil {
				return err
			}
			m, err := fn(u.Inline)
			u.Inline = m
			return err
		}
		r, err := s.role(st, f, p.Get("RoleName"), true)
		if err != nil {
			return err
		}
		m, err := fn(r.Inline)
		r.Inline = m
		return err
	})
}
