// Package policy owns the IAM policy language: it parses AWS policy JSON
// (identity, session, trust and bucket policies), rejects what it does not
// understand when the policy is loaded, compiles matchers once, and
// evaluates requests with the AWS rules (explicit deny wins, an allow is
// needed), saying which statement decided.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Effect of a statement or a decision.
type Effect int

// Decisions.
const (
	ImplicitDeny Effect = iota
	Allow
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "ImplicitDeny"
}

// Policy is a compiled policy document.
type Policy struct {
	// Name identifies the policy in explanations ("role ci/inline 0",
	// "bucket photos").
	Name       string
	Version    string
	Statements []*Statement
	// Text is the document as given (for size accounting and display).
	Text string
	// usesContext is set when a condition or a policy variable reads the
	// request context.
	usesContext bool
	// keys are the condition keys the policy's conditions read (lower case).
	keys map[string]bool
}

// ReadsKeyWithPrefix reports whether a condition of p reads a key starting
// with prefix (lower case), so that costly keys are computed only when a
// policy needs them.
func (p *Policy) ReadsKeyWithPrefix(prefix string) bool {
	for k := range p.keys {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// ResourcePatterns lists the Resource and NotResource texts of p.
func (p *Policy) ResourcePatterns() []string {
	var out []string
	for _, s := range p.Statements {
		for _, r := range s.resources {
			out = append(out, r.text)
		}
	}
	return out
}

// IsPublic reports whether an Allow statement grants to everyone ("*")
// without conditions: the S3 notion of a public bucket policy.
func (p *Policy) IsPublic() bool {
	for _, s := range p.Statements {
		if s.Effect == Allow && s.principal != nil && s.principal.any && !s.notPrincipal && len(s.conditions) == 0 {
			return true
		}
	}
	return false
}

// Match matches s against a pattern with '*' and '?' wildcards.
func Match(pattern, s string) bool { return glob(wildcardItems(nil, pattern), s, false) }

// UsesContext reports whether evaluating p can read condition keys; when
// no policy of a decision does, the caller may skip building the context.
func (p *Policy) UsesContext() bool { return p.usesContext }

// Statement is one compiled statement.
type Statement struct {
	Sid          string
	Index        int
	Effect       Effect
	principal    *principalMatcher // nil: no Principal element
	notPrincipal bool
	actions      []pattern
	notAction    bool
	resources    []pattern
	notResource  bool
	hasResource  bool
	conditions   []condition
}

// Error is a policy that cannot be loaded, with the reason.
type Error struct{ Reason string }

func (e *Error) Error() string { return "malformed policy: " + e.Reason }

func errf(format string, a ...any) error { return &Error{fmt.Sprintf(format, a...)} }

// Kind says which elements a policy may or must have.
type Kind int

// Policy kinds.
const (
	// Identity policies (users, roles, sessions): no Principal.
	Identity Kind = iota
	// Resource policies (bucket policies): Principal required.
	Resource
	// Trust policies (a role's AssumeRolePolicyDocument): Principal
	// required, no Resource needed.
	Trust
)

// Parse compiles a policy document. It accepts the JSON text AWS takes.
func Parse(name, text string, kind Kind) (*Policy, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, errf("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, errf("trailing data after the policy object")
	}
	p := &Policy{Name: name, Text: text}
	for k := range raw {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, errf("unknown element %q", k)
		}
	}
	if v, ok := raw["Version"]; ok {
		if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != "2012-10-17" && p.Version != "2008-10-17") {
			return nil, errf("Version must be \"2012-10-17\" or \"2008-10-17\"")
		}
	}
	st, ok := raw["Statement"]
	if !ok {
		return nil, errf("missing Statement")
	}
	var stmts []json.RawMessage
	if t := bytes.TrimSpace(st); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(st, &stmts); err != nil {
			return nil, errf("Statement: %v", err)
		}
	} else {
		stmts = []json.RawMessage{st}
	}
	if len(stmts) == 0 {
		return nil, errf("Statement is empty")
	}
	for i, s := range stmts {
		cs, err := parseStatement(s, i, kind, p.Version == "2012-10-17")
		if err != nil {
			return nil, errf("Statement[%d]: %s", i, err.(*Error).Reason)
		}
		p.Statements = append(p.Statements, cs)
		if len(cs.conditions) > 0 {
			p.usesContext = true
		}
		for _, c := range cs.conditions {
			if p.keys == nil {
				p.keys = map[string]bool{}
			}
			p.keys[c.key] = true
		}
		for _, r := range cs.resources {
			if r.items == nil {
				p.usesContext = true
			}
		}
	}
	return p, nil
}

