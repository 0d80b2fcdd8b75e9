package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

// TestRateLimiterFallbackRemoteAddr checks that a request without Caddy's client IP variable is
// rate limited by its RemoteAddr, and that the variable, when Caddy set it, wins.
func TestRateLimiterFallbackRemoteAddr(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.RemoteAddr = "198.51.100.7:1234"
	if got := clientIP(r); got != r.RemoteAddr {
		t.Fatalf("clientIP(no client IP var) = %q, want RemoteAddr %q", got, r.RemoteAddr)
	}
	l := oauth.NewMemoryLimiter(oauth.RateConfig{PerSecond: 1, Burst: 1})
	key := "register|" + clientIP(r)
	if ok, _ := l.Allow(r.Context(), key); !ok {
		t.Fatalf("Allow(%q) = false, want true", key)
	}
	if ok, _ := l.Allow(r.Context(), key); ok {
		t.Errorf("Allow(%q) again = true, want false", key)
	}

	withVar := r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.1"}))
	if got := clientIP(withVar); got != "192.0.2.1" {
		t.Errorf("clientIP(client IP var 192.0.2.1, RemoteAddr %s) = %q, want %q", r.RemoteAddr, got, "192.0.2.1")
	}
}
