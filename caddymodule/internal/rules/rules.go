// Package rules decides whether a verified token may make a request: an operator's rules map
// methods and path patterns to the WorkOS permissions or roles a token must carry. It knows
// nothing of Caddy or of tokens; drio_protect compiles the rules once and asks Check on every
// request after the token and its session have been verified.
//
// # Semantics
//
// A rule matches a request when the method is one of its Methods (any method when Methods is
// empty) and the path matches one of its Paths. A token satisfies a rule when it has every
// one of the rule's Permissions and, when Roles is not empty, one of its Roles. A request is
// allowed when the token satisfies every rule that matches it: rules only add requirements,
// so their order never opens anything, and a request no rule matches needs nothing more than
// a valid token.
//
// Methods are compared without regard to case, and a rule for GET also covers HEAD (most
// frameworks answer HEAD with the GET handler).
//
// Path patterns are those of Caddy's path matcher, compared the same way ("*" alone is every
// path):
//
//	/api/v1/apps   exactly that path
//	/api/v1/apps*  every path that starts with /api/v1/apps (also /api/v1/apps/1, /api/v1/appsX)
//	/api/v1/apps/* every path under /api/v1/apps/ (not /api/v1/apps itself)
//	*.json         every path that ends with .json
//	*/config*      every path that contains /config
//	/apps/*/config a * elsewhere matches within one path segment (it never matches a /)
//
// '*' is the only wildcard; '?', '[', ']', '\' and '%' are refused, and so is "**". Patterns
// match the request's decoded path (url.URL.Path), the path the handler sees, after any
// rewrite before it:
//
//   - without regard to case (as Caddy's path matcher), so /API/v1/apps cannot slip past a
//     rule an upstream with case-insensitive routes would apply;
//   - cleaned: Caddy does not clean the path before its handlers, so Check merges doubled
//     slashes and resolves "." and ".." itself (/x/../api/v1/apps is /api/v1/apps), and
//     tries the path as sent too, for an upstream that does not clean it;
//   - percent-encodings are decoded once, by Go's HTTP server, and never again:
//     /api/v1/app%2573 is the path /api/v1/app%73, not /api/v1/apps (drio_protect also
//     checks the escaped path when it was sent with encodings such as %2F, since the upstream
//     gets that form);
//   - a trailing slash is not significant: /api/v1/apps/ matches the pattern /api/v1/apps
//     and the request /api/v1/apps matches the pattern /api/v1/apps/ (except that a prefix
//     pattern /x/* still means only what is under /x/).
//
// Every one of these can make a rule match more requests, never fewer, which is the safe
// direction for a requirement.
package rules

import (
	"errors"
	"fmt"
	"strings"
)

// Rule is one requirement as an operator writes it.
type Rule struct {
	// Methods the rule applies to; empty (or the single method "*") means every method.
	Methods []string
	// Paths are the path patterns the rule applies to (at least one; "*" for every path).
	Paths []string
	// Permissions the token must all have.
	Permissions []string
	// Roles of which the token must have one; empty means any role, or none.
	Roles []string
}

// Refusal is what Check answers when a token does not satisfy a rule.
type Refusal struct {
	// Index is the rule's position in the list given to Compile, from 0.
	Index int
	// Need is what the rule requires, to name in the answer: "the apps:write permission",
	// "the admin role", "the apps:read and apps:write permissions and the admin or owner
	// role". It depends on the rule alone, never on what the token has.
	Need string
}

// Set is a compiled list of rules. A nil *Set has no rules and allows every request. A Set is
// read-only after Compile and safe for concurrent use.
type Set struct {
	rules []compiled
}

type compiled struct {
	anyMethod   bool
	methods     []string // upper case; GET implies HEAD
	paths       []pattern
	permissions []string
	roles       []string
	refusal     Refusal
}