// stringOrList decodes "x" or ["x","y"].
func stringOrList(raw json.RawMessage, what string) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errf("%s must be a string or a list of strings", what)
	}
	if len(many) == 0 {
		return nil, errf("%s is empty", what)
	}
	return many, nil
}

func parseStatement(raw json.RawMessage, index int, kind Kind, variables bool) (*Statement, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errf("not an object")
	}
	s := &Statement{Index: index}
	for k := range m {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return nil, errf("unknown element %q", k)
		}
	}
	if v, ok := m["Sid"]; ok {
		if err := json.Unmarshal(v, &s.Sid); err != nil {
			return nil, errf("Sid must be a string")
		}
	}
	var effect string
	if err := json.Unmarshal(m["Effect"], &effect); err != nil {
		return nil, errf("missing or invalid Effect")
	}
	switch effect {
	case "Allow":
		s.Effect = Allow
	case "Deny":
		s.Effect = Deny
	default:
		return nil, errf("Effect must be Allow or Deny, not %q", effect)
	}

	_, hasP := m["Principal"]
	_, hasNP := m["NotPrincipal"]
	switch {
	case hasP && hasNP:
		return nil, errf("both Principal and NotPrincipal")
	case kind == Identity && (hasP || hasNP):
		return nil, errf("Principal is not allowed in an identity policy")
	case kind != Identity && !hasP && !hasNP:
		return nil, errf("missing Principal")
	case hasP || hasNP:
		key := "Principal"
		if hasNP {
			key, s.notPrincipal = "NotPrincipal", true
		}
		pm, err := parsePrincipal(m[key])
		if err != nil {
			return nil, err
		}
		s.principal = pm
	}

	_, hasA := m["Action"]
	_, hasNA := m["NotAction"]
	if hasA == hasNA {
		return nil, errf("exactly one of Action and NotAction is required")
	}
	akey := "Action"
	if hasNA {
		akey, s.notAction = "NotAction", true
	}
	actions, err := stringOrList(m[akey], akey)
	if err != nil {
		return nil, err
	}
	for _, a := range actions {
		if a != "*" {
			svc, name, ok := strings.Cut(a, ":")
			if !ok || svc == "" || name == "" || strings.ContainsAny(svc, "*?") {
				return nil, errf("%s %q is not service:action", akey, a)
			}
		}
		s.actions = append(s.actions, compilePattern(strings.ToLower(a), false))
	}

	_, hasR := m["Resource"]
	_, hasNR := m["NotResource"]
	if hasR && hasNR {
		return nil, errf("both Resource and NotResource")
	}
	if !hasR && !hasNR && kind != Trust {
		return nil, errf("missing Resource")
	}
	if hasR || hasNR {
		rkey := "Resource"
		if hasNR {
			rkey, s.notResource = "NotResource", true
		}
		res, err := stringOrList(m[rkey], rkey)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				return nil, errf("%s %q is not an ARN", rkey, r)
			}
			if r != "*" && strings.Count(r, ":") < 5 {
				return nil, errf("%s %q has fewer than six ARN fields", rkey, r)
			}
			s.resources = append(s.resources, compilePattern(r, variables))
		}
		s.hasResource = true
	}
	if c, ok := m["Condition"]; ok {
		conds, err := parseConditions(c, variables)
		if err != nil {
			return nil, err
		}
		s.conditions = conds
	}
	return s, nil
}

// principalMatcher holds the identifiers of a Principal element.
type principalMatcher struct {
	any       bool
	aws       []string
	federated []string
	service   []string
}

func parsePrincipal(raw json.RawMessage) (*principalMatcher, error) {
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return nil, errf("Principal must be \"*\" or an object")
		}
		return &principalMatcher{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil, errf("Principal must be \"*\" or an object")
	}
	pm := &principalMatcher{}
	for k, v := range m {
		vals, err := stringOrList(v, "Principal."+k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "AWS":
			for _, a := range vals {
				switch {
				case a == "*":
					pm.any = true
				case isAccountID(a):
					pm.aws = append(pm.aws, "arn:aws:iam::"+a+":root")
				case strings.HasPrefix(a, "arn:aws:iam::") || strings.HasPrefix(a, "arn:aws:sts::"):
					if strings.ContainsAny(a, "*?") {
						return nil, errf("Principal.AWS %q: wildcards are not allowed in principal ARNs", a)
					}
					pm.aws = append(pm.aws, a)
				default:
					return nil, errf("Principal.AWS %q is not an account id or IAM/STS ARN", a)
				}
			}
		case "Federated":
			pm.federated = append(pm.federated, vals...)
		case "Service":
			pm.service = append(pm.service, vals...)
		case "CanonicalUser":
			return nil, errf("Principal.CanonicalUser is not supported")
		default:
			return nil, errf("unknown principal type %q", k)
		}
	}
	return pm, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
