package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Context holds the condition keys of a request, by lower-case key name.
// Single-valued keys have one value; multivalued keys (aws:TagKeys, claims
// that are arrays) may have several.
type Context map[string][]string

// Set sets a single-valued key.
func (c Context) Set(key, value string) { c[strings.ToLower(key)] = []string{value} }

// SetMulti sets a multivalued key.
func (c Context) SetMulti(key string, values []string) { c[strings.ToLower(key)] = values }

type opFamily uint8

const (
	famString opFamily = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

type baseOp struct {
	family  opFamily
	negated bool
	fold    bool // IgnoreCase
	like    bool // wildcards
	cmp     string
}

// operators are all IAM condition operators, without IfExists and set
// prefixes.
var operators = map[string]baseOp{
	"StringEquals":              {family: famString},
	"StringNotEquals":           {family: famString, negated: true},
	"StringEqualsIgnoreCase":    {family: famString, fold: true},
	"StringNotEqualsIgnoreCase": {family: famString, fold: true, negated: true},
	"StringLike":                {family: famString, like: true},
	"StringNotLike":             {family: famString, like: true, negated: true},
	"NumericEquals":             {family: famNumeric, cmp: "=="},
	"NumericNotEquals":          {family: famNumeric, cmp: "==", negated: true},
	"NumericLessThan":           {family: famNumeric, cmp: "<"},
	"NumericLessThanEquals":     {family: famNumeric, cmp: "<="},
	"NumericGreaterThan":        {family: famNumeric, cmp: ">"},
	"NumericGreaterThanEquals":  {family: famNumeric, cmp: ">="},
	"DateEquals":                {family: famDate, cmp: "=="},
	"DateNotEquals":             {family: famDate, cmp: "==", negated: true},
	"DateLessThan":              {family: famDate, cmp: "<"},
	"DateLessThanEquals":        {family: famDate, cmp: "<="},
	"DateGreaterThan":           {family: famDate, cmp: ">"},
	"DateGreaterThanEquals":     {family: famDate, cmp: ">="},
	"Bool":                      {family: famBool},
	"BinaryEquals":              {family: famBinary},
	"IpAddress":                 {family: famIP},
	"NotIpAddress":              {family: famIP, negated: true},
	"ArnEquals":                 {family: famARN, like: true},
	"ArnLike":                   {family: famARN, like: true},
	"ArnNotEquals":              {family: famARN, like: true, negated: true},
	"ArnNotLike":                {family: famARN, like: true, negated: true},
	"Null":                      {family: famNull},
}

type setMode uint8

const (
	setNone setMode = iota
	setAny
	setAll
)

type condition struct {
	name     string // as written, for explanations
	op       baseOp
	set      setMode
	ifExists bool
	key      string // lower case
	patterns []pattern
	nums     []*big.Rat
	dates    []time.Time
	prefixes []netip.Prefix
	bools    []bool
	blobs    [][]byte
}

func parseConditions(raw json.RawMessage, variables bool) ([]condition, error) {
	var byOp map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byOp); err != nil {
		return nil, errf("Condition must map operators to {key: values}")
	}
	var out []condition
	for name, keys := range byOp {
		opName := name
		c := condition{name: name}
		switch {
		case strings.HasPrefix(opName, "ForAnyValue:"):
			c.set, opName = setAny, opName[len("ForAnyValue:"):]
		case strings.HasPrefix(opName, "ForAllValues:"):
			c.set, opName = setAll, opName[len("ForAllValues:"):]
		}
		if o, ok := strings.CutSuffix(opName, "IfExists"); ok && o != "" {
			c.ifExists, opName = true, o
		}
		op, ok := operators[opName]
		if !ok || (op.family == famNull && (c.ifExists || c.set != setNone)) {
			return nil, errf("unknown condition operator %q", name)
		}
		c.op = op
		if len(keys) == 0 {
			return nil, errf("%s has no condition keys", name)
		}
		for key, vraw := range keys {
			if !validKeyName(key) {
				return nil, errf("%s: %q is not a condition key", name, key)
			}
			cc := c
			cc.key = strings.ToLower(key)
			values, err := conditionValues(vraw)
			if err != nil {
				return nil, errf("%s %s: %s", name, key, err.(*Error).Reason)
			}
			if err := cc.compile(values, variables); err != nil {
				return nil, errf("%s %s: %s", name, key, err.(*Error).Reason)
			}
			out = append(out, cc)
		}
	}
	return out, nil
}