// Compile checks rules and compiles them; it returns nil and no error for no rules. An error
// names the rule (from 1) and what to change.
func Compile(rules []Rule) (*Set, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	s := &Set{rules: make([]compiled, 0, len(rules))}
	var errs []error
	for i, r := range rules {
		c, err := compile(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i+1, describe(r), err))
			continue
		}
		c.refusal.Index = i
		s.rules = append(s.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// describe is a rule as an operator would recognize it in an error message.
func describe(r Rule) string {
	m := "*"
	if len(r.Methods) > 0 {
		m = strings.Join(r.Methods, ",")
	}
	return m + " " + strings.Join(r.Paths, " ")
}

// Validate checks one rule, with an error that says what to change (Compile says the same,
// naming the rule by its number).
func Validate(r Rule) error {
	_, err := compile(r)
	return err
}

func compile(r Rule) (compiled, error) {
	var c compiled
	if len(r.Paths) == 0 {
		return c, errors.New(`no path: give at least one path pattern, e.g. /api/v1/apps* ("*" for every path)`)
	}
	if len(r.Permissions) == 0 && len(r.Roles) == 0 {
		return c, errors.New("it requires nothing: give at least one permission or role")
	}
	switch {
	case len(r.Methods) == 0:
		c.anyMethod = true
	case len(r.Methods) == 1 && r.Methods[0] == "*":
		c.anyMethod = true
	default:
		for _, m := range r.Methods {
			if m == "*" {
				return c, errors.New(`method "*" means every method: use it alone`)
			}
			if !isToken(m) {
				return c, fmt.Errorf("method %q is not an HTTP method name, e.g. GET or POST", m)
			}
			up := strings.ToUpper(m)
			c.methods = appendUnique(c.methods, up)
			if up == "GET" {
				c.methods = appendUnique(c.methods, "HEAD")
			}
		}
	}
	for _, p := range r.Paths {
		pat, err := compilePattern(p)
		if err != nil {
			return c, err
		}
		c.paths = append(c.paths, pat)
	}
	for _, p := range r.Permissions {
		if !isName(p) {
			return c, fmt.Errorf("permission %q: write the permission's slug as in WorkOS, e.g. apps:write (no spaces, commas, quotes or backslashes)", p)
		}
		c.permissions = appendUnique(c.permissions, p)
	}
	for _, role := range r.Roles {
		if !isName(role) {
			return c, fmt.Errorf("role %q: write the role's slug as in WorkOS, e.g. admin (no spaces, commas, quotes or backslashes)", role)
		}
		c.roles = appendUnique(c.roles, role)
	}
	c.refusal.Need = need(c.permissions, c.roles)
	return c, nil
}

// Check reports whether a token with permissions and role may make the request method
// urlPath (the request's decoded path). It returns nil when every rule that matches the
// request is satisfied, and otherwise the first one (in configuration order) that is not.
// It does not allocate unless the path needs cleaning or has upper-case or non-ASCII
// letters.
//
// A pattern is tried on every view of the path an upstream might route on: cleaned, cleaned
// without its trailing slash, and, when cleaning changed it, as sent.
func (s *Set) Check(method, urlPath string, permissions []string, role string) *Refusal {
	if s == nil || len(s.rules) == 0 {
		return nil
	}
	var buf [3]string
	views := buf[:0]
	cleaned := lower(clean(urlPath))
	views = append(views, cleaned)
	if len(cleaned) > 1 && cleaned[len(cleaned)-1] == '/' {
		views = append(views, cleaned[:len(cleaned)-1])
	}
	if asSent := lower(urlPath); asSent != cleaned && asSent != "" {
		views = append(views, asSent)
	}
	for i := range s.rules {
		c := &s.rules[i]
		if !c.matchMethod(method) || !c.matchPath(views) {
			continue
		}
		if !c.satisfied(permissions, role) {
			return &c.refusal
		}
	}
	return nil
}

func (c *compiled) matchMethod(method string) bool {
	if c.anyMethod {
		return true
	}
	for _, m := range c.methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

func (c *compiled) matchPath(views []string) bool {
	for i := range c.paths {
		for _, v := range views {
			if c.paths[i].match(v) {
				return true
			}
		}
	}
	return false
}

func (c *compiled) satisfied(permissions []string, role string) bool {
	for _, want := range c.permissions {
		if !contains(permissions, want) {
			return false
		}
	}
	return len(c.roles) == 0 || (role != "" && contains(c.roles, role))
}

// need says what a rule requires, in words.
func need(permissions, roles []string) string {
	var parts []string
	switch len(permissions) {
	case 0:
	case 1:
		parts = append(parts, "the "+permissions[0]+" permission")
	default:
		parts = append(parts, "the "+list(permissions, "and")+" permissions")
	}
	switch len(roles) {
	case 0:
	case 1:
		parts = append(parts, "the "+roles[0]+" role")
	default:
		parts = append(parts, "the "+list(roles, "or")+" role")
	}
	return strings.Join(parts, " and ")
}

// list joins items as "a, b and c" (or "a, b or c").
func list(items []string, conj string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the syntax of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return true
}

// isName reports whether s can be a WorkOS permission or role slug as the gateway handles
// it: printable ASCII without space, comma (the separator of X-Drio-User-Permissions), quote
// or backslash, at most 256 bytes.
func isName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f || b == ',' || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}
