package rules

import (
	"strings"
	"testing"
)

var (
	ada   = []string{"apps:read", "apps:write"} // role admin
	grace = []string{"apps:read"}               // role member
)

func mustCompile(t testing.TB, rs ...Rule) *Set {
	t.Helper()
	s, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNoRulesAllowEverything(t *testing.T) {
	s, err := Compile(nil)
	if s != nil || err != nil {
		t.Fatalf("Compile(nil) = %v, %v; want nil, nil", s, err)
	}
	if r := s.Check("DELETE", "/anything", nil, ""); r != nil {
		t.Errorf("a nil Set refused: %+v", r)
	}
}

// TestPathMatching is the table of which request paths a pattern covers: Caddy's path-matcher
// forms, case, cleaning, trailing slashes and encodings.
func TestPathMatching(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		match   bool
	}{
		{"*", "/", true},
		{"*", "/api/v1/apps/1", true},

		// exact
		{"/api/v1/apps", "/api/v1/apps", true},
		{"/api/v1/apps", "/api/v1/apps/", true}, // a trailing slash is not significant
		{"/api/v1/apps/", "/api/v1/apps", true},
		{"/api/v1/apps/", "/api/v1/apps/", true},
		{"/api/v1/apps", "/api/v1/apps/1", false},
		{"/api/v1/apps", "/api/v1/appsX", false},
		{"/api/v1/apps", "/api/v1/app", false},
		{"/", "/", true},
		{"/", "/x", false},

		// prefix
		{"/api/v1/apps*", "/api/v1/apps", true},
		{"/api/v1/apps*", "/api/v1/apps/", true},
		{"/api/v1/apps*", "/api/v1/apps/1/config", true},
		{"/api/v1/apps*", "/api/v1/appsX", true}, // a plain prefix: write /api/v1/apps/* for below only
		{"/api/v1/apps*", "/api/v1/app", false},
		{"/api/v1/apps/*", "/api/v1/apps/1", true},
		{"/api/v1/apps/*", "/api/v1/apps/", true},
		{"/api/v1/apps/*", "/api/v1/apps", false},
		{"/api/v1/apps/*", "/api/v1/appsX/1", false},

		// suffix and substring
		{"*/config", "/api/v1/apps/1/config", true},
		{"*/config", "/api/v1/apps/1/config/", true},
		{"*/config/", "/api/v1/apps/1/config", true},
		{"*/config", "/api/v1/apps/1/configX", false},
		{"*/config*", "/api/v1/apps/1/config/x", true},
		{"*/config*", "/api/v1/apps/1/other", false},

		// a * in the middle stays within one segment
		{"/api/v1/apps/*/config", "/api/v1/apps/1/config", true},
		{"/api/v1/apps/*/config", "/api/v1/apps/1/config/", true},
		{"/api/v1/apps/*/config", "/api/v1/apps/1/2/config", false},
		{"/api/*/apps*", "/api/v1/apps", true},
		{"/api/*/apps*", "/api/v1/apps/1", false}, // Caddy's glob: the trailing * does not cross /

		// case: patterns and paths compare without case, as Caddy's path matcher
		{"/api/v1/apps*", "/API/V1/Apps", true},
		{"/API/v1/apps", "/api/v1/apps", true},
		{"/api/v1/apps/*/config", "/api/v1/apps/1/CONFIG", true},
		{"/api/v1/ǅx", "/api/v1/ǆX", true}, // non-ASCII folds too

		// cleaning: Caddy hands handlers the path uncleaned
		{"/api/v1/apps*", "/x/../api/v1/apps", true},
		{"/api/v1/apps*", "/api/v1/x/../apps", true},
		{"/api/v1/apps*", "//api/v1/apps", true},
		{"/api/v1/apps*", "/api/v1//apps", true},
		{"/api/v1/apps*", "/api/v1/./apps", true},
		{"/api/v1/apps*", "/api/v1/apps/..", true}, // cleaned /api/v1, but as sent it is under /api/v1/apps
		{"/api/v1", "/api/v1/apps/..", true},
		{"/api/v1/me", "/api/v1/apps/../me", true},
		{"/api/v1/apps/*", "/api/v1/apps/../me", true},
		{"/api/v1/apps/*", "/api/v1/me/../apps", false}, // cleaned /api/v1/apps, exact, not under it
		{"/api/v1/apps", "/api/v1/apps/.", true},
		{"/api/v1/apps", "/../../api/v1/apps", true},
		{"/", "", true},

		// encodings are decoded once, by the HTTP server, and never again: these are the
		// decoded paths (url.URL.Path) of /api/v1/app%2573 and /api/v1/apps%2F1
		{"/api/v1/apps*", "/api/v1/app%73", false},
		{"/api/v1/apps/*", "/api/v1/apps/1", true},
	}
	for _, tc := range tests {
		s := mustCompile(t, Rule{Paths: []string{tc.pattern}, Permissions: []string{"apps:write"}})
		got := s.Check("GET", tc.path, nil, "") != nil
		if got != tc.match {
			t.Errorf("pattern %q, path %q: matched %v, want %v", tc.pattern, tc.path, got, tc.match)
		}
	}
}

