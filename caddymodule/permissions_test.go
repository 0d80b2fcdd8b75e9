package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/internal/testkit"
)

// withRules gives the gateway's drio_protect these permission rules, as a config with them
// would (Validate, then Provision's setup).
func withRules(t *testing.T, g *testGateway, rules ...PermissionRule) {
	t.Helper()
	g.Protect.Rules = rules
	if err := g.Protect.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := g.Protect.setup(ctx, g.App, g.Protect.logger); err != nil {
		t.Fatalf("setup: %v", err)
	}
}

// wantForbidden checks a permission refusal: 403 in the drio envelope with code forbidden,
// the insufficient_scope challenge, a message that is exactly the requirement, and nothing
// forwarded.
func wantForbidden(t *testing.T, g *testGateway, row string, resp *testkit.Response, message string, forwardedBefore int64) {
	t.Helper()
	wantResourceError(t, g, row, resp, http.StatusForbidden, respond.EnvelopeForbidden, forwardedBefore)
	e, _ := resp.JSON["error"].(map[string]any)
	if got, _ := e["message"].(string); got != message {
		t.Errorf("%s: message %q, want %q", row, got, message)
	}
	ch := resp.Header.Get("WWW-Authenticate")
	want := `Bearer error="insufficient_scope", resource_metadata="` + g.URL + `/.well-known/oauth-protected-resource", error_description="` + message + `"`
	if ch != want {
		t.Errorf("%s: WWW-Authenticate %q, want %q", row, ch, want)
	}
}

