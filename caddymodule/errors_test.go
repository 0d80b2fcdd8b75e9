package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// decodeOAuthError parses an OAuth error body, refusing any field other than error and
// error_description.
func decodeOAuthError(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var m map[string]string
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("OAuth error body %q is not a JSON object of strings: %v", body, err)
	}
	for k := range m {
		if k != "error" && k != "error_description" {
			t.Errorf("OAuth error body %q has field %q, want only error and error_description", body, k)
		}
	}
	return m
}

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

func TestWriteOAuthError(t *testing.T) {
	for _, tc := range []struct {
		name           string
		err            *oauthError
		wantStatus     int
		wantCode       string
		wantRetryAfter string
		wantWWWAuth    string
	}{
		{"R2/invalid-redirect-uri", errInvalidRedirectURI("redirect_uris must hold at least one URI"), 400, codeInvalidRedirectURI, "", ""},
		{"R10/invalid-client-metadata", errInvalidClientMetadata("At most %d redirect_uris are allowed", 10), 400, codeInvalidClientMetadata, "", ""},
		{"T2/invalid-grant", errInvalidGrant("bad verifier"), 400, codeInvalidGrant, "", ""},
		{"T11/missing-field", errMissingField("code"), 400, codeInvalidRequest, "", ""},
		{"T18/invalid-target", errInvalidTarget("x"), 400, codeInvalidTarget, "", ""},
		{"T16/invalid-client-basic", func() *oauthError {
			e := errInvalidClient("client authentication failed")
			e.wwwAuthenticate = `Basic realm="drio"`
			return e
		}(), 401, codeInvalidClient, "", `Basic realm="drio"`},
		{"I1/server-error", errServer("boom"), 500, codeServerError, "", ""},
		{"R22/rate-limited-1.2s", errRateLimited(1200 * time.Millisecond), 429, codeTemporarilyUnavailable, "2", ""},
		{"R22/rate-limited-1ms", errRateLimited(time.Millisecond), 429, codeTemporarilyUnavailable, "1", ""},
		{"R22/rate-limited-exact-3s", errRateLimited(3 * time.Second), 429, codeTemporarilyUnavailable, "3", ""},
		{"F/unavailable-2.001s", errUnavailable(2001*time.Millisecond, "WorkOS is down"), 503, codeTemporarilyUnavailable, "3", ""},
		{"F/unavailable-no-retry", errUnavailable(0, "down"), 503, codeTemporarilyUnavailable, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeOAuthError(w, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("writeOAuthError(%v) status = %d, want %d", tc.err, w.Code, tc.wantStatus)
			}
			h := w.Header()
			for name, want := range map[string]string{
				"Content-Type":     "application/json",
				"Cache-Control":    "no-store",
				"Retry-After":      tc.wantRetryAfter,
				"WWW-Authenticate": tc.wantWWWAuth,
			} {
				if got := h.Get(name); got != want {
					t.Errorf("writeOAuthError(%v) %s = %q, want %q", tc.err, name, got, want)
				}
			}
			m := decodeOAuthError(t, w.Body.Bytes())
			if m["error"] != tc.wantCode {
				t.Errorf("writeOAuthError(%v) error = %q, want %q", tc.err, m["error"], tc.wantCode)
			}
			if m["error_description"] != tc.err.description || m["error_description"] == "" {
				t.Errorf("writeOAuthError(%v) error_description = %q, want %q", tc.err, m["error_description"], tc.err.description)
			}
			if len(m) != 2 {
				t.Errorf("writeOAuthError(%v) body = %v, want exactly error and error_description", tc.err, m)
			}
		})
	}
}

func TestRetrySeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 1}, {-time.Second, 1}, {time.Nanosecond, 1}, {time.Second, 1},
		{time.Second + time.Nanosecond, 2}, {1500 * time.Millisecond, 2}, {59 * time.Second, 59},
	} {
		if got := retrySeconds(tc.d); got != tc.want {
			t.Errorf("retrySeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestOAuthErrorDescriptionIsNotAFormat(t *testing.T) {
	e := errMissingField("%s%d")
	if !strings.Contains(e.description, "%s%d") {
		t.Errorf("errMissingField(%q).description = %q, want the name verbatim", "%s%d", e.description)
	}
}

func TestWriteResourceError(t *testing.T) {
	r, repl := caddyRequest(httptest.NewRequest(http.MethodGet, "/api/v1/things", nil))
	wantID, ok := repl.GetString("http.request.uuid")
	if !ok || len(wantID) != 36 {
		t.Fatalf("caddy replacer http.request.uuid = %q, %v, want a UUID", wantID, ok)
	}
	if got := requestID(r); got != wantID {
		t.Fatalf("requestID(r) = %q, want %q (the request's Caddy UUID)", got, wantID)
	}

	w := httptest.NewRecorder()
	writeResourceError(w, r, http.StatusUnauthorized, resUnauthorized, "A valid bearer token is required")
	if w.Code != http.StatusUnauthorized {
		t.Errorf("writeResourceError status = %d, want %d", w.Code, http.StatusUnauthorized)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("writeResourceError Content-Type = %q, want %q", got, "application/json")
	}
	var env map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("writeResourceError body %q: %v", w.Body.String(), err)
	}
	if len(env) != 1 || env["error"] == nil {
		t.Fatalf("writeResourceError body = %q, want exactly {\"error\":{…}}", w.Body.String())
	}
	inner := env["error"]
	want := map[string]any{
		"code":      resUnauthorized,
		"message":   "A valid bearer token is required",
		"details":   nil,
		"requestId": wantID,
	}
	if len(inner) != len(want) {
		t.Errorf("writeResourceError error = %v, want fields %v", inner, want)
	}
	for k, v := range want {
		got, present := inner[k]
		if !present || got != v {
			t.Errorf("writeResourceError error[%q] = %v (present %v), want %v", k, got, present, v)
		}
	}
	if !strings.Contains(w.Body.String(), `"details":null`) {
		t.Errorf("writeResourceError body = %q, want \"details\":null", w.Body.String())
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
