package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// introspectionSecret is the credential the tests' resource server presents; the gateway's
// configuration holds only its SHA-256.
const introspectionSecret = "rs-secret-0123456789abcdef0123456789abcdef"

func introspectionConfig() string {
	sum := sha256.Sum256([]byte(introspectionSecret))
	return "introspection_secret_sha256 " + hex.EncodeToString(sum[:])
}

// TestRevocation (RFC 7009): a client ends its grant with its refresh or access token; the
// access token is refused on the very next request, the refresh token is dead, WorkOS is
// told. An unknown token, or one of another client, gets 200 and changes nothing.
func TestRevocation(t *testing.T) {
	s := startStack(t, stackOptions{})
	_, meta := s.call(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil)
	if str(meta, "revocation_endpoint") != s.GW+"/api/v1/auth/revoke" {
		t.Errorf("metadata revocation_endpoint = %q", str(meta, "revocation_endpoint"))
	}
	for _, hint := range []string{"refresh_token", "access_token"} {
		t.Run(hint, func(t *testing.T) {
			c, tok := s.login(t, "ada@example.com")
			other, otherTok := s.login(t, "grace@example.com")
			token := tok.RefreshToken
			if hint == "access_token" {
				token = tok.AccessToken
			}
			// Another client's token, and an unknown one: 200, nothing changes.
			for _, form := range []url.Values{
				{"token": {otherTok.RefreshToken}, "client_id": {c.ClientID}},
				{"token": {"not-a-token-we-issued"}, "client_id": {c.ClientID}},
			} {
				if resp := s.kit.PostForm(t, "/api/v1/auth/revoke", form); resp.StatusCode != http.StatusOK {
					t.Fatalf("revoking a token that is not the client's: %d %s, want 200", resp.StatusCode, resp.Body)
				}
			}
			if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", otherTok.AccessToken, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("another client's session was ended by a foreign revocation: %d", resp.StatusCode)
			}
			_ = other
			// Warm the gateway's caches, then revoke: the next request is refused.
			if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("fresh token: %d", resp.StatusCode)
			}
			resp := s.kit.PostForm(t, "/api/v1/auth/revoke", url.Values{"token": {token}, "token_type_hint": {hint}, "client_id": {c.ClientID}})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("revoke: %d %s", resp.StatusCode, resp.Body)
			}
			if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("access token after revocation: %d, want 401 on the very next request", resp.StatusCode)
			}
			r, body := s.postForm(t, "/api/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {c.ClientID}})
			if r.StatusCode != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
				t.Errorf("refresh after revocation: %d %v, want invalid_grant", r.StatusCode, body)
			}
			sid := testkit.JWTClaim(t, tok.AccessToken, "sid")
			deadline := time.Now().Add(5 * time.Second)
			for !s.WorkOS.SessionRevoked(sid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !s.WorkOS.SessionRevoked(sid) {
				t.Errorf("WorkOS was not told to end the session")
			}
		})
	}
}

// TestIntrospection (RFC 7662): only with the operator's credential; a live token is
// described, anything else is {"active":false} with no reason.
func TestIntrospection(t *testing.T) {
	s := startStack(t, stackOptions{DrioExtra: introspectionConfig()})
	c, tok := s.login(t, "ada@example.com")
	introspect := func(secret, token string) (*testkit.Response, map[string]any) {
		h := http.Header{}
		if secret != "" {
			h.Set("Authorization", "Bearer "+secret)
		}
		resp := s.kit.Do(t, http.MethodPost, "/api/v1/auth/introspect", "application/x-www-form-urlencoded",
			url.Values{"token": {token}}.Encode(), h)
		return resp, resp.Object(t)
	}
	for _, secret := range []string{"", "wrong-secret", introspectionSecret + "x"} {
		if resp, _ := introspect(secret, tok.AccessToken); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("introspection with credential %q: %d, want 401", secret, resp.StatusCode)
		}
	}
	resp, body := introspect(introspectionSecret, tok.AccessToken)
	if resp.StatusCode != http.StatusOK || body["active"] != true || str(body, "sub") == "" || str(body, "client_id") != c.ClientID ||
		str(body, "sid") != testkit.JWTClaim(t, tok.AccessToken, "sid") || str(body, "token_type") != "Bearer" || body["exp"] == nil ||
		str(body, "org_id") == "" || body["permissions"] == nil {
		t.Errorf("introspection of a live access token: %d %v", resp.StatusCode, body)
	}
	if _, body := introspect(introspectionSecret, tok.RefreshToken); body["active"] != true || str(body, "token_type") != "refresh_token" {
		t.Errorf("introspection of a live refresh token: %v", body)
	}
	for _, token := range []string{"garbage", tok.AccessToken + "x"} {
		if _, body := introspect(introspectionSecret, token); len(body) != 1 || body["active"] != false {
			t.Errorf("introspection of %q: %v, want exactly {\"active\":false}", token[:6], body)
		}
	}
	s.kit.PostForm(t, "/api/v1/auth/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {c.ClientID}})
	if _, body := introspect(introspectionSecret, tok.AccessToken); len(body) != 1 || body["active"] != false {
		t.Errorf("introspection after revocation: %v, want {\"active\":false}", body)
	}
}

