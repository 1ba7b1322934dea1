// Package config owns cairn's configuration file: its YAML schema, defaults,
// and validation with messages that name the file, the field and the
// problem.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the --config file.
type Config struct {
	// Region is the one region this server answers for (default us-east-1).
	Region string `yaml:"region"`
	// Domain enables virtual-hosted-style requests: Host
	// "<bucket>.<domain>" addresses a bucket.
	Domain string `yaml:"domain"`
	// Users are static IAM users with long-lived access keys.
	Users []User `yaml:"users"`
}

// User is a static user.
type User struct {
	Name      string `yaml:"name"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
}

var (
	userNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	accessKeyRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// FieldError names the field of the file at fault.
type FieldError struct {
	File, Field, Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config %s: %s: %s", e.File, e.Field, e.Problem)
}

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse validates config text; name is used in messages.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // an empty file means the defaults
		return nil, fmt.Errorf("config %s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.validate(name); err != nil {
		return nil, err
	}
	return &c, nil
}

// Default is the configuration used without a file.
func Default() *Config {
	c := &Config{}
	c.validate("")
	return c
}

func (c *Config) validate(file string) error {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if !regexp.MustCompile(`^[a-z0-9-]{1,32}$`).MatchString(c.Region) {
		return &FieldError{file, "region", fmt.Sprintf("%q is not a region name (lowercase letters, digits and '-')", c.Region)}
	}
	c.Domain = strings.TrimSuffix(strings.ToLower(c.Domain), ".")
	seenName := map[string]bool{}
	seenKey := map[string]bool{}
	for i, u := range c.Users {
		f := fmt.Sprintf("users[%d]", i)
		if !userNameRE.MatchString(u.Name) {
			return &FieldError{file, f + ".name", fmt.Sprintf("%q must be 1-64 characters of letters, digits and +=,.@_-", u.Name)}
		}
		if seenName[u.Name] {
			return &FieldError{file, f + ".name", fmt.Sprintf("duplicate user %q", u.Name)}
		}
		if !accessKeyRE.MatchString(u.AccessKey) || strings.HasPrefix(u.AccessKey, "ASIA") {
			return &FieldError{file, f + ".access_key", "must be 16-128 uppercase letters and digits, and not start with ASIA (reserved for temporary credentials)"}
		}
		if seenKey[u.AccessKey] {
			return &FieldError{file, f + ".access_key", "duplicate access key"}
		}
		if len(u.SecretKey) < 16 || len(u.SecretKey) > 128 {
			return &FieldError{file, f + ".secret_key", "must be 16-128 characters"}
		}
		seenName[u.Name], seenKey[u.AccessKey] = true, true
	}
	return nil
}
