package policy

import (
	"fmt"
	"strings"
)

// Principal identifies the caller to resource and trust policies.
type Principal struct {
	// AWS holds the caller's ARNs that a Principal.AWS entry may name:
	// the user ARN, or the assumed-role session ARN and the role ARN, and
	// the account root ARN when account-wide grants should apply.
	AWS []string
	// Federated is the provider ARN (or host) of a web-identity caller.
	Federated string
	// Anonymous callers match only "*".
	Anonymous bool
}

// Request is what a decision is about.
type Request struct {
	Action    string // "s3:GetObject"
	Resource  string // "arn:aws:s3:::bucket/key"; "" for trust policies
	Principal *Principal
	Context   Context
}

// Decision is the result of evaluating policies, with the statement that
// decided (for denials: the deny, or nothing when no allow was found).
type Decision struct {
	Effect    Effect
	Policy    string
	Statement string // Sid, or "Statement[i]"
}

// Explain says why, for logs and `cairn policy simulate`.
func (d Decision) Explain() string {
	switch d.Effect {
	case Allow:
		return "allowed by " + d.Policy + " " + d.Statement
	case Deny:
		return "explicitly denied by " + d.Policy + " " + d.Statement
	}
	if d.Policy != "" {
		return "no statement allows it (" + d.Policy + ")"
	}
	return "no statement allows it"
}

func (s *Statement) label() string {
	if s.Sid != "" {
		return "Sid " + s.Sid
	}
	return fmt.Sprintf("Statement[%d]", s.Index)
}

// Evaluate applies one policy: Deny if a deny statement applies, else Allow
// if an allow statement applies, else ImplicitDeny.
func (p *Policy) Evaluate(r *Request) Decision {
	allow := Decision{}
	action := lowerAction(r.Action)
	for _, s := range p.Statements {
		if !s.applies(r, action) {
			continue
		}
		if s.Effect == Deny {
			return Decision{Effect: Deny, Policy: p.Name, Statement: s.label()}
		}
		if allow.Effect != Allow {
			allow = Decision{Effect: Allow, Policy: p.Name, Statement: s.label()}
		}
	}
	return allow
}

// Evaluate combines policies as one set: any deny wins, then any allow.
func Evaluate(policies []*Policy, r *Request) Decision {
	var allow Decision
	for _, p := range policies {
		d := p.Evaluate(r)
		switch d.Effect {
		case Deny:
			return d
		case Allow:
			if allow.Effect != Allow {
				allow = d
			}
		}
	}
	return allow
}

// lowerAction lower-cases an action, caching the common S3 ones so that a
// decision does not allocate for it.
func lowerAction(a string) string {
	if l, ok := lowerActions[a]; ok {
		return l
	}
	return strings.ToLower(a)
}

var lowerActions = func() map[string]string {
	m := map[string]string{}
	for _, a := range []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:ListAllMyBuckets",
		"s3:CreateBucket", "s3:DeleteBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload",
		"s3:ListMultipartUploadParts", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging", "s3:GetObjectAttributes",
		"s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicyStatus",
		"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:TagSession"} {
		m[a] = strings.ToLower(a)
	}
	return m
}()

func (s *Statement) applies(r *Request, action string) bool {
	if s.principal != nil && s.principal.matches(r.Principal) == s.notPrincipal {
		return false
	}
	matched := false
	for i := range s.actions {
		if m, _ := s.actions[i].match(action, nil, true); m {
			matched = true
			break
		}
	}
	if matched == s.notAction {
		return false
	}
	if s.hasResource {
		matched = false
		for i := range s.resources {
			if m, ok := s.resources[i].match(r.Resource, r.Context, false); ok && m {
				matched = true
				break
			}
		}
		if matched == s.notResource {
			return false
		}
	}
	for i := range s.conditions {
		if !s.conditions[i].eval(r.Context) {
			return false
		}
	}
	return true
}

func (pm *principalMatcher) matches(p *Principal) bool {
	if pm.any {
		return true
	}
	if p == nil || p.Anonymous {
		return false
	}
	for _, a := range pm.aws {
		for _, b := range p.AWS {
			if a == b {
				return true
			}
		}
	}
	if p.Federated != "" {
		for _, f := range pm.federated {
			if f == p.Federated {
				return true
			}
		}
	}
	return false
}
