package rules

// pattern.go compiles the path patterns of rules and matches request paths against them.

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

type kind uint8

const (
	kindAll      kind = iota // "*"
	kindExact                // no wildcard
	kindPrefix               // one trailing '*'
	kindSuffix               // one leading '*'
	kindContains             // '*' at both ends and nowhere else
	kindGlob                 // any other use of '*': path.Match, where '*' never matches '/'
)

type pattern struct {
	kind kind
	lit  string // lower case: the literal, or the pattern for kindGlob
}

// compilePattern checks one path pattern and decides how to match it.
func compilePattern(p string) (pattern, error) {
	switch {
	case p == "*":
		return pattern{kind: kindAll}, nil
	case p == "":
		return pattern{}, errors.New(`empty path pattern: write e.g. /api/v1/apps* ("*" for every path)`)
	case p[0] != '/' && p[0] != '*':
		return pattern{}, fmt.Errorf("path %q must start with / or *, e.g. /%s", p, strings.TrimLeft(p, "/"))
	case strings.ContainsAny(p, `?[]\`):
		return pattern{}, fmt.Errorf("path %q: * is the only wildcard; ?, [, ] and \\ are not supported", p)
	case strings.Contains(p, "%"):
		return pattern{}, fmt.Errorf("path %q: patterns match the decoded path; write the character itself, not its %%-encoding", p)
	case strings.Contains(p, "**"):
		return pattern{}, fmt.Errorf("path %q: ** is not supported; a trailing * already matches everything below (e.g. /api/v1/apps/*)", p)
	case p == "*/":
		return pattern{}, fmt.Errorf(`path "*/" would match every path ending in /; a trailing slash is not significant, write "*" for every path`)
	}
	for _, seg := range []string{"//", "/./", "/../"} {
		if strings.Contains(p, seg) {
			return pattern{}, fmt.Errorf("path %q holds %q, which a cleaned request path never does; write the path as the upstream sees it after cleaning", p, seg)
		}
	}
	if strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return pattern{}, fmt.Errorf("path %q ends in a dot segment, which a cleaned request path never does", p)
	}
	lit := strings.ToLower(p)
	stars := strings.Count(lit, "*")
	var pat pattern
	switch {
	case stars == 0:
		pat = pattern{kind: kindExact, lit: lit}
	case stars == 1 && lit[len(lit)-1] == '*':
		return pattern{kind: kindPrefix, lit: lit[:len(lit)-1]}, nil
	case stars == 1 && lit[0] == '*':
		pat = pattern{kind: kindSuffix, lit: lit[1:]}
	case stars == 2 && lit[0] == '*' && lit[len(lit)-1] == '*':
		return pattern{kind: kindContains, lit: lit[1 : len(lit)-1]}, nil
	default:
		pat = pattern{kind: kindGlob, lit: lit}
	}
	// A trailing slash is not significant: the request is tried with and without one, so
	// the pattern needs none.
	if len(pat.lit) > 1 && pat.lit[len(pat.lit)-1] == '/' {
		pat.lit = pat.lit[:len(pat.lit)-1]
	}
	if pat.kind == kindGlob {
		if _, err := path.Match(pat.lit, ""); err != nil {
			return pattern{}, fmt.Errorf("path %q: %v", p, err)
		}
	}
	return pat, nil
}

func (pat *pattern) match(p string) bool {
	switch pat.kind {
	case kindAll:
		return true
	case kindExact:
		return p == pat.lit
	case kindPrefix:
		return strings.HasPrefix(p, pat.lit)
	case kindSuffix:
		return strings.HasSuffix(p, pat.lit)
	case kindContains:
		return strings.Contains(p, pat.lit)
	default:
		ok, _ := path.Match(pat.lit, p) // the pattern was checked by Compile
		return ok
	}
}

// clean cleans p as Caddy's path matcher does (path.Clean, keeping a trailing slash). It
// returns p itself, without allocating, when p is clean.
func clean(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p) // returns p itself, not a copy, when p is clean
	if c != "/" && p[len(p)-1] == '/' {
		if len(p) == len(c)+1 && p[:len(c)] == c {
			c = p
		} else {
			c += "/"
		}
	}
	return c
}

// lower is strings.ToLower, without allocating when s has no upper-case or non-ASCII letter.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= 0x80 || ('A' <= b && b <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}
