package policy

import (
	"strings"
	"testing"
)

func ctx(kv ...string) Context {
	c := Context{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		c[k] = append(c[k], kv[i+1])
	}
	return c
}

func mustParse(t *testing.T, text string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse("test", text, kind)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return p
}

const idHome = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Home","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::data/home/${issuer.example:sub}/*"},
 {"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::data","Condition":{"StringLike":{"s3:prefix":["home/${issuer.example:sub}/*"]}}},
 {"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::data/home/*/secret*"}]}`

func TestEvaluateTable(t *testing.T) {
	home := mustParse(t, idHome, Identity)
	cases := []struct {
		name     string
		p        *Policy
		action   string
		resource string
		c        Context
		want     Effect
	}{
		{"home get", home, "s3:GetObject", "arn:aws:s3:::data/home/alice/a.txt", ctx("issuer.example:sub", "alice"), Allow},
		{"action case-insensitive", home, "S3:getobject", "arn:aws:s3:::data/home/alice/a.txt", ctx("issuer.example:sub", "alice"), Allow},
		{"other home", home, "s3:GetObject", "arn:aws:s3:::data/home/bob/a.txt", ctx("issuer.example:sub", "alice"), ImplicitDeny},
		{"wildcard in claim stays literal", home, "s3:GetObject", "arn:aws:s3:::data/home/bob/a.txt", ctx("issuer.example:sub", "*"), ImplicitDeny},
		{"question mark claim literal", home, "s3:GetObject", "arn:aws:s3:::data/home/bob/a.txt", ctx("issuer.example:sub", "b?b"), ImplicitDeny},
		{"missing variable matches nothing", home, "s3:GetObject", "arn:aws:s3:::data/home//a.txt", ctx(), ImplicitDeny},
		{"deny wins", home, "s3:GetObject", "arn:aws:s3:::data/home/alice/secret.txt", ctx("issuer.example:sub", "alice"), Deny},
		{"deep key under star", home, "s3:PutObject", "arn:aws:s3:::data/home/alice/x/y/z", ctx("issuer.example:sub", "alice"), Allow},
		{"unlisted action", home, "s3:DeleteObject", "arn:aws:s3:::data/home/alice/a.txt", ctx("issuer.example:sub", "alice"), ImplicitDeny},
		{"list own prefix", home, "s3:ListBucket", "arn:aws:s3:::data", ctx("issuer.example:sub", "alice", "s3:prefix", "home/alice/"), Allow},
		{"list root denied", home, "s3:ListBucket", "arn:aws:s3:::data", ctx("issuer.example:sub", "alice", "s3:prefix", ""), ImplicitDeny},
		{"list other prefix", home, "s3:ListBucket", "arn:aws:s3:::data", ctx("issuer.example:sub", "alice", "s3:prefix", "home/bob/"), ImplicitDeny},
		{"list no prefix key", home, "s3:ListBucket", "arn:aws:s3:::data", ctx("issuer.example:sub", "alice"), ImplicitDeny},
	}
	more := []struct {
		doc      string
		action   string
		resource string
		c        Context
		want     Effect
	}{
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:DeleteObject","Resource":"*"}}`, "s3:GetObject", "arn:aws:s3:::b/k", nil, Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:DeleteObject","Resource":"*"}}`, "s3:DeleteObject", "arn:aws:s3:::b/k", nil, ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::private/*"}}`, "s3:GetObject", "arn:aws:s3:::private/k", nil, ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::private/*"}}`, "s3:GetObject", "arn:aws:s3:::public/k", nil, Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/?.txt"}}`, "s3:GetObjectTagging", "arn:aws:s3:::b/é.txt", nil, Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/?.txt"}}`, "s3:GetObject", "arn:aws:s3:::b/ab.txt", nil, ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:SecureTransport", "false"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:SecureTransport", "true"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"x:k":"a*"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:k", "abc"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"x:k":"a*"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:k", "a*"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"x:k":["a","b"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:k", "b"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"x:k":["a","b"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIfExists":{"x:k":"a"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"x:k":"a"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"X:K":"ABC"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:k", "abc"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"x:k":"true"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"x:k":"false"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}}`, "s3:ListBucket", "arn:aws:s3:::b", ctx("s3:max-keys", "10"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}}`, "s3:ListBucket", "arn:aws:s3:::b", ctx("s3:max-keys", "11"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-06-01T00:00:00Z"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:TokenIssueTime", "2026-05-01T00:00:00Z"), Deny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-06-01T00:00:00Z"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:SourceIp", "10.1.2.3"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:SourceIp", "192.0.2.8"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:SourceIp", "::ffff:10.0.0.1"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::000000000000:role/ci-*"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:role/ci-deploy"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"x:groups":["admins"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:groups", "dev", "x:groups", "admins"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"x:groups":["admins"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"x:groups":["a","b"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:groups", "a", "x:groups", "c"), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"x:groups":["a","b"]}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username, 'shared'}/*"}}`, "s3:GetObject", "arn:aws:s3:::b/shared/k", ctx(), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${*}"}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx(), ImplicitDeny},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${*}"}}`, "s3:GetObject", "arn:aws:s3:::b/*", ctx(), Allow},
		{`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username}"}}`, "s3:GetObject", "arn:aws:s3:::b/${aws:username}", ctx("aws:username", "x"), Allow},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"x:b":"aGVsbG8="}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", ctx("x:b", "aGVsbG8="), Allow},
	}
	for i, m := range more {
		cases = append(cases, struct {
			name     string
			p        *Policy
			action   string
			resource string
			c        Context
			want     Effect
		}{name: "doc" + string(rune('A'+i)), p: mustParse(t, m.doc, Identity), action: m.action, resource: m.resource, c: m.c, want: m.want})
	}
	for _, c := range cases {
		if c.c == nil {
			c.c = Context{}
		}
		d := c.p.Evaluate(&Request{Action: c.action, Resource: c.resource, Context: c.c})
		if d.Effect != c.want {
			t.Errorf("%s: %s on %s: got %v (%s), want %v", c.name, c.action, c.resource, d.Effect, d.Explain(), c.want)
		}
	}
}

func TestTrustPolicy(t *testing.T) {
	trust := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	  "Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/token.example/x"},
	  "Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"token.example/x:aud":"sts.amazonaws.com"},"StringLike":{"token.example/x:sub":"repo:octo/*"}}}]}`, Trust)
	fed := &Principal{Federated: "arn:aws:iam::000000000000:oidc-provider/token.example/x"}
	ok := ctx("token.example/x:aud", "sts.amazonaws.com", "token.example/x:sub", "repo:octo/demo:ref:refs/heads/main")
	if d := trust.Evaluate(&Request{Action: "sts:AssumeRoleWithWebIdentity", Principal: fed, Context: ok}); d.Effect != Allow {
		t.Fatalf("trust: %s", d.Explain())
	}
	bad := ctx("token.example/x:aud", "sts.amazonaws.com", "token.example/x:sub", "repo:evil/demo")
	if d := trust.Evaluate(&Request{Action: "sts:AssumeRoleWithWebIdentity", Principal: fed, Context: bad}); d.Effect != ImplicitDeny {
		t.Fatal("sub mismatch allowed")
	}
	other := &Principal{Federated: "arn:aws:iam::000000000000:oidc-provider/other"}
	if d := trust.Evaluate(&Request{Action: "sts:AssumeRoleWithWebIdentity", Principal: other, Context: ok}); d.Effect != ImplicitDeny {
		t.Fatal("other provider allowed")
	}
	if d := trust.Evaluate(&Request{Action: "sts:AssumeRole", Principal: fed, Context: ok}); d.Effect != ImplicitDeny {
		t.Fatal("wrong action allowed")
	}
	users := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["000000000000","arn:aws:iam::000000000000:user/alice"]},"Action":"sts:AssumeRole"}}`, Trust)
	if d := users.Evaluate(&Request{Action: "sts:AssumeRole", Principal: &Principal{AWS: []string{"arn:aws:iam::000000000000:root"}}}); d.Effect != Allow {
		t.Fatal("account principal")
	}
	if d := users.Evaluate(&Request{Action: "sts:AssumeRole", Principal: &Principal{Anonymous: true}}); d.Effect != ImplicitDeny {
		t.Fatal("anonymous matched an account principal")
	}
}

func TestParseRejects(t *testing.T) {
	bad := map[string]string{
		`not json`:                 "not a JSON object",
		`{"Statement":[]}`:         "empty",
		`{"Version":"2012-10-17"}`: "missing Statement",
		`{"Version":"2099-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`:                          "Version",
		`{"Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}`:                                                "Effect",
		`{"Statement":{"Effect":"Allow","Resource":"*"}}`:                                                              "Action",
		`{"Statement":{"Effect":"Allow","Action":"s3","Resource":"*"}}`:                                                "service:action",
		`{"Statement":{"Effect":"Allow","Action":"*"}}`:                                                                "missing Resource",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket/*"}}`:                                          "not an ARN",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}}`:        "unknown condition operator",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"a:b":"true"}}}}`:     "unknown condition operator",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"a:b":"ten"}}}}`:     "not a number",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateEquals":{"a:b":"yesterday"}}}}`:  "not a date",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"a:b":"10.0.0.0/33"}}}}`: "IP",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"a:b":"yes"}}}}`:              "true or false",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"nokey":"x"}}}}`:      "not a condition key",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}`:                                 "Principal is not allowed",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}}`:                                       "unknown element",
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`:                                              "trailing",
	}
	for doc, want := range bad {
		_, err := Parse("p", doc, Identity)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", doc, err, want)
		}
	}
	if _, err := Parse("t", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, Trust); err == nil || !strings.Contains(err.Error(), "missing Principal") {
		t.Errorf("trust without principal: %v", err)
	}
	if _, err := Parse("t", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"sts:AssumeRole"}}`, Trust); err == nil {
		t.Error("wildcard principal ARN accepted")
	}
}
