package respond

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

func TestWriteOAuthError(t *testing.T) {
	for _, tc := range []struct {
		name           string
		err            *Error
		wantStatus     int
		wantCode       string
		wantRetryAfter string
		wantWWWAuth    string
	}{
		{"R2/invalid-redirect-uri", InvalidRedirectURI("redirect_uris must hold at least one URI"), 400, CodeInvalidRedirectURI, "", ""},
		{"R10/invalid-client-metadata", InvalidClientMetadata("At most %d redirect_uris are allowed", 10), 400, CodeInvalidClientMetadata, "", ""},
		{"T2/invalid-grant", InvalidGrant("bad verifier"), 400, CodeInvalidGrant, "", ""},
		{"T11/missing-field", MissingField("code"), 400, CodeInvalidRequest, "", ""},
		{"T18/invalid-target", InvalidTarget("x"), 400, CodeInvalidTarget, "", ""},
		{"T16/invalid-client-basic", func() *Error {
			e := InvalidClient("client authentication failed")
			e.WWWAuthenticate = `Basic realm="drio"`
			return e
		}(), 401, CodeInvalidClient, "", `Basic realm="drio"`},
		{"I1/server-error", Server("boom"), 500, CodeServerError, "", ""},
		{"R22/rate-limited-1.2s", RateLimited(1200 * time.Millisecond), 429, CodeTemporarilyUnavailable, "2", ""},
		{"R22/rate-limited-1ms", RateLimited(time.Millisecond), 429, CodeTemporarilyUnavailable, "1", ""},
		{"R22/rate-limited-exact-3s", RateLimited(3 * time.Second), 429, CodeTemporarilyUnavailable, "3", ""},
		{"F/unavailable-2.001s", Unavailable(2001*time.Millisecond, "WorkOS is down"), 503, CodeTemporarilyUnavailable, "3", ""},
		{"F/unavailable-no-retry", Unavailable(0, "down"), 503, CodeTemporarilyUnavailable, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Write(w, httptest.NewRequest(http.MethodPost, "/api/v1/auth/token", nil), tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("Write(%v) status = %d, want %d", tc.err, w.Code, tc.wantStatus)
			}
			h := w.Header()
			for name, want := range map[string]string{
				"Content-Type":     "application/json",
				"Cache-Control":    "no-store",
				"Retry-After":      tc.wantRetryAfter,
				"WWW-Authenticate": tc.wantWWWAuth,
			} {
				if got := h.Get(name); got != want {
					t.Errorf("Write(%v) %s = %q, want %q", tc.err, name, got, want)
				}
			}
			m := decodeOAuthError(t, w.Body.Bytes())
			if m["error"] != tc.wantCode {
				t.Errorf("Write(%v) error = %q, want %q", tc.err, m["error"], tc.wantCode)
			}
			if m["error_description"] != tc.err.Description || m["error_description"] == "" {
				t.Errorf("Write(%v) error_description = %q, want %q", tc.err, m["error_description"], tc.err.Description)
			}
			if len(m) != 2 {
				t.Errorf("Write(%v) body = %v, want exactly error and error_description", tc.err, m)
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
		if got := RetrySeconds(tc.d); got != tc.want {
			t.Errorf("RetrySeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestOAuthErrorDescriptionIsNotAFormat(t *testing.T) {
	e := MissingField("%s%d")
	if !strings.Contains(e.Description, "%s%d") {
		t.Errorf("MissingField(%q).Description = %q, want the name verbatim", "%s%d", e.Description)
	}
}

func TestWriteResourceError(t *testing.T) {
	// The gateway passes Caddy's per-request UUID; Write must echo it unchanged.
	const wantID = "0b9f4c8e-6d2a-4f4e-9a51-3c7d2e8b1f60"
	r := httptest.NewRequest(http.MethodGet, "/api/v1/things", nil)
	w := httptest.NewRecorder()
	Write(w, r, Envelope(http.StatusUnauthorized, EnvelopeUnauthorized, "A valid bearer token is required", wantID))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("Write(Envelope) status = %d, want %d", w.Code, http.StatusUnauthorized)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Write(Envelope) Content-Type = %q, want %q", got, "application/json")
	}
	var env map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("Write(Envelope) body %q: %v", w.Body.String(), err)
	}
	if len(env) != 1 || env["error"] == nil {
		t.Fatalf("Write(Envelope) body = %q, want exactly {\"error\":{…}}", w.Body.String())
	}
	inner := env["error"]
	want := map[string]any{
		"code":      EnvelopeUnauthorized,
		"message":   "A valid bearer token is required",
		"details":   nil,
		"requestId": wantID,
	}
	if len(inner) != len(want) {
		t.Errorf("Write(Envelope) error = %v, want fields %v", inner, want)
	}
	for k, v := range want {
		got, present := inner[k]
		if !present || got != v {
			t.Errorf("Write(Envelope) error[%q] = %v (present %v), want %v", k, got, present, v)
		}
	}
	if !strings.Contains(w.Body.String(), `"details":null`) {
		t.Errorf("Write(Envelope) body = %q, want \"details\":null", w.Body.String())
	}
}
