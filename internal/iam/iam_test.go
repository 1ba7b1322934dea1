package iam_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/internal/testserver"
)

var ctx = context.Background()

func client(s *testserver.Server, ak, sk string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), HTTPClient: s.HTTPClient(), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
}

// must and wantErr are the shared test assertions, under short names.
var must, wantErr = testserver.Must, testserver.WantErr

const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`

func TestIAMWithSDK(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, Config: `
users:
  - name: operator
    access_key: AKIAOPERATOR00000000
    secret_key: operator-secret-000000
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["iam:CreateUser", "iam:GetUser"], Resource: "*"}]}
`})
	root := client(s, testserver.RootAccessKey, testserver.RootSecretKey)
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("erin")})
	must(t, err)
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("erin")})
	wantErr(t, err, "EntityAlreadyExists", 409)
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name")})
	wantErr(t, err, "ValidationError", 400)
	_, err = root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantErr(t, err, "NoSuchEntity", 404)
	k1, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("erin")})
	must(t, err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("erin")})
	must(t, err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("erin")})
	wantErr(t, err, "LimitExceeded", 409)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("erin"), PolicyName: aws.String("all"), PolicyDocument: aws.String(doc)})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("erin"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":"x"}`)})
	wantErr(t, err, "MalformedPolicyDocument", 400)
	got, err := root.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("erin"), PolicyName: aws.String("all")})
	must(t, err)
	if !strings.Contains(*got.PolicyDocument, "s3") {
		t.Fatalf("policy document %q", *got.PolicyDocument)
	}
	// The key works, then stops when made inactive.
	ak, sk := *k1.AccessKey.AccessKeyId, *k1.AccessKey.SecretAccessKey
	s3c := s.ClientWith(ak, sk, true)
	_, err = s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err)
	_, err = root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("erin"), AccessKeyId: aws.String(ak), Status: types.StatusTypeInactive})
	must(t, err)
	_, err = s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidAccessKeyId") {
		t.Fatalf("inactive key: %v", err)
	}
	keys, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("erin")})
	must(t, err)
	if len(keys.AccessKeyMetadata) != 2 || keys.AccessKeyMetadata[0].Status != types.StatusTypeInactive {
		t.Fatalf("keys %+v", keys.AccessKeyMetadata)
	}
	// A user needs iam: permissions, action by action.
	op := client(s, "AKIAOPERATOR00000000", "operator-secret-000000")
	_, err = op.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("frank")})
	must(t, err)
	_, err = op.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("frank")})
	wantErr(t, err, "AccessDenied", 403)
	// Config identities are read-only.
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("operator")})
	wantErr(t, err, "UnmodifiableEntity", 400)
	// Roles and attached managed policies.
	_, err = root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r1"), MaxSessionDuration: aws.Int32(7200),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/erin"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err)
	pol, err := root.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p1"), PolicyDocument: aws.String(doc)})
	must(t, err)
	_, err = root.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r1"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	gp, err := root.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: pol.Policy.Arn})
	must(t, err)
	if *gp.Policy.AttachmentCount != 1 {
		t.Fatalf("attachment count %d", *gp.Policy.AttachmentCount)
	}
	_, err = root.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: pol.Policy.Arn})
	wantErr(t, err, "DeleteConflict", 409)
	_, err = root.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("r1"), MaxSessionDuration: aws.Int32(100)})
	wantErr(t, err, "ValidationError", 400)
	r, err := root.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r1")})
	must(t, err)
	if *r.Role.MaxSessionDuration != 7200 || !strings.HasPrefix(*r.Role.RoleId, "AROA") {
		t.Fatalf("role %+v", r.Role)
	}
	roles, err := root.ListRoles(ctx, &iam.ListRolesInput{})
	must(t, err)
	if len(roles.Roles) != 1 {
		t.Fatalf("roles %d", len(roles.Roles))
	}
}
