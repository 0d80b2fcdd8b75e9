package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// caddyRequest returns r with the context Caddy's server gives a request (a replacer with the
// http.* placeholders, the vars table and the extra log fields), as caddyhttp.PrepareRequest
// does, so {http.request.uuid} resolves and stays stable within the request.
func caddyRequest(r *http.Request) (*http.Request, *caddy.Replacer) {
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{
		caddyhttp.ClientIPVarKey: "192.0.2.1",
	})
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	r = r.WithContext(ctx)
	repl := caddyhttp.NewTestReplacer(r)
	return r, repl
}

// TestRequestIDIsCaddys checks that the id in the envelope and the logs is the request's own
// Caddy UUID ({http.request.uuid}), so it matches Caddy's access log.
func TestRequestIDIsCaddys(t *testing.T) {
	r, repl := caddyRequest(httptest.NewRequest(http.MethodGet, "/api/v1/things", nil))
	wantID, ok := repl.GetString("http.request.uuid")
	if !ok || len(wantID) != 36 {
		t.Fatalf("caddy replacer http.request.uuid = %q, %v, want a UUID", wantID, ok)
	}
	if got := requestID(r); got != wantID {
		t.Fatalf("requestID(r) = %q, want %q (the request's Caddy UUID)", got, wantID)
	}
	if got := clientIP(r); got != "192.0.2.1" {
		t.Errorf("clientIP(r) = %q, want Caddy's client IP 192.0.2.1", got)
	}
}

func TestRequestIDWithoutCaddy(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if got := requestID(r); got != "" {
		t.Errorf("requestID(plain request) = %q, want %q", got, "")
	}
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	if got := requestID(r); got != "" {
		t.Errorf("requestID(request with an empty replacer) = %q, want %q", got, "")
	}
	repl.Set("http.request.uuid", "11111111-2222-3333-4444-555555555555")
	if got := requestID(r); got != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("requestID(request with uuid set) = %q, want %q", got, "11111111-2222-3333-4444-555555555555")
	}
}