func validKeyName(k string) bool {
	svc, rest, ok := strings.Cut(k, ":")
	return ok && svc != "" && rest != "" && !strings.ContainsAny(k, " \t\n")
}

// conditionValues turns a JSON string, number, bool or list of them into
// strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var list []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
			return nil, errf("values must be a non-empty list of strings, numbers or booleans")
		}
	} else {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out = append(out, s)
			continue
		}
		var b bool
		if err := json.Unmarshal(v, &b); err == nil {
			out = append(out, strconv.FormatBool(b))
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			out = append(out, n.String())
			continue
		}
		return nil, errf("values must be strings, numbers or booleans")
	}
	return out, nil
}

func (c *condition) compile(values []string, variables bool) error {
	for _, v := range values {
		switch c.op.family {
		case famString, famARN:
			// Equals operators take '*' and '?' literally; variables
			// expand in both forms.
			c.patterns = append(c.patterns, compileValue(v, variables, c.op.like))
		case famNumeric:
			r, ok := new(big.Rat).SetString(v)
			if !ok || strings.Contains(v, "/") {
				return errf("%q is not a number", v)
			}
			c.nums = append(c.nums, r)
		case famDate:
			t, err := parseDate(v)
			if err != nil {
				return errf("%q is not a date (ISO 8601 or epoch seconds)", v)
			}
			c.dates = append(c.dates, t)
		case famBool:
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil || (strings.ToLower(v) != "true" && strings.ToLower(v) != "false") {
				return errf("%q is not true or false", v)
			}
			c.bools = append(c.bools, b)
		case famBinary:
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return errf("%q is not base64", v)
			}
			c.blobs = append(c.blobs, b)
		case famIP:
			p, err := parsePrefix(v)
			if err != nil {
				return errf("%q is not an IP address or CIDR block", v)
			}
			c.prefixes = append(c.prefixes, p)
		case famNull:
			b := strings.ToLower(v)
			if b != "true" && b != "false" {
				return errf("%q is not true or false", v)
			}
			c.bools = append(c.bools, b == "true")
		}
	}
	return nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate accepts the W3C ISO 8601 forms IAM takes, or epoch seconds.
func parseDate(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errf("bad date")
}

// eval evaluates the condition against ctx.
func (c *condition) eval(ctx Context) bool {
	vals, present := ctx[c.key]
	if c.op.family == famNull {
		return c.bools[0] == !present || (len(c.bools) > 1 && c.bools[1] == !present)
	}
	switch c.set {
	case setAny:
		if len(vals) == 0 {
			return false
		}
		for _, v := range vals {
			if c.valueMatches(v, ctx) != c.op.negated {
				return true
			}
		}
		return false
	case setAll:
		for _, v := range vals {
			if c.valueMatches(v, ctx) == c.op.negated {
				return false
			}
		}
		return true
	}
	if !present || len(vals) == 0 {
		return c.ifExists || c.op.negated
	}
	any := false
	for _, v := range vals {
		if c.valueMatches(v, ctx) {
			any = true
			break
		}
	}
	return any != c.op.negated
}

// valueMatches reports whether one request value matches any policy value
// under the positive form of the operator.
func (c *condition) valueMatches(v string, ctx Context) bool {
	switch c.op.family {
	case famString, famARN:
		for i := range c.patterns {
			if m, ok := c.patterns[i].match(v, ctx, c.op.fold); ok && m {
				return true
			}
		}
	case famNumeric:
		r, ok := new(big.Rat).SetString(v)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if compare(r.Cmp(n), c.op.cmp) {
				return true
			}
		}
	case famDate:
		t, err := parseDate(v)
		if err != nil {
			return false
		}
		for _, d := range c.dates {
			if compare(t.Compare(d), c.op.cmp) {
				return true
			}
		}
	case famBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false
		}
		for _, x := range c.bools {
			if b == x {
				return true
			}
		}
	case famBinary:
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			raw = []byte(v)
		}
		for _, x := range c.blobs {
			if bytes.Equal(raw, x) {
				return true
			}
		}
	case famIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func compare(c int, op string) bool {
	switch op {
	case "==":
		return c == 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}