func TestPermissionRules(t *testing.T) {
	g := newTestGateway(t, nil)
	withRules(t, g,
		PermissionRule{Methods: []string{"POST", "PATCH", "DELETE"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		PermissionRule{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*"}, Roles: []string{"admin"}},
		PermissionRule{Methods: []string{"GET"}, Paths: []string{"/api/v1/me"}, Roles: []string{"admin", "owner"}},
	)
	c := g.register(t)
	ada, _ := g.login(t, c, "ada@example.com")     // admin: apps:read, apps:write
	grace, _ := g.login(t, c, "grace@example.com") // member: apps:read
	linus, _ := g.login(t, c, "linus@example.com") // no organization, role or permission
	newApp := `{"templateId":"support","name":"Rules"}`
	forbidden := refusedForbidden
	needWrite := "This request needs the apps:write permission"

	t.Run("a token with the permission passes", func(t *testing.T) {
		n := g.Resource.Requests()
		resp := g.do(t, "POST", "/api/v1/apps", "application/json", newApp, testkit.Bearer(ada))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("ada POST /api/v1/apps: %d %s, want 201", resp.StatusCode, resp.Body)
		}
		if g.Resource.Requests() != n+1 {
			t.Error("not forwarded")
		}
		_, _, h := g.Resource.LastRequest()
		if h.Get(HeaderPermissions) != "apps:read,apps:write" || h.Get(HeaderUserRole) != "admin" {
			t.Errorf("identity headers %v", h)
		}
	})

	t.Run("a token without it gets 403 and the upstream is not called", func(t *testing.T) {
		for _, tok := range []struct{ who, token string }{{"grace", grace}, {"linus", linus}} {
			before := counterValue(t, forbidden)
			n := g.Resource.Requests()
			resp := g.do(t, "POST", "/api/v1/apps", "application/json", newApp, testkit.Bearer(tok.token))
			wantForbidden(t, g, tok.who, resp, needWrite, n)
			if got := counterValue(t, forbidden) - before; got != 1 {
				t.Errorf("%s: bearer_refused_total{forbidden} moved by %v, want 1", tok.who, got)
			}
		}
	})

	t.Run("the answer reveals only the requirement", func(t *testing.T) {
		resp := g.do(t, "PATCH", "/api/v1/apps/app_x", "application/json", `{"name":"x"}`, testkit.Bearer(grace))
		for _, leak := range []string{"apps:read", "member", "grace", "Grace", "org_", "user_", "session_"} {
			if strings.Contains(resp.Body, leak) || strings.Contains(resp.Header.Get("WWW-Authenticate"), leak) {
				t.Errorf("the refusal mentions %q: %s %s", leak, resp.Header.Get("WWW-Authenticate"), resp.Body)
			}
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id on the refusal")
		}
	})

	t.Run("a method-specific rule leaves other methods open", func(t *testing.T) {
		for _, tok := range []struct{ who, token string }{{"ada", ada}, {"grace", grace}, {"linus", linus}} {
			resp := g.do(t, "GET", "/api/v1/apps", "", "", testkit.Bearer(tok.token))
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s GET /api/v1/apps: %d %s, want 200", tok.who, resp.StatusCode, resp.Body)
			}
		}
	})

	t.Run("role rules", func(t *testing.T) {
		if resp := g.do(t, "GET", "/api/v1/me", "", "", testkit.Bearer(ada)); resp.StatusCode != http.StatusOK {
			t.Errorf("ada (admin) GET /api/v1/me: %d %s, want 200", resp.StatusCode, resp.Body)
		}
		for _, tok := range []struct{ who, token string }{{"grace", grace}, {"linus", linus}} {
			n := g.Resource.Requests()
			resp := g.do(t, "GET", "/api/v1/me", "", "", testkit.Bearer(tok.token))
			wantForbidden(t, g, tok.who+" GET /api/v1/me", resp, "This request needs the admin or owner role", n)
			n = g.Resource.Requests()
			resp = g.do(t, "HEAD", "/api/v1/me", "", "", testkit.Bearer(tok.token))
			if resp.StatusCode != http.StatusForbidden || g.Resource.Requests() != n {
				t.Errorf("%s HEAD /api/v1/me: %d (forwarded: %v), want 403 like GET", tok.who, resp.StatusCode, g.Resource.Requests() != n)
			}
		}
	})

	t.Run("every matching rule applies", func(t *testing.T) {
		resp := g.do(t, "POST", "/api/v1/apps", "application/json", newApp, testkit.Bearer(ada))
		id, _ := resp.JSON["app"].(map[string]any)["id"].(string)
		if id == "" {
			t.Fatalf("creating an app: %d %s", resp.StatusCode, resp.Body)
		}
		// grace fails the first rule that matches, apps:write, before the role rule.
		n := g.Resource.Requests()
		resp = g.do(t, "DELETE", "/api/v1/apps/"+id, "", "", testkit.Bearer(grace))
		wantForbidden(t, g, "grace DELETE", resp, needWrite, n)
		if resp := g.do(t, "DELETE", "/api/v1/apps/"+id, "", "", testkit.Bearer(ada)); resp.StatusCode != http.StatusNoContent {
			t.Errorf("ada DELETE: %d %s, want 204", resp.StatusCode, resp.Body)
		}
	})

	t.Run("path tricks do not slip past a rule", func(t *testing.T) {
		for _, p := range []string{
			"/api/v1/apps/", "/API/v1/apps", "/api/v1/APPS", "//api/v1/apps", "/api/v1//apps",
			"/x/../api/v1/apps", "/api/v1/./apps", "/api/v1/x/%2e%2e/apps", "/api/v1/apps?x=1",
			"/api/v1/%61pps", "/api/v1/apps%2F..%2F..%2Fme", "/api/v1/APPS%2f1",
		} {
			n := g.Resource.Requests()
			resp := g.do(t, "POST", p, "application/json", newApp, testkit.Bearer(grace))
			wantForbidden(t, g, "grace POST "+p, resp, needWrite, n)
			resp = g.do(t, "post", p, "application/json", newApp, testkit.Bearer(grace))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("grace post (lower case) %s: %d, want 403", p, resp.StatusCode)
			}
		}
	})

	t.Run("public paths need no token and no permission", func(t *testing.T) {
		withRules(t, g, PermissionRule{Paths: []string{"*"}, Permissions: []string{"apps:admin"}})
		if resp := g.do(t, "GET", "/api/v1/templates", "", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /api/v1/templates: %d %s, want 200", resp.StatusCode, resp.Body)
		}
		n := g.Resource.Requests()
		resp := g.do(t, "GET", "/api/v1/apps", "", "", testkit.Bearer(ada))
		wantForbidden(t, g, "ada GET with a rule for every path", resp, "This request needs the apps:admin permission", n)
	})
}