// TestLogout: the session ends at the gateway and WorkOS, the browser goes through WorkOS's
// logout and back to the client's registered address with its state; an address the client
// did not register gets a local page, never a redirect.
func TestLogout(t *testing.T) {
	const allowed = "https://app.example/signed-out"
	s := startStack(t, stackOptions{DrioExtra: "post_logout_redirect_uris " + allowed})
	c, tok := s.login(t, "ada@example.com")
	b := testkit.NewBrowser()
	logout := func(form url.Values) *testkit.Response {
		return b.PostForm(t, s.GW+"/api/v1/auth/logout", s.GW, form)
	}
	for _, bad := range []string{"https://evil.example/", c.RedirectURI + "/other", allowed + "x"} {
		resp := logout(url.Values{"client_id": {c.ClientID}, "token": {tok.AccessToken}, "post_logout_redirect_uri": {bad}})
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("logout to %s: %d Location %q, want a local 400", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("a refused logout ended the session: %d", resp.StatusCode)
	}
	resp := logout(url.Values{"client_id": {c.ClientID}, "token": {tok.AccessToken}, "post_logout_redirect_uri": {c.RedirectURI}, "state": {"bye"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), s.workosTS.URL+"/user_management/sessions/logout?") {
		t.Fatalf("logout: %d %q, want a redirect to WorkOS's logout", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = b.Get(t, resp.Header.Get("Location")) // WorkOS ends its session, back to the gateway
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), s.GW+"/api/v1/auth/logout/done?") {
		t.Fatalf("WorkOS logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	done := resp.Header.Get("Location")
	resp = b.Get(t, done)
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), c.RedirectURI+"?") ||
		back.Query().Get("state") != "bye" || back.Query().Get("iss") != s.GW {
		t.Fatalf("logout/done: %d %q, want the client's address with state and iss", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token after logout: %d, want 401", resp.StatusCode)
	}
	if !s.WorkOS.SessionRevoked(testkit.JWTClaim(t, tok.AccessToken, "sid")) {
		t.Errorf("WorkOS still has the session after logout")
	}
	// The signed return leg is bound to its client: once the operator deletes the client, it
	// leads nowhere but the signed-out page.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+s.admin+"/drio/clients/"+c.ClientID, nil)
	if resp := testkit.RoundTrip(t, http.DefaultClient, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("deleting the client: %d", resp.StatusCode)
	}
	if resp := b.Get(t, done); resp.Header.Get("Location") != "" {
		t.Errorf("logout/done of a deleted client still redirects to %q", resp.Header.Get("Location"))
	}
	// A tampered logout/done cannot be turned into an open redirect.
	resp = b.Get(t, s.GW+"/api/v1/auth/logout/done?to="+url.QueryEscape("https://evil.example/")+"&sig=x")
	if resp.Header.Get("Location") != "" || resp.StatusCode != http.StatusOK {
		t.Errorf("logout/done with a forged destination: %d %q, want the local signed-out page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestHealthAndMetrics: readiness and liveness answer load balancers, and Caddy's /metrics
// shows the gateway's counters moving after a flow, as an operator reads them.
func TestHealthAndMetrics(t *testing.T) {
	s := startStack(t, stackOptions{DrioExtra: introspectionConfig()})
	// Readiness turns 200 once the first WorkOS key set is in, which the gateway fetches in
	// the background after it starts: a load balancer polls it, and so does this test.
	for _, path := range []string{"/api/v1/auth/health", "/api/v1/auth/live"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, body := s.call(t, http.MethodGet, path, "", nil)
			if resp.StatusCode == http.StatusOK && str(body, "status") == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("GET %s: %d %v, still not ready after 10 s", path, resp.StatusCode, body)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c, tok := s.login(t, "ada@example.com")
	s.call(t, http.MethodGet, "/api/v1/me", "", nil)
	s.kit.PostForm(t, "/api/v1/auth/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {c.ClientID}})
	s.kit.Do(t, http.MethodPost, "/api/v1/auth/introspect", "application/x-www-form-urlencoded",
		url.Values{"token": {"garbage"}}.Encode(), http.Header{"Authorization": {"Bearer " + introspectionSecret}})

	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	metrics := string(raw)
	for _, want := range []string{
		`caddy_drio_registrations_total 1`,
		`caddy_drio_tokens_issued_total{grant="authorization_code"} 1`,
		`caddy_drio_bearer_refused_total{reason="missing"} 1`,
		`caddy_drio_sessions_revoked_total{reason="client_revoked"} 1`,
		`caddy_drio_introspections_total{result="inactive"} 1`,
		`caddy_drio_workos_calls_total{call="code",outcome="ok"} 1`,
		`caddy_drio_workos_call_duration_seconds_count{call="code"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("the gateway's metrics:\n%s", grepLines(metrics, "caddy_drio_"))
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAdminAPI: on Caddy's admin endpoint, the operator lists clients and sessions, ends a
// session, and deletes a client, whose grants end with it.
func TestAdminAPI(t *testing.T) {
	s := startStack(t, stackOptions{})
	c1, tok1 := s.login(t, "ada@example.com")
	c2, tok2 := s.login(t, "grace@example.com")
	admin := func(method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, "http://"+s.admin+path, nil)
		resp := testkit.RoundTrip(t, http.DefaultClient, req)
		return resp.StatusCode, resp.Object(t)
	}
	status, body := admin(http.MethodGet, "/drio/clients")
	raw := fmt.Sprint(body)
	if status != http.StatusOK || !strings.Contains(raw, c1.ClientID) || !strings.Contains(raw, c2.ClientID) || strings.Contains(strings.ToLower(raw), "secret") {
		t.Fatalf("GET /drio/clients: %d %v", status, body)
	}
	sid1 := testkit.JWTClaim(t, tok1.AccessToken, "sid")
	status, body = admin(http.MethodGet, "/drio/sessions?client_id="+c1.ClientID)
	if sessions, _ := body["sessions"].([]any); status != http.StatusOK || len(sessions) != 1 || !strings.Contains(fmt.Sprint(sessions), sid1) ||
		!strings.Contains(fmt.Sprint(sessions), "ada@example.com") {
		t.Fatalf("GET /drio/sessions?client_id=…: %d %v, want ada's one session", status, body)
	}
	if status, _ := admin(http.MethodDelete, "/drio/sessions/"+sid1); status != http.StatusOK {
		t.Fatalf("DELETE session: %d", status)
	}
	if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok1.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token of a session the operator ended: %d, want 401", resp.StatusCode)
	}
	if status, body := admin(http.MethodGet, "/drio/sessions?client_id="+c1.ClientID); len(body["sessions"].([]any)) != 0 {
		t.Errorf("live sessions of c1 after DELETE: %d %v, want none", status, body)
	}
	status, body = admin(http.MethodDelete, "/drio/clients/"+c2.ClientID)
	if status != http.StatusOK || fmt.Sprint(body["sessions_ended"]) != "1" {
		t.Fatalf("DELETE client: %d %v, want one session ended", status, body)
	}
	if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok2.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token of a deleted client: %d, want 401", resp.StatusCode)
	}
	r, b := s.postForm(t, "/api/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.RefreshToken}, "client_id": {c2.ClientID}})
	if r.StatusCode != http.StatusUnauthorized || str(b, "error") != "invalid_client" {
		t.Errorf("refresh by a deleted client: %d %v, want 401 invalid_client", r.StatusCode, b)
	}
	for _, path := range []string{"/drio/clients/" + c2.ClientID, "/drio/sessions/session_unknown"} {
		if status, _ := admin(http.MethodDelete, path); status != http.StatusNotFound {
			t.Errorf("DELETE %s: %d, want 404", path, status)
		}
	}
	if status, _ := admin(http.MethodGet, "/drio/clients?limit=0"); status != http.StatusBadRequest {
		t.Errorf("limit=0: %d, want 400", status)
	}
}
