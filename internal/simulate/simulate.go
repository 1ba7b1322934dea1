// Package simulate answers "would this request be allowed, and why"
// offline, from a config file and an optional bucket policy, with the same
// function the server runs (identity.Authorize): the cairn counterpart of
// IAM's SimulatePrincipalPolicy.
package simulate

import (
	"fmt"
	"io"
	"strings"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/policy"
)

// Input describes the request to simulate.
type Input struct {
	Principal    string // "root", "anonymous", a user ARN, a role ARN or an assumed-role ARN
	Action       string
	Resource     string
	BucketPolicy string            // JSON, optional
	Context      map[string]string // condition keys (a key given twice is not supported)
}

// Run prints the decision and the policies that made it; it returns the
// effect.
func Run(cfg *config.Config, in Input, out io.Writer) (policy.Effect, error) {
	dir, err := identity.NewDirectory(cfg, "AKIASIMULATEDROOT000", "simulated")
	if err != nil {
		return policy.ImplicitDeny, err
	}
	p, err := principal(dir, in.Principal)
	if err != nil {
		return policy.ImplicitDeny, err
	}
	var bp *policy.Policy
	if in.BucketPolicy != "" {
		if bp, err = policy.Parse("bucket policy", in.BucketPolicy, policy.Resource); err != nil {
			return policy.ImplicitDeny, err
		}
	}
	ctx := policy.Context{}
	if p != nil {
		p.AddContext(ctx)
	}
	for k, v := range in.Context {
		ctx.Set(k, v)
	}
	req := &policy.Request{Action: in.Action, Resource: in.Resource, Context: ctx}
	d := identity.Authorize(p, bp, req)
	who := "anonymous"
	if p != nil {
		who = p.ARN
	}
	fmt.Fprintf(out, "principal: %s\naction:    %s\nresource:  %s\ndecision:  %s\nbecause:   %s\n", who, in.Action, in.Resource, d.Effect, d.Explain())
	if p != nil && !p.Root() {
		fmt.Fprintln(out, "\nidentity policies:")
		for _, x := range p.Policies {
			r := &policy.Request{Action: in.Action, Resource: in.Resource, Context: ctx}
			e := x.Evaluate(r)
			fmt.Fprintf(out, "  %-50s %s %s\n", x.Name, e.Effect, e.Statement)
		}
		if len(p.Policies) == 0 {
			fmt.Fprintln(out, "  (none: nothing is allowed by identity)")
		}
	}
	if bp != nil {
		r := &policy.Request{Action: in.Action, Resource: in.Resource, Context: ctx, Principal: &policy.Principal{Anonymous: true}}
		if p != nil {
			r.Principal = p.PolicyPrincipal()
		}
		e := bp.Evaluate(r)
		fmt.Fprintf(out, "\nbucket policy: %s %s\n", e.Effect, e.Statement)
	}
	return d.Effect, nil
}

// principal resolves the simulated caller. A role (or assumed-role) ARN
// stands for a session of that role without a session policy.
func principal(dir *identity.Directory, arn string) (*identity.Principal, error) {
	acct := dir.Account
	switch {
	case arn == "anonymous":
		return nil, nil
	case arn == "root" || arn == "arn:aws:iam::"+acct+":root":
		p, _ := dir.Static("AKIASIMULATEDROOT000")
		return p, nil
	case strings.HasPrefix(arn, "arn:aws:iam::"+acct+":user/"):
		p, ok := dir.User(strings.TrimPrefix(arn, "arn:aws:iam::"+acct+":user/"))
		if !ok {
			return nil, fmt.Errorf("no user %s in the config", arn)
		}
		return p, nil
	}
	roleName, session := "", "simulated"
	if r, ok := strings.CutPrefix(arn, "arn:aws:iam::"+acct+":role/"); ok {
		roleName = r
	} else if r, ok := strings.CutPrefix(arn, "arn:aws:sts::"+acct+":assumed-role/"); ok {
		roleName, session, _ = strings.Cut(r, "/")
	} else {
		return nil, fmt.Errorf("principal %q: want root, anonymous, or a user, role or assumed-role ARN of account %s", arn, acct)
	}
	role, ok := dir.Role(roleName)
	if !ok {
		return nil, fmt.Errorf("no role %s in the config", roleName)
	}
	return &identity.Principal{Type: identity.TypeAssumedRole, Account: acct, Name: role.Name, RoleARN: role.ARN, SessionName: session,
		ARN: "arn:aws:sts::" + acct + ":assumed-role/" + role.Name + "/" + session, UserID: role.ID + ":" + session,
		Policies: role.Policies, Keys: policy.Context{}}, nil
}
