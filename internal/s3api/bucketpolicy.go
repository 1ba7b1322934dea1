package s3api

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/s3err"
)

// maxBucketPolicy is S3's limit on a bucket policy document.
const maxBucketPolicy = 20 << 10

// policyCache holds compiled bucket policies: a request never parses JSON.
// Entries change only through this server's Put/DeleteBucketPolicy and
// DeleteBucket (gateways sharing a store would need a shared notification;
// see docs/policy.md).
type policyCache struct {
	mu sync.RWMutex
	m  map[string]*policy.Policy // nil value: the bucket has no policy
}

func (c *policyCache) get(bucket string) (*policy.Policy, bool) {
	c.mu.RLock()
	p, ok := c.m[bucket]
	c.mu.RUnlock()
	return p, ok
}

func (c *policyCache) set(bucket string, p *policy.Policy) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*policy.Policy{}
	}
	c.m[bucket] = p
	c.mu.Unlock()
}

func (c *policyCache) drop(bucket string) {
	c.mu.Lock()
	delete(c.m, bucket)
	c.mu.Unlock()
}

// bucketPolicy returns a bucket's compiled policy, or nil.
func (s *Server) bucketPolicy(ctx context.Context, bucket string) *policy.Policy {
	if bucket == "" {
		return nil
	}
	if p, ok := s.policies.get(bucket); ok {
		return p
	}
	b, err := s.store.GetBucket(ctx, bucket)
	if err != nil {
		return nil // a missing bucket has no policy; the operation reports it
	}
	var p *policy.Policy
	if b.Policy != "" {
		p, err = policy.Parse("bucket policy of "+bucket, b.Policy, policy.Resource)
		if err != nil {
			// It was valid when stored; refuse rather than ignore it.
			s.log.Error("stored bucket policy no longer parses", "bucket", bucket, "err", err)
			p = denyAll
		}
	}
	s.policies.set(bucket, p)
	return p
}

// denyAll stands in for a stored policy that cannot be compiled.
var denyAll, _ = policy.Parse("unreadable bucket policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}`, policy.Resource)

// bucketOf is the bucket of an S3 ARN.
func bucketOf(resource string) string {
	r, ok := strings.CutPrefix(resource, "arn:aws:s3:::")
	if !ok {
		return ""
	}
	b, _, _ := strings.Cut(r, "/")
	return b
}

// decide builds the request context (only when a policy can read it) and
// runs the one authorization function, identity.Authorize.
func (s *Server) decide(req *request, action, resource string) policy.Decision {
	p := req.principal
	bp := s.bucketPolicy(req.Context(), bucketOf(resource))
	if req.context == nil {
		if (p != nil && p.NeedsContext()) || (bp != nil && bp.UsesContext()) || p == nil {
			existing := (bp != nil && bp.ReadsKeyWithPrefix("s3:existingobjecttag/")) || (p != nil && p.ReadsKeyWithPrefix("s3:existingobjecttag/"))
			req.context = s.requestContext(req, existing)
		} else {
			req.context = emptyContext // no condition or variable can read it
		}
	}
	return identity.Authorize(p, bp, &policy.Request{Action: action, Resource: resource, Context: req.context})
}

func (s *Server) putBucketPolicy(w http.ResponseWriter, req *request) error {
	body, err := readBody(req.Body, maxBucketPolicy)
	if err != nil {
		if e, ok := err.(*s3err.Error); ok && e.Code == "MaxMessageLengthExceeded" {
			return s3err.New("MalformedPolicy", "Policies must be less than 20 KB")
		}
		return err
	}
	if len(body) == 0 {
		return s3err.MissingRequestBody
	}
	p, err := policy.Parse("bucket policy of "+req.bucket, string(body), policy.Resource)
	if err != nil {
		return s3err.New("MalformedPolicy", err.Error())
	}
	if err := checkPolicyResources(p, req.bucket); err != nil {
		return err
	}
	if err := s.store.SetBucketPolicy(req.Context(), req.bucket, string(body)); err != nil {
		return err
	}
	s.policies.drop(req.bucket)
	s.log.Info("audit: bucket policy set", "request_id", req.id, "bucket", req.bucket, "principal", principalName(req.principal))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkPolicyResources refuses statements about other buckets, as S3
// does ("Policy has invalid resource").
func checkPolicyResources(p *policy.Policy, bucket string) error {
	for _, r := range p.ResourcePatterns() {
		if r == "*" {
			continue
		}
		rest, ok := strings.CutPrefix(r, "arn:aws:s3:::")
		if !ok {
			return s3err.New("MalformedPolicy", "Policy has invalid resource").Because(r)
		}
		b, _, _ := strings.Cut(rest, "/")
		if b != bucket && !(strings.ContainsAny(b, "*?") && policy.Match(b, bucket)) {
			return s3err.New("MalformedPolicy", "Policy has invalid resource").Because(r)
		}
	}
	return nil
}

func (s *Server) getBucketPolicy(w http.ResponseWriter, req *request) error {
	b, err := s.store.GetBucket(req.Context(), req.bucket)
	if err != nil {
		return err
	}
	if b.Policy == "" {
		return s3err.New("NoSuchBucketPolicy", "The bucket policy does not exist").With("BucketName", req.bucket)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(b.Policy))
	return err
}

func (s *Server) deleteBucketPolicy(w http.ResponseWriter, req *request) error {
	if err := s.store.SetBucketPolicy(req.Context(), req.bucket, ""); err != nil {
		return err
	}
	s.policies.drop(req.bucket)
	s.log.Info("audit: bucket policy deleted", "request_id", req.id, "bucket", req.bucket, "principal", principalName(req.principal))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type policyStatus struct {
	XMLName  struct{} `xml:"PolicyStatus"`
	NS       string   `xml:"xmlns,attr"`
	IsPublic bool     `xml:"IsPublic"`
}

func (s *Server) getBucketPolicyStatus(w http.ResponseWriter, req *request) error {
	b, err := s.store.GetBucket(req.Context(), req.bucket)
	if err != nil {
		return err
	}
	if b.Policy == "" {
		return s3err.New("NoSuchBucketPolicy", "The bucket policy does not exist").With("BucketName", req.bucket)
	}
	p := s.bucketPolicy(req.Context(), req.bucket)
	return writeXML(w, http.StatusOK, &policyStatus{NS: s3NS, IsPublic: p != nil && p.IsPublic()})
}
