package caddymodule

import (
	"net/http"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// TestGatewayInProcess is a smoke test of the in-process harness itself: one whole flow and
// a protected call.
func TestGatewayInProcess(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")
	resp := g.do(t, "GET", "/api/v1/me", "", "", testkit.Bearer(access))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/me: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestConsentFormActionAllowsTheAuthKitChain is a regression test: browsers apply the
// consent page's form-action to every redirect after the POST, and real AuthKit goes through
// its own https domain before our callback and the client, so all of them must be allowed.
func TestConsentFormActionAllowsTheAuthKitChain(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	resp := g.do(t, "GET", "/api/v1/auth/authorize?response_type=code&client_id="+c.ClientID+
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", "", "", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"form-action 'self' https: " + g.App.WorkOS.Endpoint, "http://127.0.0.1:51004", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("consent CSP %q lacks %q", csp, want)
		}
	}
}
