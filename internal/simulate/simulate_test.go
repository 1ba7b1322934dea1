package simulate

import (
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/policy"
)

func TestSimulate(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
users:
  - name: alice
    access_key: AKIAALICE00000000000
    secret_key: alice-secret-00000000
    policies:
      - {Version: "2012-10-17", Statement: [{Sid: Home, Effect: Allow, Action: "s3:*", Resource: "arn:aws:s3:::data/home/${aws:username}/*"}]}
roles:
  - name: ci
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::000000000000:user/alice"}, Action: "sts:AssumeRole"}]}
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}, {Sid: TLS, Effect: Deny, Action: "*", Resource: "*", Condition: {Bool: {"aws:SecureTransport": "false"}}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	public := `{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/pub/*"}]}`
	cases := []struct {
		in   Input
		want policy.Effect
		says string
	}{
		{Input{Principal: "arn:aws:iam::000000000000:user/alice", Action: "s3:PutObject", Resource: "arn:aws:s3:::data/home/alice/k"}, policy.Allow, "Sid Home"},
		{Input{Principal: "arn:aws:iam::000000000000:user/alice", Action: "s3:PutObject", Resource: "arn:aws:s3:::data/home/bob/k"}, policy.ImplicitDeny, "no statement allows it"},
		{Input{Principal: "arn:aws:iam::000000000000:role/ci", Action: "s3:GetObject", Resource: "arn:aws:s3:::x/k", Context: map[string]string{"aws:SecureTransport": "true"}}, policy.Allow, "allowed"},
		{Input{Principal: "arn:aws:sts::000000000000:assumed-role/ci/s1", Action: "s3:GetObject", Resource: "arn:aws:s3:::x/k", Context: map[string]string{"aws:SecureTransport": "false"}}, policy.Deny, "Sid TLS"},
		{Input{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::data/pub/a", BucketPolicy: public}, policy.Allow, "Sid Public"},
		{Input{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::data/priv/a", BucketPolicy: public}, policy.ImplicitDeny, ""},
		{Input{Principal: "root", Action: "s3:DeleteBucket", Resource: "arn:aws:s3:::data"}, policy.Allow, "account root"},
	}
	for _, c := range cases {
		var out strings.Builder
		got, err := Run(cfg, c.in, &out)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want || !strings.Contains(out.String(), c.says) {
			t.Errorf("%+v: %v\n%s", c.in, got, out.String())
		}
	}
	if _, err := Run(cfg, Input{Principal: "arn:aws:iam::000000000000:user/nobody", Action: "s3:GetObject", Resource: "*"}, &strings.Builder{}); err == nil {
		t.Fatal("unknown user accepted")
	}
}
