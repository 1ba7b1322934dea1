package policy

import "testing"

// Bucket and session policies come from clients: no document may panic the
// parser or the evaluator.
func FuzzParseAndEvaluate(f *testing.F) {
	f.Add(idHome, "s3:GetObject", "arn:aws:s3:::data/home/alice/a.txt", "alice")
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, 'x'}*?","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}}}`, "s3:PutObject", "arn:aws:s3:::b/x", "${*}")
	f.Add(`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["000000000000"]},"NotAction":"s3:Get*","NotResource":"*"}]}`, "s3:DeleteObject", "arn:aws:s3:::b", "")
	f.Fuzz(func(t *testing.T, doc, action, resource, user string) {
		for _, kind := range []Kind{Identity, Resource, Trust} {
			p, err := Parse("fuzz", doc, kind)
			if err != nil {
				continue
			}
			ctx := Context{}
			ctx.Set("aws:username", user)
			ctx.Set("aws:SourceIp", user)
			ctx.Set("aws:CurrentTime", user)
			ctx.SetMulti("aws:TagKeys", []string{user, action})
			p.Evaluate(&Request{Action: action, Resource: resource, Principal: &Principal{AWS: []string{user}}, Context: ctx})
			p.Evaluate(&Request{Action: action, Resource: resource, Principal: &Principal{Anonymous: true}, Context: Context{}})
		}
	})
}
