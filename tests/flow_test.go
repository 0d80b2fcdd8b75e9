package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

func TestDiscovery(t *testing.T) {
	s := startStack(t, stackOptions{})
	resp, as := s.call(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("AS metadata: status %d", resp.StatusCode)
	}
	want := map[string]string{
		"issuer":                 s.GW,
		"authorization_endpoint": s.GW + "/api/v1/auth/authorize",
		"token_endpoint":         s.GW + "/api/v1/auth/token",
		"registration_endpoint":  s.GW + "/api/v1/auth/register",
	}
	for k, v := range want {
		if got := str(as, k); got != v {
			t.Errorf("AS metadata %s = %q, want %q", k, got, v)
		}
	}
	for k, v := range map[string]string{
		"code_challenge_methods_supported":      "[S256]",
		"response_types_supported":              "[code]",
		"grant_types_supported":                 "[authorization_code refresh_token]",
		"token_endpoint_auth_methods_supported": "[none]",
		"scopes_supported":                      "[openid profile email]",
	} {
		if got := str(as, k); got != v {
			t.Errorf("AS metadata %s = %s, want %s", k, got, v)
		}
	}

	// D2: built from configuration, never from Host or X-Forwarded-*.
	req, _ := http.NewRequest(http.MethodGet, s.GW+"/.well-known/oauth-authorization-server", nil)
	req.Host = "evil.test"
	req.Header.Set("X-Forwarded-Host", "evil.test")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp2.Body)
	resp2.Body.Close()
	if strings.Contains(body, "evil.test") {
		t.Errorf("D2: metadata reflects the Host header: %s", body)
	}

	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/v1"} {
		resp, prm := s.call(t, http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		wantRes := s.GW
		if strings.HasSuffix(path, "/api/v1") {
			wantRes = s.GW + "/api/v1"
		}
		if got := str(prm, "resource"); got != wantRes {
			t.Errorf("%s resource = %q, want %q", path, got, wantRes)
		}
		if got := str(prm, "authorization_servers"); got != "["+s.GW+"]" {
			t.Errorf("%s authorization_servers = %s", path, got)
		}
		if got := str(prm, "bearer_methods_supported"); got != "[header]" {
			t.Errorf("%s bearer_methods_supported = %s", path, got)
		}
	}
	// D4: other methods are refused.
	resp3, _ := s.call(t, http.MethodPost, "/.well-known/oauth-authorization-server", "", map[string]string{})
	if resp3.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("D4: POST metadata status %d, want 405", resp3.StatusCode)
	}
}

