// Package identity owns who a request acts as: the root credentials, static
// users from the config, and the lookup from an access key to its secret
// and principal that signature verification needs.
package identity

import (
	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/s3err"
)

// AccountID is the account every identity belongs to until accounts are
// configurable.
const AccountID = "000000000000"

// Principal is an authenticated identity.
type Principal struct {
	// Name is the user name ("root" for the root credentials).
	Name string
	// ARN is the principal's ARN.
	ARN       string
	AccessKey string
	secret    string
}

// Root reports whether p is the account root.
func (p *Principal) Root() bool { return p.Name == "root" }

// Static holds long-lived credentials: root and the config's users.
// It is immutable after construction and safe for concurrent use.
type Static struct {
	byKey map[string]*Principal
}

// NewStatic builds the credential set.
func NewStatic(rootAccessKey, rootSecret string, users []config.User) *Static {
	s := &Static{byKey: make(map[string]*Principal, len(users)+1)}
	s.byKey[rootAccessKey] = &Principal{Name: "root", ARN: "arn:aws:iam::" + AccountID + ":root", AccessKey: rootAccessKey, secret: rootSecret}
	for _, u := range users {
		s.byKey[u.AccessKey] = &Principal{Name: u.Name, ARN: "arn:aws:iam::" + AccountID + ":user/" + u.Name, AccessKey: u.AccessKey, secret: u.SecretKey}
	}
	return s
}

// SecretKey implements sigv4.Credentials.
func (s *Static) SecretKey(accessKey, sessionToken string) (string, error) {
	p, ok := s.byKey[accessKey]
	if !ok {
		return "", s3err.InvalidAccessKeyID.With("AWSAccessKeyId", accessKey).Because("unknown access key " + accessKey)
	}
	if sessionToken != "" {
		// Long-lived keys take no session token; AWS rejects the pair.
		return "", s3err.New("InvalidToken", "The provided token is malformed or otherwise invalid.").Because("session token sent with long-lived key " + accessKey)
	}
	return p.secret, nil
}

// Principal returns the principal of a verified access key.
func (s *Static) Principal(accessKey string) *Principal { return s.byKey[accessKey] }
