package policy

import (
	"fmt"
	"testing"
)

// cond builds an identity policy with one statement allowing s3:GetObject
// on everything under one condition.
func cond(op, key string, values string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{%q:{%q:%s}}}]}`, op, key, values)
}

// A compact table: every operator with a match, a mismatch and an absent
// key, plus the IfExists and set forms.
func TestConditionOperatorTable(t *testing.T) {
	type row struct {
		doc  string
		c    Context
		want Effect
	}
	A, N := Allow, ImplicitDeny
	rows := []row{
		// String family.
		{cond("StringEquals", "x:k", `"v"`), ctx("x:k", "v"), A},
		{cond("StringEquals", "x:k", `"v"`), ctx("x:k", "V"), N},
		{cond("StringEquals", "x:k", `["a","v"]`), ctx("x:k", "v"), A},
		{cond("StringEquals", "X:K", `"v"`), ctx("x:k", "v"), A}, // key names are case-insensitive
		{cond("StringNotEquals", "x:k", `"v"`), ctx("x:k", "w"), A},
		{cond("StringNotEquals", "x:k", `"v"`), ctx("x:k", "v"), N},
		{cond("StringNotEquals", "x:k", `"v"`), ctx(), A},
		{cond("StringEqualsIgnoreCase", "x:k", `"VaLuE"`), ctx("x:k", "value"), A},
		{cond("StringEqualsIgnoreCase", "x:k", `"VaLuE"`), ctx("x:k", "valuex"), N},
		{cond("StringNotEqualsIgnoreCase", "x:k", `"ABC"`), ctx("x:k", "abc"), N},
		{cond("StringNotEqualsIgnoreCase", "x:k", `"ABC"`), ctx("x:k", "abd"), A},
		{cond("StringLike", "x:k", `"home/*"`), ctx("x:k", "home/a/b"), A},
		{cond("StringLike", "x:k", `"home/*"`), ctx("x:k", "homer"), N},
		{cond("StringLike", "x:k", `"a?c"`), ctx("x:k", "abc"), A},
		{cond("StringLike", "x:k", `"a?c"`), ctx("x:k", "ac"), N},
		{cond("StringLike", "x:k", `"*"`), ctx(), N},
		{cond("StringNotLike", "x:k", `"tmp/*"`), ctx("x:k", "tmp/x"), N},
		{cond("StringNotLike", "x:k", `"tmp/*"`), ctx("x:k", "keep/x"), A},
		{cond("StringNotLike", "x:k", `"tmp/*"`), ctx(), A},
		{cond("StringEqualsIfExists", "x:k", `"v"`), ctx("x:k", "w"), N},
		{cond("StringLikeIfExists", "x:k", `"v*"`), ctx(), A},
		{cond("StringLikeIfExists", "x:k", `"v*"`), ctx("x:k", "vv"), A},
		// Numeric family.
		{cond("NumericEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "10"), A},
		{cond("NumericEquals", "s3:max-keys", `10`), ctx("s3:max-keys", "10.0"), A},
		{cond("NumericEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "11"), N},
		{cond("NumericNotEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "11"), A},
		{cond("NumericNotEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "10"), N},
		{cond("NumericLessThan", "s3:max-keys", `"10"`), ctx("s3:max-keys", "9"), A},
		{cond("NumericLessThan", "s3:max-keys", `"10"`), ctx("s3:max-keys", "10"), N},
		{cond("NumericLessThanEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "10"), A},
		{cond("NumericGreaterThan", "s3:max-keys", `"10"`), ctx("s3:max-keys", "10.5"), A},
		{cond("NumericGreaterThan", "s3:max-keys", `"10"`), ctx("s3:max-keys", "2"), N},
		{cond("NumericGreaterThanEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "10"), A},
		{cond("NumericGreaterThanEquals", "s3:max-keys", `"10"`), ctx("s3:max-keys", "not a number"), N},
		{cond("NumericLessThan", "s3:max-keys", `"10"`), ctx(), N},
		{cond("NumericLessThanIfExists", "s3:max-keys", `"10"`), ctx(), A},
		// Date family.
		{cond("DateEquals", "aws:CurrentTime", `"2026-01-01T00:00:00Z"`), ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), A},
		{cond("DateEquals", "aws:CurrentTime", `"1767225600"`), ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), A}, // epoch seconds
		{cond("DateNotEquals", "aws:CurrentTime", `"2026-01-01T00:00:00Z"`), ctx("aws:CurrentTime", "2026-01-02T00:00:00Z"), A},
		{cond("DateLessThan", "aws:CurrentTime", `"2026-01-01T00:00:00Z"`), ctx("aws:CurrentTime", "2025-12-31T23:59:59Z"), A},
		{cond("DateLessThan", "aws:CurrentTime", `"2026-01-01T00:00:00Z"`), ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), N},
		{cond("DateLessThanEquals", "aws:CurrentTime", `"2026-01-01"`), ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), A},
		{cond("DateGreaterThan", "aws:CurrentTime", `"2026-01-01T00:00:00+02:00"`), ctx("aws:CurrentTime", "2025-12-31T23:00:00Z"), A},
		{cond("DateGreaterThanEquals", "aws:EpochTime", `"1767225600"`), ctx("aws:EpochTime", "1767225599"), N},
		{cond("DateGreaterThan", "aws:CurrentTime", `"2026-01-01T00:00:00Z"`), ctx(), N},
		{cond("DateLessThanIfExists", "aws:TokenIssueTime", `"2026-01-01T00:00:00Z"`), ctx(), A},
		// Bool, Binary, Null.
		{cond("Bool", "aws:SecureTransport", `"true"`), ctx("aws:SecureTransport", "true"), A},
		{cond("Bool", "aws:SecureTransport", `true`), ctx("aws:SecureTransport", "false"), N},
		{cond("Bool", "aws:SecureTransport", `"false"`), ctx(), N},
		{cond("BoolIfExists", "aws:MultiFactorAuthPresent", `"true"`), ctx(), A},
		{cond("BinaryEquals", "x:b", `"aGk="`), ctx("x:b", "aGk="), A},
		{cond("BinaryEquals", "x:b", `"aGk="`), ctx("x:b", "aG8="), N},
		{cond("Null", "aws:TokenIssueTime", `"true"`), ctx(), A},
		{cond("Null", "aws:TokenIssueTime", `"true"`), ctx("aws:TokenIssueTime", "2026-01-01T00:00:00Z"), N},
		{cond("Null", "aws:TokenIssueTime", `"false"`), ctx("aws:TokenIssueTime", "2026-01-01T00:00:00Z"), A},
		// IP family.
		{cond("IpAddress", "aws:SourceIp", `"203.0.113.0/24"`), ctx("aws:SourceIp", "203.0.113.9"), A},
		{cond("IpAddress", "aws:SourceIp", `"203.0.113.0/24"`), ctx("aws:SourceIp", "203.0.114.9"), N},
		{cond("IpAddress", "aws:SourceIp", `"2001:db8::/32"`), ctx("aws:SourceIp", "2001:db8::1"), A},
		{cond("IpAddress", "aws:SourceIp", `"2001:db8::/32"`), ctx("aws:SourceIp", "203.0.113.9"), N},
		{cond("IpAddress", "aws:SourceIp", `"203.0.113.7"`), ctx("aws:SourceIp", "203.0.113.7"), A},
		{cond("IpAddress", "aws:SourceIp", `"203.0.113.0/24"`), ctx("aws:SourceIp", "garbage"), N},
		{cond("NotIpAddress", "aws:SourceIp", `["10.0.0.0/8","192.168.0.0/16"]`), ctx("aws:SourceIp", "203.0.113.9"), A},
		{cond("NotIpAddress", "aws:SourceIp", `["10.0.0.0/8","192.168.0.0/16"]`), ctx("aws:SourceIp", "192.168.1.1"), N},
		{cond("IpAddressIfExists", "aws:SourceIp", `"10.0.0.0/8"`), ctx(), A},
		// ARN family.
		{cond("ArnEquals", "aws:PrincipalArn", `"arn:aws:iam::000000000000:role/r"`), ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:role/r"), A},
		{cond("ArnEquals", "aws:PrincipalArn", `"arn:aws:iam::000000000000:role/r"`), ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:role/q"), N},
		{cond("ArnLike", "aws:PrincipalArn", `"arn:aws:iam::*:role/ci-*"`), ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:role/ci-x"), A},
		{cond("ArnLike", "aws:PrincipalArn", `"arn:aws:iam::*:role/ci-*"`), ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:user/ci-x"), N},
		{cond("ArnNotEquals", "aws:PrincipalArn", `"arn:aws:iam::000000000000:role/r"`), ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:role/q"), A},
		{cond("ArnNotLike", "aws:PrincipalArn", `"arn:aws:iam::*:role/*"`), ctx("aws:PrincipalArn", "arn:aws:iam::000000000000:role/q"), N},
		{cond("ArnNotLike", "aws:PrincipalArn", `"arn:aws:iam::*:role/*"`), ctx(), A},
		{cond("ArnLikeIfExists", "aws:SourceArn", `"arn:aws:sns:*"`), ctx(), A},
		// Set operators on multivalued keys.
		{cond("ForAnyValue:StringLike", "aws:TagKeys", `["team*"]`), Context{"aws:tagkeys": {"owner", "team-a"}}, A},
		{cond("ForAnyValue:StringLike", "aws:TagKeys", `["team*"]`), Context{"aws:tagkeys": {"owner"}}, N},
		{cond("ForAnyValue:StringLike", "aws:TagKeys", `["team*"]`), Context{"aws:tagkeys": {}}, N},
		{cond("ForAllValues:StringEquals", "aws:TagKeys", `["a","b"]`), Context{"aws:tagkeys": {"a", "b"}}, A},
		{cond("ForAllValues:StringEquals", "aws:TagKeys", `["a","b"]`), Context{"aws:tagkeys": {"a", "z"}}, N},
		{cond("ForAllValues:StringEquals", "aws:TagKeys", `["a","b"]`), Context{"aws:tagkeys": {}}, A},
		{cond("ForAnyValue:StringNotEquals", "x:groups", `["guest"]`), Context{"x:groups": {"guest", "dev"}}, A},
		{cond("ForAllValues:StringNotEquals", "x:groups", `["guest"]`), Context{"x:groups": {"guest", "dev"}}, N},
		{cond("ForAnyValue:StringEqualsIfExists", "x:groups", `["admin"]`), Context{"x:groups": {"admin"}}, A},
		// Policy variables in condition values, with hostile values.
		{cond("StringEquals", "s3:prefix", `"home/${aws:username}/"`), ctx("s3:prefix", "home/alice/", "aws:username", "alice"), A},
		{cond("StringEquals", "s3:prefix", `"home/${aws:username}/"`), ctx("s3:prefix", "home/bob/", "aws:username", "alice"), N},
		{cond("StringLike", "s3:prefix", `"home/${aws:username}/*"`), ctx("s3:prefix", "home/x/y", "aws:username", "*"), N},
		{cond("StringLike", "s3:prefix", `"home/${aws:username}/*"`), ctx("s3:prefix", "home/*/y", "aws:username", "*"), A},
		{cond("StringLike", "s3:prefix", `"home/${aws:username}/*"`), ctx("s3:prefix", "home/ab/y", "aws:username", "a?"), N},
		{cond("StringLike", "s3:prefix", `"home/${aws:username}/*"`), ctx("s3:prefix", "home/x/y"), N}, // variable missing
		{cond("StringNotLike", "s3:prefix", `"home/${aws:username}/*"`), ctx("s3:prefix", "home/x/y"), A},
		{cond("StringEquals", "s3:prefix", `"home/${aws:username, 'shared'}/"`), ctx("s3:prefix", "home/shared/"), A},
		{cond("StringEquals", "x:k", `"${$}{aws:username}"`), ctx("x:k", "${aws:username}", "aws:username", "alice"), A},
		{cond("StringEquals", "x:k", `"a${*}b"`), ctx("x:k", "a*b"), A},
		{cond("StringLike", "x:k", `"a${*}b"`), ctx("x:k", "axb"), N},
		{cond("StringEquals", "x:k", `"${aws:PrincipalTag/team}"`), ctx("x:k", "storage", "aws:PrincipalTag/team", "storage"), A},
		{cond("StringEquals", "x:k", `"${issuer.example/x:sub}"`), ctx("x:k", "repo:o/r", "issuer.example/x:sub", "repo:o/r"), A},
		{cond("StringEquals", "x:k", `"${x:multi}"`), Context{"x:k": {"a"}, "x:multi": {"a", "b"}}, N}, // multivalued keys are not variables
	}
	for i, r := range rows {
		p, err := Parse("t", r.doc, Identity)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if d := p.Evaluate(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: r.c}); d.Effect != r.want {
			t.Errorf("row %d %s with %v: got %v, want %v", i, r.doc, r.c, d.Effect, r.want)
		}
	}
	t.Logf("%d condition rows", len(rows))
}

// Action, resource and principal matching, and how statements and policies
// combine.
func TestMatchingAndCombinationTable(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	type row struct {
		docs     []string
		kind     Kind
		action   string
		resource string
		pr       *Principal
		want     Effect
	}
	A, N, D := Allow, ImplicitDeny, Deny
	anyone := &Principal{Anonymous: true}
	alice := &Principal{AWS: []string{"arn:aws:iam::000000000000:user/alice"}}
	sess := &Principal{AWS: []string{"arn:aws:sts::000000000000:assumed-role/r/s", "arn:aws:iam::000000000000:role/r"}}
	rows := []row{
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`)}, Identity, "s3:PutObject", "arn:aws:s3:::b/k", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}`)}, Identity, "s3:PutObject", "arn:aws:s3:::b/k", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:*Object","Resource":"*"}`)}, Identity, "s3:DeleteObject", "arn:aws:s3:::b/k", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:*Object","Resource":"*"}`)}, Identity, "s3:DeleteObjectTagging", "arn:aws:s3:::b/k", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}, Identity, "sts:AssumeRole", "arn:aws:iam::000000000000:role/r", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/k", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/a/b/c", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::bb/k", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::B/k", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}`)}, Identity, "s3:ListBucket", "arn:aws:s3:::b", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}`)}, Identity, "s3:ListBucket", "arn:aws:s3:::b2", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*.jpg"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/x/y.jpg", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*.jpg"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/x/y.png", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::x/*","arn:aws:s3:::b/*"]}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/k", nil, A},
		{[]string{stmt(`{"Effect":"Allow","NotAction":["s3:Delete*","s3:Put*"],"Resource":"*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/k", nil, A},
		{[]string{stmt(`{"Effect":"Allow","NotAction":["s3:Delete*","s3:Put*"],"Resource":"*"}`)}, Identity, "s3:PutObjectTagging", "arn:aws:s3:::b/k", nil, N},
		{[]string{stmt(`{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}`)}, Identity, "s3:PutObject", "arn:aws:s3:::b/k", nil, D},
		{[]string{stmt(`{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/k", nil, A},
		{[]string{stmt(`{"Effect":"Allow","Action":"*","NotResource":["arn:aws:s3:::secret","arn:aws:s3:::secret/*"]}`)}, Identity, "s3:GetObject", "arn:aws:s3:::secret/k", nil, N},
		{[]string{stmt(`{"Effect":"Allow","Action":"*","NotResource":["arn:aws:s3:::secret","arn:aws:s3:::secret/*"]}`)}, Identity, "s3:GetObject", "arn:aws:s3:::public/k", nil, A},
		{[]string{stmt(`{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::only/*"},{"Effect":"Allow","Action":"*","Resource":"*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::other/k", nil, D},
		// Deny wins across policies, in any order.
		{[]string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`), stmt(`{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}`)}, Identity, "s3:DeleteObject", "arn:aws:s3:::b/k", nil, D},
		{[]string{stmt(`{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}`), stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}, Identity, "s3:DeleteObject", "arn:aws:s3:::b/k", nil, D},
		{[]string{stmt(`{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}`), stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}, Identity, "s3:GetObject", "arn:aws:s3:::b/k", nil, A},
		{[]string{}, Identity, "s3:GetObject", "arn:aws:s3:::b/k", nil, N},
		// Principals in resource policies.
		{[]string{stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", anyone, A},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", anyone, A},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", alice, A},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", anyone, N},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", sess, N},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/r"},"Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", sess, A},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::000000000000:assumed-role/r/s"},"Action":"s3:GetObject","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", sess, A},
		{[]string{stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"*","Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", alice, A},
		{[]string{stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"*","Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`)}, Resource, "s3:GetObject", "arn:aws:s3:::b/k", anyone, D},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/idp"},"Action":"sts:AssumeRoleWithWebIdentity"}`)}, Trust, "sts:AssumeRoleWithWebIdentity", "", &Principal{Federated: "arn:aws:iam::000000000000:oidc-provider/idp"}, A},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/idp"},"Action":"sts:AssumeRoleWithWebIdentity"}`)}, Trust, "sts:AssumeRoleWithWebIdentity", "", &Principal{Federated: "arn:aws:iam::000000000000:oidc-provider/idp2"}, N},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::000000000000:oidc-provider/idp"},"Action":"sts:AssumeRoleWithWebIdentity"}`)}, Trust, "sts:AssumeRoleWithWebIdentity", "", anyone, N},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"sts:AssumeRole"}`)}, Trust, "sts:AssumeRole", "", &Principal{AWS: []string{"arn:aws:iam::000000000000:root"}}, A},
		{[]string{stmt(`{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"sts:AssumeRole"}`)}, Trust, "sts:AssumeRole", "", alice, N},
	}
	for i, r := range rows {
		var ps []*Policy
		for _, d := range r.docs {
			p, err := Parse("t", d, r.kind)
			if err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
			ps = append(ps, p)
		}
		d := Evaluate(ps, &Request{Action: r.action, Resource: r.resource, Principal: r.pr, Context: Context{}})
		if d.Effect != r.want {
			t.Errorf("row %d %v %s %s: got %v (%s), want %v", i, r.docs, r.action, r.resource, d.Effect, d.Explain(), r.want)
		}
	}
	t.Logf("%d matching rows", len(rows))
}