// TestFullFlow drives drio's v1 flow end to end with golang.org/x/oauth2 as the client:
// register, authorize, consent, sign-in, callback, token, every protected route, templates,
// refresh (token endpoint and drio's refresh route) and calls with the new token.
func TestFullFlow(t *testing.T) {
	s := startStack(t, stackOptions{})
	c, tok := s.login(t, "ada@example.com")
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token = %+v", tok)
	}
	if exp := time.Until(tok.Expiry); exp < 4*time.Minute || exp > 6*time.Minute {
		t.Errorf("expires_in gives expiry in %v, want about 5m (the WorkOS token's exp)", exp)
	}

	// /api/v1/me carries the identity the gateway set from the verified token and session.
	resp, me := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/me: %d %v", resp.StatusCode, me)
	}
	if str(me, "user", "email") != "ada@example.com" || !strings.HasPrefix(str(me, "user", "id"), "user_") ||
		!strings.HasPrefix(str(me, "user", "sessionId"), "session_") {
		t.Errorf("GET /api/v1/me = %v", me)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("no X-Request-Id on a proxied response")
	}
	_, hdr := s.lastUpstreamHeaders()
	if hdr.Get("Authorization") != "" {
		t.Errorf("P6: the upstream received the Authorization header")
	}

	// Apps: create, list, get, patch, config get/put, commands, delete.
	resp, created := s.call(t, http.MethodPost, "/api/v1/apps", tok.AccessToken, map[string]any{"templateId": "support", "name": "Help desk"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/apps: %d %v", resp.StatusCode, created)
	}
	appID := str(created, "app", "id")
	if appID == "" {
		t.Fatalf("no app id in %v", created)
	}
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodGet, "/api/v1/apps", nil, 200},
		{http.MethodGet, "/api/v1/apps/" + appID, nil, 200},
		{http.MethodPatch, "/api/v1/apps/" + appID, map[string]any{"name": "Help desk 2"}, 200},
		{http.MethodGet, "/api/v1/apps/" + appID + "/config", nil, 200},
		{http.MethodPut, "/api/v1/apps/" + appID + "/config", map[string]any{"greeting": "hi"}, 200},
		{http.MethodPost, "/api/v1/apps/" + appID + "/commands", map[string]any{"commands": []map[string]any{{"type": "enable"}}}, 200},
	}
	for _, st := range steps {
		resp, body := s.call(t, st.method, st.path, tok.AccessToken, st.body)
		if resp.StatusCode != st.want {
			t.Errorf("%s %s: status %d, want %d: %v", st.method, st.path, resp.StatusCode, st.want, body)
		}
		// Without a token every one of these is refused by the gateway, not the upstream.
		before := s.Resource.Requests()
		resp, body = s.call(t, st.method, st.path, "", st.body)
		if resp.StatusCode != http.StatusUnauthorized || str(body, "error", "code") != "unauthorized" {
			t.Errorf("%s %s without a token: %d %v", st.method, st.path, resp.StatusCode, body)
		}
		if s.Resource.Requests() != before {
			t.Errorf("%s %s without a token reached the upstream", st.method, st.path)
		}
	}

	// Templates are public.
	for _, path := range []string{"/api/v1/templates", "/api/v1/templates/support"} {
		resp, body := s.call(t, http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d %v", path, resp.StatusCode, body)
		}
	}

	// Refresh through the token endpoint (x/oauth2 TokenSource with an expired token).
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	tok2, err := c.Config.TokenSource(ctxT(t), &old).Token()
	if err != nil {
		t.Fatalf("refresh via token endpoint: %v", err)
	}
	s.noteSecret(tok2.AccessToken)
	s.noteSecret(tok2.RefreshToken)
	if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh did not rotate the pair")
	}
	if resp, body := s.call(t, http.MethodGet, "/api/v1/me", tok2.AccessToken, nil); resp.StatusCode != 200 {
		t.Errorf("GET /api/v1/me with the refreshed token: %d %v", resp.StatusCode, body)
	}

	// drio's own refresh route, with the seed's fields.
	resp, pair := s.postForm(t, "/api/v1/auth/refresh", url.Values{
		"client_id": {c.ClientID}, "redirect_uri": {c.RedirectURI}, "refresh_token": {tok2.RefreshToken},
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/auth/refresh: %d %v", resp.StatusCode, pair)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("refresh answer Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	keys := make([]string, 0, len(pair))
	for k := range pair {
		keys = append(keys, k)
	}
	if len(pair) != 4 || str(pair, "token_type") != "Bearer" || str(pair, "access_token") == "" || str(pair, "refresh_token") == "" || str(pair, "expires_in") == "" {
		t.Errorf("refresh answer = %v, want exactly access_token, refresh_token, expires_in, token_type Bearer", keys)
	}
	s.noteSecret(str(pair, "access_token"))
	s.noteSecret(str(pair, "refresh_token"))
	if resp, body := s.call(t, http.MethodGet, "/api/v1/apps", str(pair, "access_token"), nil); resp.StatusCode != 200 {
		t.Errorf("GET /api/v1/apps with the token from /refresh: %d %v", resp.StatusCode, body)
	}
	if resp, body := s.call(t, http.MethodDelete, "/api/v1/apps/"+appID, str(pair, "access_token"), nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE app: %d %v", resp.StatusCode, body)
	}

	// The missing-field error of drio v1.
	resp, e := s.postForm(t, "/api/v1/auth/refresh", url.Values{"client_id": {c.ClientID}})
	if resp.StatusCode != 400 || str(e, "error") != "invalid_request" || str(e, "error_description") != "Missing required field: refresh_token" {
		t.Errorf("refresh without refresh_token: %d %v", resp.StatusCode, e)
	}
	s.checkLogs()
}

// Test401Envelopes checks the drio envelope and the WWW-Authenticate challenge for a missing,
// a malformed, an expired and a foreign token.
func Test401Envelopes(t *testing.T) {
	s := startStack(t, stackOptions{})
	resourceMetadata := `resource_metadata="` + s.GW + `/.well-known/oauth-protected-resource"`
	user := workosmock.DemoUsers()[0]
	past := time.Now().Add(-10 * time.Minute).Unix()
	cases := []struct {
		name, token string
		wantError   bool
	}{
		{"no token", "", false},
		{"bad token", "not.a.jwt", true},
		{"expired token", s.WorkOS.MintAccessToken(user, "session_expired", 0, map[string]any{"iat": past - 300, "exp": past}), true},
		{"valid signature, session not brokered here", s.WorkOS.MintAccessToken(user, "session_foreign", 5*time.Minute, nil), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.call(t, http.MethodGet, "/api/v1/me", tc.token, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %v", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			e, _ := body["error"].(map[string]any)
			if e == nil || e["code"] != "unauthorized" || e["message"] == "" || e["requestId"] == "" || e["details"] != nil {
				t.Errorf("envelope = %v", body)
			}
			if e != nil && e["requestId"] != resp.Header.Get("X-Request-Id") {
				t.Errorf("requestId %v differs from X-Request-Id %q", e["requestId"], resp.Header.Get("X-Request-Id"))
			}
			wa := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, resourceMetadata) {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge with %s", wa, resourceMetadata)
			}
			if got := strings.Contains(wa, `error="invalid_token"`); got != tc.wantError {
				t.Errorf("WWW-Authenticate = %q: error=invalid_token present %v, want %v", wa, got, tc.wantError)
			}
		})
	}
}

