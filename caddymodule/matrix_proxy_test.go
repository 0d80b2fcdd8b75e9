package caddymodule

import (
	"net/http"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// The P rows of the test matrix (SECURITY.md) through the handler chain drio_oauth → drio_protect → the
// resource API, checking what the upstream received (Resource.LastRequest). Rows about
// reverse_proxy itself (P4 hop-by-hop, P5 X-Forwarded-*, P10 framing, P12, P13) need Caddy's
// proxy and are not handler-level.

// upstreamHeaders sends req with access and returns the headers the upstream received.
func upstreamHeaders(t *testing.T, g *testGateway, row, access string, h http.Header) http.Header {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Authorization", "Bearer "+access)
	n := g.Resource.Requests()
	resp := g.do(t, "GET", "/api/v1/me", "", "", h)
	if resp.StatusCode != http.StatusOK || g.Resource.Requests() != n+1 {
		t.Fatalf("%s: got %d %s, want 200 from the upstream", row, resp.StatusCode, resp.Body)
	}
	_, _, got := g.Resource.LastRequest()
	return got
}

// wantOnlyGatewayIdentity asserts that every identity-like header the upstream saw is one of
// the gateway's own, with exactly the gateway's value.
func wantOnlyGatewayIdentity(t *testing.T, row string, got http.Header, want map[string]string) {
	t.Helper()
	for name, vals := range got {
		if !isIdentityHeader(name, nil) || name == HeaderRequestID {
			continue
		}
		w, ok := want[http.CanonicalHeaderKey(name)]
		if !ok || name != http.CanonicalHeaderKey(name) {
			t.Errorf("%s: the upstream received client header %s: %q", row, name, vals)
			continue
		}
		if len(vals) != 1 || vals[0] != w {
			t.Errorf("%s: the upstream received %s = %q, want only %q", row, name, vals, w)
		}
	}
	for name, w := range want {
		if got.Get(name) != w {
			t.Errorf("%s: the upstream's %s = %q, want %q", row, name, got.Get(name), w)
		}
	}
}

func TestMatrixProxy(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	ada, _ := g.login(t, c, "ada@example.com")
	linus, _ := g.login(t, c, "linus@example.com")
	adaWant := map[string]string{
		HeaderUserID: workosmock.DemoAdaID, HeaderOrgID: workosmock.DemoOrgID, HeaderSessionID: jwtSID(t, ada),
		HeaderUserEmail: "ada@example.com", HeaderUserRole: "admin", HeaderPermissions: "apps:read,apps:write",
	}
	linusWant := map[string]string{HeaderUserID: workosmock.DemoLinusID, HeaderSessionID: jwtSID(t, linus), HeaderUserEmail: "linus@example.com"}
	spoof := func() http.Header {
		h := http.Header{
			"X-Auth-User": {"admin"}, "X-User-Id": {"1"}, "X-Forwarded-Email": {"ceo@x"},
			"X-Forwarded-User": {"root"}, "Remote-User": {"root"}, "X-Remote-User": {"root"},
			HeaderRequestID: {"spoofed"},
		}
		for _, name := range []string{HeaderUserID, HeaderOrgID, HeaderSessionID, HeaderUserEmail, HeaderUserRole, HeaderPermissions, "X-Drio-Anything"} {
			h[name] = []string{"spoofed", "spoofed-too"}
		}
		return h
	}

	t.Run("P1 identity headers", func(t *testing.T) {
		got := upstreamHeaders(t, g, "P1", ada, spoof())
		wantOnlyGatewayIdentity(t, "P1", got, adaWant)
		// A user without an organization: client-sent org, role and permissions must not survive.
		got = upstreamHeaders(t, g, "P1 no org", linus, spoof())
		wantOnlyGatewayIdentity(t, "P1 no org", got, linusWant)
		if v := got.Values(HeaderRequestID); len(v) != 1 || v[0] == "spoofed" {
			t.Errorf("P1: the upstream's X-Request-Id is %q, want only the gateway's", v)
		}
	})

	t.Run("P2 underscore and case variants", func(t *testing.T) {
		h := http.Header{}
		for _, name := range []string{"X_Auth_User", "x_forwarded_email", "x-AUTH-user", "X_Drio_User_Id", "x_drio_org_id", "X-DRIO-USER-ROLE", "remote_user"} {
			h[name] = []string{"admin"}
		}
		got := upstreamHeaders(t, g, "P2", linus, h)
		wantOnlyGatewayIdentity(t, "P2", got, linusWant)
		for name := range got {
			if strings.Contains(name, "_") {
				t.Errorf("P2: header %s reached the upstream", name)
			}
		}
	})

	t.Run("P3 Connection cannot remove gateway headers", func(t *testing.T) {
		h := http.Header{"Connection": {"X-Auth-User, Authorization, X-Drio-User-Id, x_drio_session_id, keep-alive"}}
		got := upstreamHeaders(t, g, "P3", ada, h)
		wantOnlyGatewayIdentity(t, "P3", got, adaWant)
		for _, v := range got.Values("Connection") {
			for _, tok := range strings.Split(v, ",") {
				tok = strings.TrimSpace(tok)
				if isIdentityHeader(tok, nil) || strings.EqualFold(tok, "Authorization") {
					t.Errorf("P3: Connection still names %q upstream", tok)
				}
			}
		}
	})

	t.Run("P6 no Authorization upstream", func(t *testing.T) {
		got := upstreamHeaders(t, g, "P6", ada, nil)
		if v, ok := got["Authorization"]; ok {
			t.Errorf("P6: the upstream received Authorization %d values", len(v))
		}
		// Public routes too.
		resp := g.do(t, "GET", "/api/v1/templates", "", "", testkit.Bearer(ada))
		if resp.StatusCode >= 500 {
			t.Errorf("P6: public route got %d", resp.StatusCode)
		}
		if _, _, h := g.Resource.LastRequest(); h.Get("Authorization") != "" {
			t.Errorf("P6: a public route forwarded Authorization")
		}
	})

	t.Run("P8 module cookies", func(t *testing.T) {
		h := http.Header{"Cookie": {"drio_bind=abc; theme=dark", "__Host-drio_consent=xyz; drio_consent=q; lang=en"}}
		got := upstreamHeaders(t, g, "P8", ada, h)
		cookies := strings.Join(got.Values("Cookie"), "; ")
		if strings.Contains(cookies, "drio_") {
			t.Errorf("P8: module cookies reached the upstream: %q", cookies)
		}
		if !strings.Contains(cookies, "theme=dark") || !strings.Contains(cookies, "lang=en") {
			t.Errorf("P8: other cookies were dropped: %q", cookies)
		}
	})

	t.Run("P9 path tricks", func(t *testing.T) {
		for _, p := range []string{
			"/api/v1/../admin", "/api/v1/%2e%2e/admin", "//api/v1/x", "/API/v1/x", "/api/v1x",
			"/.well-known/../api/v1/x", "/api/v1/x?/.well-known/", "/api/v1/me?/api/v1/templates",
			"/api/v1/templates/../me", "/api/v1/templates/%2e%2e/me", "/api/v1/templates/..%2fme",
			"/api/v1/templates/%2E%2E/apps", "/api/v1/auth/../me", "/api/v1/auth/..%2f..%2fme",
			"/api/v1/templates%2f..%2fme", "/api/v1//me", "/api/v1/me/", "/api/v1/me;/templates",
		} {
			n := g.Resource.Requests()
			resp := g.do(t, "GET", p, "", "", nil)
			switch {
			case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound:
			case resp.StatusCode == http.StatusBadRequest && g.Resource.Requests() == n:
			default:
				t.Errorf("P9 %s: got %d, want 401 or 404", p, resp.StatusCode)
			}
			if g.Resource.Requests() != n {
				_, path, _ := g.Resource.LastRequest()
				if !strings.HasPrefix(path, "/api/v1/templates") {
					t.Errorf("P9 %s: forwarded unauthenticated as %q", p, path)
				}
			}
		}
	})
}