func TestMethods(t *testing.T) {
	s := mustCompile(t, Rule{Methods: []string{"post", "DELETE"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}})
	for _, tc := range []struct {
		method string
		match  bool
	}{
		{"POST", true}, {"post", true}, {"Post", true}, {"DELETE", true},
		{"GET", false}, {"HEAD", false}, {"PUT", false}, {"PATCH", false}, {"OPTIONS", false},
	} {
		if got := s.Check(tc.method, "/api/v1/apps", grace, "member") != nil; got != tc.match {
			t.Errorf("%s: matched %v, want %v", tc.method, got, tc.match)
		}
	}
	get := mustCompile(t, Rule{Methods: []string{"GET"}, Paths: []string{"*"}, Permissions: []string{"apps:read"}})
	if get.Check("HEAD", "/x", nil, "") == nil {
		t.Error("a GET rule does not cover HEAD")
	}
	for _, every := range [][]string{nil, {}, {"*"}} {
		s := mustCompile(t, Rule{Methods: every, Paths: []string{"*"}, Permissions: []string{"apps:read"}})
		for _, m := range []string{"GET", "POST", "PROPFIND", "x"} {
			if s.Check(m, "/", nil, "") == nil {
				t.Errorf("methods %q: %s not covered", every, m)
			}
		}
	}
}

