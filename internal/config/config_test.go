package config

import (
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	c, err := Parse("c.yaml", []byte("region: eu-west-1\ndomain: S3.Example.Internal.\nusers:\n  - name: alice\n    access_key: AKIAALICE00000000000\n    secret_key: 0123456789abcdef\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "eu-west-1" || c.Domain != "s3.example.internal" || len(c.Users) != 1 {
		t.Fatalf("%+v", c)
	}
	c, err = Parse("empty.yaml", nil)
	if err != nil || c.Region != "us-east-1" {
		t.Fatalf("empty file: %+v %v", c, err)
	}
}

func TestParseErrorsNameFileAndField(t *testing.T) {
	cases := map[string]string{
		"regin: x\n":              "field regin not found",
		"region: US East\n":       "region",
		"users:\n  - name: a b\n": "users[0].name",
		"users:\n  - name: a\n    access_key: short\n":                                                  "users[0].access_key",
		"users:\n  - name: a\n    access_key: ASIAAAAAAAAAAAAAAAAA\n    secret_key: 0123456789abcdef\n": "users[0].access_key",
		"users:\n  - name: a\n    access_key: AKIAAAAAAAAAAAAAAAAA\n    secret_key: short\n":            "users[0].secret_key",
		"users:\n  - name: a\n    access_key: AKIAAAAAAAAAAAAAAAAA\n    secret_key: 0123456789abcdef\n  - name: a\n    access_key: AKIABBBBBBBBBBBBBBBB\n    secret_key: 0123456789abcdef\n": "duplicate user",
		"users: [": "c.yaml",
	}
	for text, want := range cases {
		_, err := Parse("c.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "c.yaml") {
			t.Errorf("%q: got %v, want mention of %q", text, err, want)
		}
	}
}
