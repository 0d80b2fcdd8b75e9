package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// What browser-based and native clients rely on beyond the happy path: CORS where a page
// calls with fetch and none on the navigations (matrix D6), WWW-Authenticate readable by a
// page, public clients refused when they present a secret, and RFC 8707 resource checks.

const corsOrigin = "https://inspector.example"

func corsRequest(t *testing.T, method, u string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Origin", corsOrigin)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func TestCORSPreflightAndHeaders(t *testing.T) {
	s := startStack(t, stackOptions{})

	// Preflights from a browser-based MCP client (the Inspector web UI sends MCP-Protocol-Version).
	for _, tc := range []struct{ path, method string }{
		{"/api/v1/auth/register", "POST"},
		{"/api/v1/auth/token", "POST"},
		{"/api/v1/auth/refresh", "POST"},
		{"/.well-known/oauth-authorization-server", "GET"},
		{"/.well-known/oauth-protected-resource", "GET"},
		{"/.well-known/oauth-protected-resource/api/v1", "GET"},
	} {
		resp := corsRequest(t, http.MethodOptions, s.GW+tc.path, map[string]string{
			"Access-Control-Request-Method":  tc.method,
			"Access-Control-Request-Headers": "content-type, mcp-protocol-version",
		})
		if resp.StatusCode/100 != 2 {
			t.Errorf("preflight %s: status %d", tc.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("preflight %s: Access-Control-Allow-Origin %q, want *", tc.path, got)
		}
		if !headerHas(resp.Header, "Access-Control-Allow-Methods", tc.method) {
			t.Errorf("preflight %s: Access-Control-Allow-Methods %q lacks %s", tc.path, resp.Header.Get("Access-Control-Allow-Methods"), tc.method)
		}
		for _, h := range []string{"Content-Type", "MCP-Protocol-Version", "Authorization"} {
			if !headerHas(resp.Header, "Access-Control-Allow-Headers", h) {
				t.Errorf("preflight %s: Access-Control-Allow-Headers %q lacks %s", tc.path, resp.Header.Get("Access-Control-Allow-Headers"), h)
			}
		}
	}

	// The actual requests carry Allow-Origin too.
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/v1"} {
		resp := corsRequest(t, http.MethodGet, s.GW+path, map[string]string{"MCP-Protocol-Version": "2025-11-25"})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s from a page: status %d, Allow-Origin %q", path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	body, _ := json.Marshal(map[string]any{"client_name": "cors", "redirect_uris": []string{"http://127.0.0.1:51005/cb"}, "token_endpoint_auth_method": "none"})
	req, _ := http.NewRequest(http.MethodPost, s.GW+"/api/v1/auth/register", bytes.NewReader(body))
	req.Header.Set("Origin", corsOrigin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("POST register from a page: status %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// D6: authorize and callback are navigations, never CORS.
	c := s.register(t, "cors nav")
	authURL := c.Config.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	for _, tc := range []struct{ method, u string }{
		{http.MethodGet, authURL},
		{http.MethodOptions, authURL},
		{http.MethodPost, s.GW + "/api/v1/auth/authorize"},
		{http.MethodGet, s.GW + "/api/v1/auth/callback?code=x&state=y"},
		{http.MethodOptions, s.GW + "/api/v1/auth/callback"},
	} {
		resp := corsRequest(t, tc.method, tc.u, map[string]string{"Access-Control-Request-Method": "POST"})
		for name := range resp.Header {
			if strings.HasPrefix(strings.ToLower(name), "access-control-") {
				t.Errorf("%s %s: CORS header %s: %q (D6: none on authorize/callback)", tc.method, tc.u, name, resp.Header.Get(name))
			}
		}
	}

	// A page can read WWW-Authenticate on a 401 from a protected route, with and without a token.
	for _, token := range []string{"", "not-a-token"} {
		hdr := map[string]string{}
		if token != "" {
			hdr["Authorization"] = "Bearer " + token
		}
		resp := corsRequest(t, http.MethodGet, s.GW+"/api/v1/me", hdr)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /api/v1/me (token %q): status %d", token, resp.StatusCode)
		}
		if !headerHas(resp.Header, "Access-Control-Expose-Headers", "WWW-Authenticate") {
			t.Errorf("401 (token %q): Access-Control-Expose-Headers %q lacks WWW-Authenticate", token, resp.Header.Get("Access-Control-Expose-Headers"))
		}
		www := resp.Header.Get("WWW-Authenticate")
		if !strings.Contains(www, `resource_metadata="`+s.GW+`/.well-known/oauth-protected-resource"`) || !strings.Contains(www, `scope="openid profile email"`) {
			t.Errorf("401 (token %q): WWW-Authenticate %q", token, www)
		}
		if (token != "") != strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("401 (token %q): WWW-Authenticate %q (error=\"invalid_token\" only when a token was sent)", token, www)
		}
	}
}

// TestCORSPublicClientSecretsAndResource: a client registering client_secret_basic or
// client_secret_post is registered as public (none); presenting a secret at the token endpoint
// is invalid_client (401); a foreign or mismatched RFC 8707 resource is invalid_target at
// authorize (a redirect to the client with iss) and at token (400), and a refused token
// request does not consume the code.
func TestCORSPublicClientSecretsAndResource(t *testing.T) {
	s := startStack(t, stackOptions{})
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			redirect := "http://127.0.0.1:51006/callback"
			body, _ := json.Marshal(map[string]any{
				"client_name": "secretive " + method, "redirect_uris": []string{redirect},
				"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
				"token_endpoint_auth_method": method,
			})
			resp, err := http.Post(s.GW+"/api/v1/auth/register", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			raw := readAll(t, resp.Body)
			resp.Body.Close()
			var reg map[string]any
			_ = json.Unmarshal([]byte(raw), &reg)
			if resp.StatusCode != http.StatusCreated || str(reg, "token_endpoint_auth_method") != "none" || str(reg, "client_secret") != "" {
				t.Fatalf("register with %s: %d %s (want 201, registered as none, no secret)", method, resp.StatusCode, raw)
			}
			c := &testkit.Registration{ClientID: str(reg, "client_id"), RedirectURI: redirect, Config: s.kit.OAuth2Config(str(reg, "client_id"), redirect)}
			api := s.GW + "/api/v1"
			flow := s.kit.StartFlow(t, c, "ada@example.com", oauth2.SetAuthURLParam("resource", api))
			res := flow.Redirect(t)
			if res.Query().Get("iss") != s.GW {
				t.Errorf("authorization response iss = %q, want %q", res.Query().Get("iss"), s.GW)
			}
			form := func(extra ...string) url.Values {
				f := url.Values{"grant_type": {"authorization_code"}, "code": {res.Query().Get("code")}, "code_verifier": {flow.Verifier},
					"client_id": {c.ClientID}, "redirect_uri": {redirect}, "resource": {api}}
				for i := 0; i+1 < len(extra); i += 2 {
					f.Set(extra[i], extra[i+1])
				}
				return f
			}
			tokenReq := func(f url.Values, basic bool) (*http.Response, map[string]any) {
				req, _ := http.NewRequest(http.MethodPost, s.GW+"/api/v1/auth/token", strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if basic {
					req.SetBasicAuth(c.ClientID, "s3cret-the-client-made-up")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out map[string]any
				_ = json.Unmarshal([]byte(readAll(t, resp.Body)), &out)
				return resp, out
			}
			// The secret the client believes it has, both ways.
			if resp, out := tokenReq(form(), true); resp.StatusCode != http.StatusUnauthorized || str(out, "error") != "invalid_client" {
				t.Errorf("client_secret_basic: %d %v, want 401 invalid_client", resp.StatusCode, out)
			}
			if resp, out := tokenReq(form("client_secret", "s3cret-the-client-made-up"), false); resp.StatusCode != http.StatusUnauthorized || str(out, "error") != "invalid_client" {
				t.Errorf("client_secret_post: %d %v, want 401 invalid_client", resp.StatusCode, out)
			}
			// RFC 8707 at the token endpoint: a foreign resource, and the other resource of this gateway
			// (the code is bound to the API base).
			for _, bad := range []string{"https://evil.example/api", s.GW} {
				if resp, out := tokenReq(form("resource", bad), false); resp.StatusCode != http.StatusBadRequest || str(out, "error") != "invalid_target" {
					t.Errorf("token with resource %s: %d %v, want 400 invalid_target", bad, resp.StatusCode, out)
				}
			}
			// None of the refusals consumed the code.
			resp2, out := tokenReq(form(), false)
			if resp2.StatusCode != http.StatusOK || str(out, "access_token") == "" {
				t.Fatalf("exchange after the refused attempts: %d %v (a refused request must not consume the code)", resp2.StatusCode, out)
			}
			s.noteSecret(str(out, "access_token"))
			s.noteSecret(str(out, "refresh_token"))
		})
	}

	// RFC 8707 at authorize: an unknown resource goes back to the client as invalid_target, with state and iss.
	c := s.register(t, "resource mismatch")
	u := c.Config.AuthCodeURL("st-target", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("resource", "https://evil.example/"))
	resp := testkit.NewBrowser().Get(t, u)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorize with a foreign resource: status %d, body %s", resp.StatusCode, resp.Body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), c.RedirectURI+"?") {
		t.Fatalf("authorize with a foreign resource redirected to %q, want the client's %s", resp.Header.Get("Location"), c.RedirectURI)
	}
	q := loc.Query()
	if q.Get("error") != "invalid_target" || q.Get("state") != "st-target" || q.Get("iss") != s.GW {
		t.Errorf("authorize with a foreign resource: %v, want error=invalid_target, state, iss=%s", q, s.GW)
	}
	s.checkLogs()
}