func TestSatisfied(t *testing.T) {
	tests := []struct {
		name  string
		rule  Rule
		perms []string
		role  string
		ok    bool
	}{
		{"has the permission", Rule{Permissions: []string{"apps:write"}}, ada, "admin", true},
		{"lacks the permission", Rule{Permissions: []string{"apps:write"}}, grace, "member", false},
		{"no permissions at all", Rule{Permissions: []string{"apps:read"}}, nil, "", false},
		{"all of several", Rule{Permissions: []string{"apps:read", "apps:write"}}, ada, "", true},
		{"only some of several", Rule{Permissions: []string{"apps:read", "apps:write"}}, grace, "", false},
		{"permissions are case-sensitive", Rule{Permissions: []string{"Apps:Write"}}, ada, "", false},
		{"no prefix match", Rule{Permissions: []string{"apps:write"}}, []string{"apps:writer", "apps:wr"}, "", false},
		{"role", Rule{Roles: []string{"admin"}}, nil, "admin", true},
		{"other role", Rule{Roles: []string{"admin"}}, ada, "member", false},
		{"no role", Rule{Roles: []string{"admin"}}, ada, "", false},
		{"roles are case-sensitive", Rule{Roles: []string{"admin"}}, nil, "Admin", false},
		{"any of the roles", Rule{Roles: []string{"admin", "owner"}}, nil, "owner", true},
		{"permission and role", Rule{Permissions: []string{"apps:write"}, Roles: []string{"admin"}}, ada, "admin", true},
		{"permission without the role", Rule{Permissions: []string{"apps:write"}, Roles: []string{"owner"}}, ada, "admin", false},
		{"role without the permission", Rule{Permissions: []string{"apps:write"}, Roles: []string{"member"}}, grace, "member", false},
	}
	for _, tc := range tests {
		tc.rule.Paths = []string{"*"}
		s := mustCompile(t, tc.rule)
		if got := s.Check("GET", "/", tc.perms, tc.role) == nil; got != tc.ok {
			t.Errorf("%s: allowed %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// TestEveryMatchingRuleApplies: deny wins, whatever the order, and the refusal names the
// first rule (in configuration order) the token fails.
func TestEveryMatchingRuleApplies(t *testing.T) {
	s := mustCompile(t,
		Rule{Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:read"}},
		Rule{Methods: []string{"POST", "PATCH", "DELETE"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		Rule{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*"}, Roles: []string{"admin"}},
	)
	tests := []struct {
		method, path string
		perms        []string
		role         string
		refusedBy    int // -1: allowed
	}{
		{"GET", "/api/v1/apps", grace, "member", -1},
		{"GET", "/api/v1/apps", nil, "", 0},
		{"POST", "/api/v1/apps", grace, "member", 1},
		{"POST", "/api/v1/apps", ada, "admin", -1},
		{"POST", "/api/v1/apps", nil, "", 0},
		{"DELETE", "/api/v1/apps/1", ada, "member", 2},
		{"DELETE", "/api/v1/apps/1", ada, "admin", -1},
		{"DELETE", "/api/v1/apps/1", grace, "admin", 1},
		{"GET", "/api/v1/me", nil, "", -1},
		{"GET", "/api/v1/templates", nil, "", -1},
	}
	for _, tc := range tests {
		r := s.Check(tc.method, tc.path, tc.perms, tc.role)
		switch {
		case tc.refusedBy < 0 && r != nil:
			t.Errorf("%s %s %v %q: refused by rule %d, want allowed", tc.method, tc.path, tc.perms, tc.role, r.Index)
		case tc.refusedBy >= 0 && r == nil:
			t.Errorf("%s %s %v %q: allowed, want refused by rule %d", tc.method, tc.path, tc.perms, tc.role, tc.refusedBy)
		case r != nil && r.Index != tc.refusedBy:
			t.Errorf("%s %s %v %q: refused by rule %d, want %d", tc.method, tc.path, tc.perms, tc.role, r.Index, tc.refusedBy)
		}
	}
}

// TestNeedNamesOnlyTheRequirement: the words depend on the rule, never on the token.
func TestNeedNamesOnlyTheRequirement(t *testing.T) {
	tests := []struct {
		rule Rule
		want string
	}{
		{Rule{Permissions: []string{"apps:write"}}, "the apps:write permission"},
		{Rule{Permissions: []string{"apps:read", "apps:write"}}, "the apps:read and apps:write permissions"},
		{Rule{Permissions: []string{"a", "b", "c"}}, "the a, b and c permissions"},
		{Rule{Permissions: []string{"a", "a"}}, "the a permission"},
		{Rule{Roles: []string{"admin"}}, "the admin role"},
		{Rule{Roles: []string{"admin", "owner"}}, "the admin or owner role"},
		{Rule{Permissions: []string{"apps:write"}, Roles: []string{"admin"}}, "the apps:write permission and the admin role"},
	}
	for _, tc := range tests {
		tc.rule.Paths = []string{"*"}
		s := mustCompile(t, tc.rule)
		for _, tok := range []struct {
			perms []string
			role  string
		}{{nil, ""}, {grace, "member"}, {[]string{"b", "c"}, "owner"}} {
			r := s.Check("GET", "/", tok.perms, tok.role)
			if r == nil {
				continue
			}
			if r.Need != tc.want {
				t.Errorf("%+v with %v %q: Need %q, want %q", tc.rule, tok.perms, tok.role, r.Need, tc.want)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	perm := []string{"apps:write"}
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"no path", Rule{Permissions: perm}, "no path: give at least one path pattern"},
		{"nothing required", Rule{Paths: []string{"/x"}}, "requires nothing: give at least one permission or role"},
		{"relative path", Rule{Paths: []string{"api/v1/apps*"}, Permissions: perm}, `path "api/v1/apps*" must start with / or *, e.g. /api/v1/apps*`},
		{"empty path", Rule{Paths: []string{""}, Permissions: perm}, "empty path pattern"},
		{"question mark", Rule{Paths: []string{"/api/v?"}, Permissions: perm}, "* is the only wildcard"},
		{"class", Rule{Paths: []string{"/api/[a-z]"}, Permissions: perm}, "* is the only wildcard"},
		{"encoded", Rule{Paths: []string{"/files/a%20b"}, Permissions: perm}, "match the decoded path"},
		{"double star", Rule{Paths: []string{"/api/**"}, Permissions: perm}, "** is not supported"},
		{"slash star", Rule{Paths: []string{"*/"}, Permissions: perm}, `write "*" for every path`},
		{"double slash", Rule{Paths: []string{"/api//apps"}, Permissions: perm}, "a cleaned request path never does"},
		{"dot dot", Rule{Paths: []string{"/api/../apps"}, Permissions: perm}, "a cleaned request path never does"},
		{"trailing dot", Rule{Paths: []string{"/api/."}, Permissions: perm}, "ends in a dot segment"},
		{"star with others", Rule{Methods: []string{"*", "GET"}, Paths: []string{"/x"}, Permissions: perm}, `method "*" means every method: use it alone`},
		{"bad method", Rule{Methods: []string{"GET /x"}, Paths: []string{"/x"}, Permissions: perm}, `method "GET /x" is not an HTTP method name`},
		{"empty method", Rule{Methods: []string{""}, Paths: []string{"/x"}, Permissions: perm}, `method "" is not`},
		{"bad permission", Rule{Paths: []string{"/x"}, Permissions: []string{"apps:read,apps:write"}}, `permission "apps:read,apps:write"`},
		{"empty permission", Rule{Paths: []string{"/x"}, Permissions: []string{""}}, `permission ""`},
		{"bad role", Rule{Paths: []string{"/x"}, Roles: []string{"an admin"}}, `role "an admin"`},
	}
	for _, tc := range tests {
		_, err := Compile([]Rule{{Paths: []string{"/ok"}, Permissions: perm}, tc.rule})
		if err == nil {
			t.Errorf("%s: compiled, want an error containing %q", tc.name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rule 2 (") {
			t.Errorf("%s: error %q, want it to name rule 2 and contain %q", tc.name, err, tc.want)
		}
	}
	_, err := Compile([]Rule{{Paths: []string{"x"}, Permissions: perm}, {Paths: []string{"/y"}}})
	if err == nil || !strings.Contains(err.Error(), "rule 1 (* x)") || !strings.Contains(err.Error(), "rule 2 (* /y)") {
		t.Errorf("two bad rules: error %v, want both named", err)
	}
}

// TestCompileKeepsNoReferences: changing the caller's slices after Compile changes nothing.
func TestCompileKeepsNoReferences(t *testing.T) {
	r := Rule{Methods: []string{"POST"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}}
	s := mustCompile(t, r)
	r.Methods[0], r.Paths[0], r.Permissions[0] = "GET", "/other", "apps:read"
	if s.Check("POST", "/api/v1/apps", grace, "member") == nil {
		t.Error("the compiled set followed a change to the caller's rule")
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	s := mustCompile(t,
		Rule{Methods: []string{"POST"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		Rule{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*/config", "*/admin"}, Roles: []string{"admin"}},
		Rule{Paths: []string{"/api/v1/me/"}, Permissions: []string{"apps:read"}},
	)
	for _, p := range []string{"/api/v1/apps", "/api/v1/apps/", "/api/v1/apps/1/config", "/api/v1/me"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			if n := testing.AllocsPerRun(100, func() { s.Check(m, p, ada, "admin") }); n != 0 {
				t.Errorf("Check(%s %s) allocates %v times", m, p, n)
			}
			if n := testing.AllocsPerRun(100, func() { s.Check(m, p, grace, "member") }); n != 0 {
				t.Errorf("Check(%s %s) refusing allocates %v times", m, p, n)
			}
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	s := mustCompile(b,
		Rule{Methods: []string{"POST", "PATCH", "DELETE"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		Rule{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*"}, Roles: []string{"admin"}},
		Rule{Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:read"}},
	)
	b.ReportAllocs()
	for b.Loop() {
		if s.Check("GET", "/api/v1/apps/app_123", ada, "admin") != nil {
			b.Fatal("refused")
		}
	}
}
