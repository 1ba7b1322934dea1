package policy

import (
	"strings"
	"unicode/utf8"
)

// A pattern is a compiled string with `*` / `?` wildcards and, in
// 2012-10-17 policies, `${key}` variables. A variable's value is matched
// literally: a `*` inside a claim never widens a match.
type pattern struct {
	items   []item // nil when the pattern has variables
	parts   []part // the pattern split around variables
	text    string
	literal bool // '*' and '?' in the text are plain characters
}

type itemKind uint8

const (
	lit itemKind = iota
	one
	star
)

type item struct {
	kind itemKind
	b    byte
}

// part is a piece of a pattern with variables: wildcard text, or a
// variable reference with an optional default.
type part struct {
	text       string
	variable   string // lower-case key, "" for text
	def        string
	hasDefault bool
}

func compilePattern(s string, variables bool) pattern {
	p := pattern{text: s}
	if !variables || !strings.Contains(s, "${") {
		p.items = wildcardItems(nil, s)
		return p
	}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "${")
		j := -1
		if i >= 0 {
			j = strings.IndexByte(rest[i:], '}')
		}
		if i < 0 || j < 0 {
			p.parts = append(p.parts, part{text: rest})
			break
		}
		if i > 0 {
			p.parts = append(p.parts, part{text: rest[:i]})
		}
		ref := rest[i+2 : i+j]
		rest = rest[i+j+1:]
		switch ref {
		case "*", "?", "$":
			p.parts = append(p.parts, part{text: ref, variable: "\x00literal"})
			continue
		}
		v := part{}
		if k, d, ok := strings.Cut(ref, ","); ok {
			d = strings.TrimSpace(d)
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				v.def, v.hasDefault = d[1:len(d)-1], true
			}
			ref = strings.TrimSpace(k)
		}
		v.variable = strings.ToLower(ref)
		p.parts = append(p.parts, v)
	}
	return p
}

// compileValue compiles a condition value; without wildcards (the Equals
// operators) '*' and '?' match only themselves.
func compileValue(s string, variables, wildcards bool) pattern {
	p := compilePattern(s, variables)
	if !wildcards {
		p.literal = true
		if p.items != nil {
			p.items = literalItems(nil, s)
		}
	}
	return p
}

func wildcardItems(dst []item, s string) []item {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			dst = append(dst, item{kind: star})
		case '?':
			dst = append(dst, item{kind: one})
		default:
			dst = append(dst, item{kind: lit, b: s[i]})
		}
	}
	return dst
}

func literalItems(dst []item, s string) []item {
	for i := 0; i < len(s); i++ {
		dst = append(dst, item{kind: lit, b: s[i]})
	}
	return dst
}

// resolve returns the items of p with variables replaced by their values
// from ctx; ok is false when a variable has no value and no default.
func (p *pattern) resolve(ctx Context) ([]item, bool) {
	if p.items != nil || len(p.parts) == 0 {
		return p.items, true
	}
	var items []item
	for _, pt := range p.parts {
		switch {
		case pt.variable == "" && p.literal:
			items = literalItems(items, pt.text)
		case pt.variable == "":
			items = wildcardItems(items, pt.text)
		case pt.variable == "\x00literal":
			items = literalItems(items, pt.text)
		default:
			vals := ctx[pt.variable]
			switch {
			case len(vals) == 1:
				items = literalItems(items, vals[0])
			case len(vals) == 0 && pt.hasDefault:
				items = literalItems(items, pt.def)
			default:
				return nil, false // absent, or multivalued: not a variable
			}
		}
	}
	return items, true
}

// match reports whether s matches p; ok is false when a variable of p is
// missing from ctx.
func (p *pattern) match(s string, ctx Context, fold bool) (matched, ok bool) {
	items, ok := p.resolve(ctx)
	if !ok {
		return false, false
	}
	return glob(items, s, fold), true
}

// glob matches s against items: '*' any run of bytes (including '/' and
// ':'), '?' one UTF-8 character. It backtracks only to the last star, so it
// runs in O(len(items)·len(s)) at worst.
func glob(p []item, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch it := p[pi]; it.kind {
			case lit:
				c := s[si]
				if fold {
					c = lower(c)
					it.b = lower(it.b)
				}
				if c == it.b {
					pi++
					si++
					continue
				}
			case one:
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			case star:
				starP, starS = pi, si
				pi++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi].kind == star {
		pi++
	}
	return pi == len(p)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
