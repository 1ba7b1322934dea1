package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRevokeRoleSessionsEditsInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	orig := `# keep this comment
roles:
  - name: ci   # the CI role
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::000000000000:user/a"}, Action: "sts:AssumeRole"}]}
  - name: other
    trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::000000000000:user/a"}, Action: "sts:AssumeRole"}]}
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
`
	if err := os.WriteFile(path, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	if err := RevokeRoleSessions(path, "ci", t1); err != nil {
		t.Fatal(err)
	}
	if err := RevokeRoleSessions(path, "other", t1); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(time.Hour)
	if err := RevokeRoleSessions(path, "ci", t2); err != nil { // moves, not duplicates
		t.Fatal(err)
	}
	if err := RevokeRoleSessions(path, "nope", t2); err == nil {
		t.Fatal("unknown role accepted")
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "# keep this comment") || !strings.Contains(string(b), "# the CI role") {
		t.Fatalf("comments lost:\n%s", b)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	revs := c.Revocations()
	if len(revs) != 2 || revs[0].Role != "ci" || revs[0].Before != "2026-11-29T02:00:00Z" || revs[1].Before != "2026-11-29T01:00:00Z" {
		t.Fatalf("revocations %+v", revs)
	}
	if len(c.Roles[1].Policies) != 2 {
		t.Fatalf("other role policies: %d", len(c.Roles[1].Policies))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
}
