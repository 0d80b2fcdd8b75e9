package caddymodule

// matrix_discovery_test.go proves rows D1-D6 of the security matrix (§2.1), plus CORS
// preflight on the fetch-style endpoints.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/internal/testkit"
)

const dacHTTPSIssuer = "https://gw.example"

func TestMatrixDiscovery(t *testing.T) {
	// An https issuer, as in production, so "all endpoints are https" can be checked.
	g := newTestGateway(t, func(a *App) { a.Issuer = dacHTTPSIssuer })
	asPath := "/.well-known/oauth-authorization-server"
	prmPath := "/.well-known/oauth-protected-resource"

	var d1Body string
	t.Run("D1/as-metadata", func(t *testing.T) {
		before := g.snapshot(t)
		resp := g.do(t, "GET", asPath, "", "", nil)
		g.assertInvariants(t, before, resp, changes())
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("D1: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		d1Body = resp.Body
		m := resp.JSON
		if m["issuer"] != dacHTTPSIssuer {
			t.Errorf("D1: issuer %v, want %s", m["issuer"], dacHTTPSIssuer)
		}
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "registration_endpoint"} {
			v, _ := m[k].(string)
			if !strings.HasPrefix(v, dacHTTPSIssuer+"/") {
				t.Errorf("D1: %s = %q, want an https URL under the issuer", k, v)
			}
		}
		wantList := func(key string, want ...string) {
			t.Helper()
			got := dacStrings(m[key])
			if !slices.Equal(got, want) {
				t.Errorf("D1: %s = %v, want %v", key, got, want)
			}
		}
		wantList("code_challenge_methods_supported", "S256")
		wantList("response_types_supported", "code")
		wantList("grant_types_supported", "authorization_code", "refresh_token")
		if !slices.Contains(dacStrings(m["token_endpoint_auth_methods_supported"]), "none") {
			t.Errorf("D1: token_endpoint_auth_methods_supported lacks none")
		}
		for _, bad := range []string{`"plain"`, `"password"`, `"implicit"`, `"client_credentials"`, `"token"`} {
			if strings.Contains(resp.Body, bad) {
				t.Errorf("D1: metadata lists %s", bad)
			}
		}
	})

	t.Run("D2/host-and-forwarded-headers-ignored", func(t *testing.T) {
		for _, path := range []string{asPath, prmPath, prmPath + "/api/v1"} {
			plain := g.do(t, "GET", path, "", "", nil)
			req, _ := http.NewRequest("GET", g.URL+path, nil)
			req.Host = "evil.test"
			req.Header.Set("X-Forwarded-Host", "evil.test")
			req.Header.Set("X-Forwarded-Proto", "http")
			req.Header.Set("Forwarded", "host=evil.test;proto=http")
			before := g.snapshot(t)
			resp := testkit.RoundTrip(t, testkit.NoRedirects(nil), req)
			g.assertInvariants(t, before, resp, changes())
			if resp.StatusCode != http.StatusOK || resp.Body != plain.Body {
				t.Errorf("D2 %s: %d, body differs from the plain request:\n%s\n%s", path, resp.StatusCode, resp.Body, plain.Body)
			}
			if strings.Contains(resp.Body, "evil.test") || strings.Contains(resp.Body, "http://") {
				t.Errorf("D2 %s: body carries evil.test or http://: %s", path, resp.Body)
			}
		}
		if d1Body == "" {
			t.Error("D2: D1 did not run")
		}
	})

	t.Run("D3/protected-resource-metadata", func(t *testing.T) {
		for path, resource := range map[string]string{prmPath: dacHTTPSIssuer, prmPath + "/api/v1": dacHTTPSIssuer + "/api/v1"} {
			before := g.snapshot(t)
			resp := g.do(t, "GET", path, "", "", nil)
			g.assertInvariants(t, before, resp, changes())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("D3 %s: %d", path, resp.StatusCode)
			}
			m := resp.JSON
			if m["resource"] != resource {
				t.Errorf("D3 %s: resource %v, want %s", path, m["resource"], resource)
			}
			if r, _ := m["resource"].(string); strings.Contains(r, "#") || strings.HasSuffix(r, "/") {
				t.Errorf("D3 %s: resource %q has a fragment or trailing slash", path, r)
			}
			if !slices.Contains(dacStrings(m["authorization_servers"]), dacHTTPSIssuer) {
				t.Errorf("D3 %s: authorization_servers %v lacks the issuer", path, m["authorization_servers"])
			}
			if got := dacStrings(m["bearer_methods_supported"]); !slices.Equal(got, []string{"header"}) {
				t.Errorf("D3 %s: bearer_methods_supported %v", path, got)
			}
		}
	})

	t.Run("D4/well-known-refuses-writes", func(t *testing.T) {
		for _, path := range []string{asPath, prmPath, prmPath + "/api/v1"} {
			for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
				before := g.snapshot(t)
				resp := g.do(t, method, path, "application/json", `{"issuer":"https://evil.test"}`, nil)
				g.assertInvariants(t, before, resp, changes())
				if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
					t.Errorf("D4 %s %s: %d Allow=%q, want 405 with Allow", method, path, resp.StatusCode, resp.Header.Get("Allow"))
				}
			}
			if got := g.do(t, "GET", path, "", "", nil); strings.Contains(got.Body, "evil.test") {
				t.Errorf("D4 %s: a write changed the document", path)
			}
		}
	})

	t.Run("D5/unauthenticated-api-challenge", func(t *testing.T) {
		for _, path := range []string{"/api/v1/x", "/api/v1/me"} {
			before := g.snapshot(t)
			resp := g.do(t, "GET", path, "", "", nil)
			g.assertInvariants(t, before, resp, changes())
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("D5 %s: %d, want 401", path, resp.StatusCode)
			}
			www := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(www, `Bearer resource_metadata="`+dacHTTPSIssuer+`/.well-known/oauth-protected-resource`) {
				t.Errorf("D5 %s: WWW-Authenticate %q", path, www)
			}
			if strings.Contains(www, "error=") {
				t.Errorf("D5 %s: challenge without a token carries error=: %q", path, www)
			}
		}
	})

	t.Run("D6/no-cors-on-authorize", func(t *testing.T) {
		for _, path := range []string{"/api/v1/auth/authorize", "/api/v1/auth/callback"} {
			for _, method := range []string{"OPTIONS", "GET"} {
				h := http.Header{"Origin": {"https://evil.test"}}
				if method == "OPTIONS" {
					h.Set("Access-Control-Request-Method", "GET")
				}
				before := g.snapshot(t)
				resp := g.do(t, method, path+"?client_id=nope", "", "", h)
				g.assertInvariants(t, before, resp, changes())
				for k := range resp.Header {
					if strings.HasPrefix(strings.ToLower(k), "access-control-") {
						t.Errorf("D6 %s %s: CORS header %s: %q", method, path, k, resp.Header.Get(k))
					}
				}
			}
		}
	})

	t.Run("D6/cors-preflight-on-fetch-endpoints", func(t *testing.T) {
		for _, path := range []string{"/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/refresh", asPath, prmPath, prmPath + "/api/v1"} {
			h := http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"},
				"Access-Control-Request-Headers": {"content-type"}}
			before := g.snapshot(t)
			resp := g.do(t, "OPTIONS", path, "", "", h)
			g.assertInvariants(t, before, resp, changes())
			if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
				t.Errorf("CORS %s: preflight %d", path, resp.StatusCode)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") == "" ||
				!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
				t.Errorf("CORS %s: preflight headers %v", path, resp.Header)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("CORS %s: credentials allowed", path)
			}
		}
		// The actual request carries the header too.
		resp := g.do(t, "GET", asPath, "", "", http.Header{"Origin": {"https://app.example"}})
		if resp.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("CORS: GET %s with Origin has no Access-Control-Allow-Origin", asPath)
		}
	})
}

// dacStrings converts a decoded JSON array of strings.
func dacStrings(v any) []string {
	raw, _ := json.Marshal(v)
	var out []string
	_ = json.Unmarshal(raw, &out)
	return out
}