// TestCORSOnProtectedRoutes: a browser script of an origin the operator allowed can call a
// protected route (its preflight, which carries no token, is answered at the gateway) and
// read the challenge of a 401; a script of any other origin gets no CORS header, so its
// browser keeps the answer from it.
func TestCORSOnProtectedRoutes(t *testing.T) {
	const app = "https://app.example"
	s := startStack(t, stackOptions{ProtectExtra: "cors_origins " + app})
	_, tok := s.login(t, "ada@example.com")

	pre := corsRequest(t, http.MethodOptions, s.GW+"/api/v1/apps", map[string]string{
		"Origin": app, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != app ||
		!headerHas(pre.Header, "Access-Control-Allow-Headers", "Authorization") || !headerHas(pre.Header, "Access-Control-Allow-Methods", "POST") {
		t.Errorf("preflight from %s: %d %v, want 204 allowing POST with Authorization", app, pre.StatusCode, pre.Header)
	}
	if pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight allows credentials: bearer tokens need none")
	}
	ok := corsRequest(t, http.MethodGet, s.GW+"/api/v1/me", map[string]string{"Origin": app, "Authorization": "Bearer " + tok.AccessToken})
	if ok.StatusCode != http.StatusOK || ok.Header.Get("Access-Control-Allow-Origin") != app || !headerHas(ok.Header, "Vary", "Origin") {
		t.Errorf("GET /api/v1/me from %s: %d %v, want 200 with Access-Control-Allow-Origin and Vary: Origin", app, ok.StatusCode, ok.Header)
	}
	denied := corsRequest(t, http.MethodGet, s.GW+"/api/v1/me", map[string]string{"Origin": app})
	if denied.StatusCode != http.StatusUnauthorized || denied.Header.Get("Access-Control-Allow-Origin") != app ||
		!headerHas(denied.Header, "Access-Control-Expose-Headers", "WWW-Authenticate") {
		t.Errorf("401 from %s: %v, want it readable (Allow-Origin, WWW-Authenticate exposed)", app, denied.Header)
	}
	for _, other := range []string{"https://evil.example", app + ".evil.example", "null"} {
		pre := corsRequest(t, http.MethodOptions, s.GW+"/api/v1/apps", map[string]string{"Origin": other, "Access-Control-Request-Method": "POST"})
		if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d Allow-Origin %q, want 204 without it", other, pre.StatusCode, pre.Header.Get("Access-Control-Allow-Origin"))
		}
		get := corsRequest(t, http.MethodGet, s.GW+"/api/v1/me", map[string]string{"Origin": other, "Authorization": "Bearer " + tok.AccessToken})
		if get.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET from %s: Allow-Origin %q, want none", other, get.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}