// TestAuthorizeRejectsLocally checks that an unknown client or an unregistered redirect URI
// gets a local 400 page and never a redirect, and that a missing PKCE challenge goes back to
// the client with error and state.
func TestAuthorizeRejectsLocally(t *testing.T) {
	s := startStack(t, stackOptions{})
	c := s.register(t, "local errors")
	b := testkit.NewBrowser()
	for name, u := range map[string]string{
		"A1 unknown client":       s.GW + "/api/v1/auth/authorize?response_type=code&client_id=drio_unknown&redirect_uri=" + url.QueryEscape(c.RedirectURI) + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"A2 foreign redirect_uri": c.Config.AuthCodeURL("x", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("redirect_uri", "https://evil.test/cb")),
	} {
		resp := b.Get(t, u)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d, Location %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || !strings.Contains(resp.Body, "<html") {
			t.Errorf("%s: not a local error page", name)
		}
	}
	resp := b.Get(t, c.Config.AuthCodeURL("my-state"))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "invalid_request" ||
		loc.Query().Get("state") != "my-state" || loc.Query().Get("iss") != s.GW {
		t.Errorf("A8 missing PKCE: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func (s *stack) lastUpstreamHeaders() (string, http.Header) {
	_, path, h := s.Resource.LastRequest()
	return path, h
}

func decodeJSON(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	return m
}

// TestUpstreamFailuresUseTheEnvelope checks P12: an upstream that refuses connections gives
// 502, one that hangs past the proxy's timeout 504, both in the drio envelope.
func TestUpstreamFailuresUseTheEnvelope(t *testing.T) {
	dead := "http://" + freeAddr(t) // nothing listens there
	s := startStack(t, stackOptions{UpstreamURL: dead})
	_, tok := s.login(t, "ada@example.com")
	resp, body := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil)
	if resp.StatusCode != http.StatusBadGateway || str(body, "error", "requestId") == "" || str(body, "error", "code") != "internal_error" {
		t.Errorf("refused upstream: %d %v, want 502 in the drio envelope", resp.StatusCode, body)
	}

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler) // hung: never answer, not even an empty 200
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	s2 := startStack(t, stackOptions{UpstreamURL: slow.URL, ProxyExtra: "transport http {\n\t\t\tresponse_header_timeout 300ms\n\t\t}"})
	_, tok2 := s2.login(t, "ada@example.com")
	resp, body = s2.call(t, http.MethodGet, "/api/v1/me", tok2.AccessToken, nil)
	if resp.StatusCode != http.StatusGatewayTimeout || str(body, "error", "requestId") == "" {
		t.Errorf("hanging upstream: %d %v, want 504 in the drio envelope", resp.StatusCode, body)
	}
}
