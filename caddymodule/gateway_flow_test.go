package caddymodule

import (
	"net/http"
	"testing"
)

// TestGatewayInProcess is a smoke test of the in-process harness itself: one whole flow and
// a protected call.
func TestGatewayInProcess(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")
	resp := g.do(t, "GET", "/api/v1/me", "", "", bearer(access))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/me: %d %s", resp.StatusCode, resp.Body)
	}
}
