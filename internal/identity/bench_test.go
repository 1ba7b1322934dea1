package identity

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/policy"
)

// tenStatements builds a policy of 10 statements; with conditions each
// carries a string and an IP condition (and the last allows the request).
func tenStatements(t testing.TB, kind policy.Kind, conditions bool) *policy.Policy {
	var stmts []string
	for i := 0; i < 10; i++ {
		res := fmt.Sprintf("arn:aws:s3:::bucket-%d/prefix-%d/*", i, i)
		if i == 9 {
			res = "arn:aws:s3:::data/home/${aws:username}/*"
		}
		s := fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":%q`, i, res)
		if kind != policy.Identity {
			s += `,"Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"}`
		}
		if conditions {
			s += `,"Condition":{"StringLike":{"s3:prefix":["home/*","shared/*"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]},"Bool":{"aws:SecureTransport":"true"}}`
			if i == 9 {
				s = strings.Replace(s, `"StringLike":{"s3:prefix":["home/*","shared/*"]},`, "", 1)
			}
		}
		stmts = append(stmts, s+"}")
	}
	p, err := policy.Parse("bench", `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`, kind)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BenchmarkDecide: a user with a 10-statement policy and a bucket with a
// 10-statement policy; the allowing statement is the last of each.
func BenchmarkDecide(b *testing.B) {
	for _, cond := range []bool{false, true} {
		name := "no-conditions"
		if cond {
			name = "conditions"
		}
		b.Run(name, func(b *testing.B) {
			p := &Principal{Type: TypeUser, Account: "000000000000", Name: "alice", ARN: "arn:aws:iam::000000000000:user/alice",
				UserID: "AIDAEXAMPLE", Policies: []*policy.Policy{tenStatements(b, policy.Identity, cond)}}
			bp := tenStatements(b, policy.Resource, cond)
			ctx := policy.Context{}
			p.AddContext(ctx)
			ctx.Set("aws:SourceIp", "10.1.2.3")
			ctx.Set("aws:SecureTransport", "true")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d := Authorize(p, bp, &policy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::data/home/alice/file.txt", Context: ctx})
				if d.Effect != policy.Allow {
					b.Fatal(d.Explain())
				}
			}
		})
	}
}
