package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RevokeSid marks the policy that revokes a role's sessions.
const RevokeSid = "CairnRevokeSessions"

// revocationPolicy denies everything to sessions issued before t: the AWS
// way to revoke temporary credentials without state.
func revocationPolicy(t time.Time) string {
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": RevokeSid, "Effect": "Deny", "Action": "*", "Resource": "*",
		"Condition": map[string]any{"DateLessThan": map[string]any{"aws:TokenIssueTime": t.UTC().Format(time.RFC3339)}}}}}
	b, _ := json.Marshal(doc)
	return string(b)
}

// RevokeRoleSessions edits the config file so that every session of role
// issued before `before` is denied everything: it adds (or moves) one
// inline deny on aws:TokenIssueTime. The file keeps its comments; the
// result is validated before it replaces the file. Gateways apply it on
// reload (SIGHUP).
func RevokeRoleSessions(path, role string, before time.Time) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: not a YAML mapping", path)
	}
	roleNode := findRole(doc.Content[0], role)
	if roleNode == nil {
		return fmt.Errorf("config %s: no role named %q", path, role)
	}
	policies := mapValue(roleNode, "policies")
	if policies == nil {
		roleNode.Content = append(roleNode.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "policies"}, &yaml.Node{Kind: yaml.SequenceNode})
		policies = roleNode.Content[len(roleNode.Content)-1]
	}
	entry := &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.SingleQuotedStyle, Value: revocationPolicy(before)}
	replaced := false
	for i, p := range policies.Content {
		if nodeMentions(p, RevokeSid) {
			policies.Content[i] = entry
			replaced = true
		}
	}
	if !replaced {
		policies.Content = append(policies.Content, entry)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if _, err := Parse(path, buf.Bytes()); err != nil {
		return fmt.Errorf("edited config does not validate, left unchanged: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func findRole(root *yaml.Node, name string) *yaml.Node {
	roles := mapValue(root, "roles")
	if roles == nil || roles.Kind != yaml.SequenceNode {
		return nil
	}
	for _, r := range roles.Content {
		if n := mapValue(r, "name"); n != nil && n.Value == name {
			return r
		}
	}
	return nil
}

func nodeMentions(n *yaml.Node, s string) bool {
	if n.Kind == yaml.ScalarNode {
		return strings.Contains(n.Value, s)
	}
	for _, c := range n.Content {
		if nodeMentions(c, s) {
			return true
		}
	}
	return false
}

// Revocation is a role's session revocation found in a config.
type Revocation struct {
	Role   string
	Before string // RFC 3339
}

// Revocations lists the roles whose sessions are revoked, with the time
// before which sessions are denied.
func (c *Config) Revocations() []Revocation {
	var out []Revocation
	for _, r := range c.Roles {
		for _, p := range r.Policies {
			if !strings.Contains(p.Text, RevokeSid) {
				continue
			}
			var doc struct {
				Statement []struct {
					Sid       string
					Condition map[string]map[string]string
				}
			}
			if json.Unmarshal([]byte(p.Text), &doc) == nil {
				for _, s := range doc.Statement {
					if s.Sid == RevokeSid {
						out = append(out, Revocation{Role: r.Name, Before: s.Condition["DateLessThan"]["aws:TokenIssueTime"]})
					}
				}
			}
		}
	}
	return out
}