// TestPermissionRulesInvalidTokenFirst: a rule never changes the answer to a request without
// a valid token (401, with the ordinary challenge).
func TestPermissionRulesInvalidTokenFirst(t *testing.T) {
	g := newTestGateway(t, nil)
	withRules(t, g, PermissionRule{Paths: []string{"*"}, Permissions: []string{"apps:write"}})
	n := g.Resource.Requests()
	resp := g.do(t, "POST", "/api/v1/apps", "", "", nil)
	wantResourceError(t, g, "no token", resp, http.StatusUnauthorized, respond.EnvelopeUnauthorized, n)
	wantChallenge(t, "no token", resp, false)
	resp = g.do(t, "POST", "/api/v1/apps", "", "", testkit.Bearer("a.b.c"))
	wantResourceError(t, g, "bad token", resp, http.StatusUnauthorized, respond.EnvelopeUnauthorized, n)
	wantChallenge(t, "bad token", resp, true)
}

func TestPermissionRulesCaddyfile(t *testing.T) {
	var p Protect
	err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`drio_protect {
		public /api/v1/templates*
		require POST,patch /api/v1/apps* apps:write
		require * /api/v1/billing/* billing:read billing:write
		require_role DELETE /api/v1/apps/* admin owner
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []PermissionRule{
		{Methods: []string{"POST", "patch"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		{Paths: []string{"/api/v1/billing/*"}, Permissions: []string{"billing:read", "billing:write"}},
		{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*"}, Roles: []string{"admin", "owner"}},
	}
	if !reflect.DeepEqual(p.Rules, want) {
		t.Errorf("rules %+v, want %+v", p.Rules, want)
	}
	js, err := json.Marshal(p.Rules[0])
	if err != nil || string(js) != `{"methods":["POST","patch"],"paths":["/api/v1/apps*"],"permissions":["apps:write"]}` {
		t.Errorf("JSON %s, %v", js, err)
	}

	for _, tc := range []struct{ input, want string }{
		{"drio_protect {\n require POST /api/v1/apps*\n}", "require needs a method (or *), a path pattern and at least one permission, e.g. require POST /api/v1/apps* apps:write"},
		{"drio_protect {\n require_role DELETE\n}", "require_role needs a method (or *), a path pattern and at least one role"},
		{"drio_protect {\n\n require POST api/v1/apps* apps:write\n}", `require: path "api/v1/apps*" must start with / or *, e.g. /api/v1/apps*, at Testfile:3`},
		{"drio_protect {\n require POST, /x apps:write\n}", `require: method "" is not an HTTP method name`},
		{"drio_protect {\n require *,GET /x apps:write\n}", `method "*" means every method: use it alone`},
		{"drio_protect {\n require_role GET /x a,b\n}", `require_role: role "a,b"`},
		{"drio_protect {\n require GET /x/%41 apps:read\n}", "write the character itself"},
	} {
		var p Protect
		err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.input, err, tc.want)
		}
	}
}

func TestPermissionRulesJSON(t *testing.T) {
	var p Protect
	if err := json.Unmarshal([]byte(`{"rules":[{"methods":["POST"],"paths":["/api/v1/apps*"],"permissions":["apps:write"]},{"paths":["*"],"roles":["admin"]}]}`), &p); err != nil {
		t.Fatal(err)
	}
	want := []PermissionRule{
		{Methods: []string{"POST"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		{Paths: []string{"*"}, Roles: []string{"admin"}},
	}
	if !reflect.DeepEqual(p.Rules, want) {
		t.Errorf("rules %+v, want %+v", p.Rules, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestPermissionRulesValidate: a bad rule is a config error naming the rule and the fix, in
// Validate and in Provision, so the handler never runs without its rules.
func TestPermissionRulesValidate(t *testing.T) {
	for _, tc := range []struct {
		p    Protect
		want string
	}{
		{Protect{Rules: []PermissionRule{{Paths: []string{"/x"}}}}, "drio_protect: permission rules: rule 1 (* /x): it requires nothing: give at least one permission or role"},
		{Protect{Rules: []PermissionRule{{Permissions: []string{"a"}}, {Methods: []string{"GET"}, Paths: []string{"x"}, Roles: []string{"admin"}}}},
			"rule 1 (* ): no path"},
		{Protect{Rules: []PermissionRule{{Permissions: []string{"a"}, Paths: []string{"/y"}}, {Methods: []string{"GET"}, Paths: []string{"x"}, Roles: []string{"admin"}}}},
			`rule 2 (GET x): path "x" must start with / or *`},
		{Protect{Public: []string{"/api/v1/templates*"}, Rules: []PermissionRule{{Paths: []string{"/api/v1/templates*"}, Permissions: []string{"a"}}}},
			`permission rule 1: path "/api/v1/templates*" is also public`},
	} {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want it to contain %q", tc.p.Rules, err, tc.want)
		}
	}

	g := newTestGateway(t, nil)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	p := &Protect{Rules: []PermissionRule{{Paths: []string{"/x"}, Permissions: []string{"has space"}}}}
	if err := p.setup(ctx, g.App, zap.NewNop()); err == nil || !strings.Contains(err.Error(), `permission "has space"`) {
		t.Errorf("setup with a bad rule = %v, want the rule's error", err)
	}
}

// TestPermissionRulesNoAllocation: with rules that a request passes, drio_protect allocates
// no more than without rules.
func TestPermissionRulesNoAllocation(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	ada, _ := g.login(t, c, "ada@example.com")
	auth := "Bearer " + ada
	r := benchRequest("/api/v1/apps/app_123")
	w := &benchWriter{h: http.Header{}}
	run := func() {
		r.Header = http.Header{"Authorization": {auth}}
		newRequestID(r)
		if err := g.Protect.ServeHTTP(w, r, okNext); err != nil {
			t.Fatal(err)
		}
	}
	run()
	without := testing.AllocsPerRun(200, run)
	withRules(t, g,
		PermissionRule{Methods: []string{"POST", "PATCH", "DELETE"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		PermissionRule{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*"}, Roles: []string{"admin"}},
		PermissionRule{Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:read"}},
	)
	run()
	with := testing.AllocsPerRun(200, run)
	if with > without {
		t.Errorf("a request that passes the rules allocates %v times, %v without rules", with, without)
	}
}

// BenchmarkProtectServeHTTPWithRules is BenchmarkProtectServeHTTP with three permission rules
// that the request is checked against and passes.
func BenchmarkProtectServeHTTPWithRules(b *testing.B) {
	g := newBenchGateway(b)
	g.protect.Rules = []PermissionRule{
		{Methods: []string{"POST", "PATCH", "DELETE"}, Paths: []string{"/api/v1/apps*"}, Permissions: []string{"apps:write"}},
		{Methods: []string{"DELETE"}, Paths: []string{"/api/v1/apps/*"}, Roles: []string{"admin"}},
		{Paths: []string{"/api/v1/me", "/api/v1/apps*"}, Permissions: []string{"apps:read"}},
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := g.protect.setup(ctx, g.app, zap.NewNop()); err != nil {
		b.Fatal(err)
	}
	benchProtectLoop(b, g)
}
