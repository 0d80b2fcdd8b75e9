package caddymodule

// edges_test.go pins the protocol edges that a careless change could break without any other
// test noticing: registered metadata enforced, redirect_uri at the token endpoint, consent
// remembered per redirect URI, the callback's rate limit, discovery locations MCP clients
// probe, registrations that expire, and the variants of bearer, issuer and redirect checks
// that a mutation of the code once slipped past.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// TestRegisteredGrantTypesAndScopeAreEnforced: a client that registered only
// authorization_code cannot refresh (unauthorized_client), and one that registered a scope
// cannot ask for more at authorize (invalid_scope, sent back to its redirect URI).
func TestRegisteredGrantTypesAndScopeAreEnforced(t *testing.T) {
	g := newTestGateway(t, nil)
	resp := g.do(t, "POST", "/api/v1/auth/register", "application/json",
		`{"client_name":"no refresh","redirect_uris":["http://127.0.0.1:51004/cb"],"grant_types":["authorization_code"],"scope":"openid"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, resp.Body)
	}
	id := resp.JSON["client_id"].(string)
	c := &testkit.Registration{ClientID: id, RedirectURI: "http://127.0.0.1:51004/cb", Config: g.kit.OAuth2Config(id, "http://127.0.0.1:51004/cb")}
	c.Config.Scopes = []string{"openid"}
	_, refresh := g.login(t, c, "ada@example.com")
	for _, path := range []string{tokenPath, "/api/v1/auth/refresh"} {
		wantOAuthError(t, "refresh not registered at "+path, g.form(t, path, refreshForm(c, refresh)), 400, respond.CodeUnauthorizedClient)
	}

	// A registration from before the gateway enforced grant_types keeps refreshing.
	legacy := &grants.Client{ID: "drio_legacyclient0000000000", RedirectURIs: []string{"http://127.0.0.1:51004/cb"},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, IssuedAt: time.Now().Unix()}
	if err := g.grants().Clients.Put(context.Background(), legacy, 0); err != nil {
		t.Fatal(err)
	}
	lc := &testkit.Registration{ClientID: legacy.ID, RedirectURI: legacy.RedirectURIs[0], Config: g.kit.OAuth2Config(legacy.ID, legacy.RedirectURIs[0])}
	_, lr := g.login(t, lc, "ada@example.com")
	wantTokens(t, g, "legacy registration refreshes", g.form(t, tokenPath, refreshForm(lc, lr)))

	q := dacQuery(g, c)
	q.Set("scope", "openid email")
	resp = g.do(t, "GET", authorizePath+"?"+q.Encode(), "", "", nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), c.RedirectURI) || loc.Query().Get("error") != "invalid_scope" {
		t.Errorf("authorize with a scope beyond the registered one: %d %q, want a redirect with invalid_scope", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestConsentRememberedPerRedirectURI: approving a client for one redirect URI is not an
// approval for its other redirect URI.
func TestConsentRememberedPerRedirectURI(t *testing.T) {
	g := newTestGateway(t, nil)
	c := dacClient(t, g, "two uris", "http://127.0.0.1:51004/cb", "http://127.0.0.1:51004/other")
	f := dacFlow(t, g, c, g.URL+authorizePath+"?"+dacQuery(g, c).Encode(), "ada@example.com")
	b := f.Browser.HTTP
	same := http.Header{"Sec-Fetch-Site": {"none"}}
	dacWorkOSRedirect(t, g, "same redirect URI", dacGet(t, b, g.URL+authorizePath+"?"+dacQuery(g, c).Encode(), same))
	other := dacQuery(g, c)
	other.Set("redirect_uri", "http://127.0.0.1:51004/other")
	txn, _ := dacConsent(t, "other redirect URI", dacGet(t, b, g.URL+authorizePath+"?"+other.Encode(), same))
	g.noteSecret(txn)
}

// TestCallbackIsRateLimited: every callback may cost a WorkOS code exchange, so it has a
// limit per address like the other auth routes.
func TestCallbackIsRateLimited(t *testing.T) {
	g := newTestGateway(t, func(a *App) { a.RateLimit = &RateLimitConfig{PerSecond: 0.001, Burst: 2} })
	limited := false
	for i := 0; i < 4 && !limited; i++ {
		resp := g.do(t, "GET", "/api/v1/auth/callback?state=unknown&code=x", "", "", nil)
		limited = resp.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("four callbacks from one address with a burst of 2: none got 429")
	}
}

// TestDiscoveryLocationsMCPClientsProbe: the OpenID location answers a clean OAuth-shaped 404
// that says where the metadata is, and protected-resource metadata exists for any path on the
// origin (the path-inserted form), naming exactly that resource, which authorize then accepts.
func TestDiscoveryLocationsMCPClientsProbe(t *testing.T) {
	g := newTestGateway(t, nil)
	resp := g.do(t, "GET", "/.well-known/openid-configuration", "", "", nil)
	if resp.StatusCode != http.StatusNotFound || resp.JSON["error"] != respond.CodeInvalidRequest ||
		!strings.Contains(resp.JSON["error_description"].(string), "/.well-known/oauth-authorization-server") {
		t.Errorf("openid-configuration: %d %s, want an OAuth 404 pointing at the OAuth metadata", resp.StatusCode, resp.Body)
	}
	for path, want := range map[string]string{
		"":                     g.URL,
		"/api/v1":              g.URL + "/api/v1",
		"/api/v1/me":           g.URL + "/api/v1/me",
		"/api/v1/apps/app_1/x": g.URL + "/api/v1/apps/app_1/x",
	} {
		resp := g.do(t, "GET", "/.well-known/oauth-protected-resource"+path, "", "", nil)
		if resp.StatusCode != http.StatusOK || resp.JSON["resource"] != want {
			t.Errorf("protected-resource metadata at %q: %d resource %v, want %s", path, resp.StatusCode, resp.JSON["resource"], want)
		}
	}
	for _, path := range []string{"/api/v1/../x", "/api/v1//me", "/api/v1/./me", "/api/v1/me%5c"} {
		if resp := g.do(t, "GET", "/.well-known/oauth-protected-resource"+path, "", "", nil); resp.StatusCode == http.StatusOK {
			t.Errorf("protected-resource metadata at %q: 200, want a refusal", path)
		}
	}
	c := g.register(t)
	q := dacQuery(g, c)
	q.Set("resource", g.URL+"/api/v1/me")
	if resp := g.do(t, "GET", authorizePath+"?"+q.Encode(), "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("authorize with a path-inserted resource: %d %s, want the consent page", resp.StatusCode, resp.Body)
	}
}

// TestRegistrationsExpireUnlessUsed: an unused registration is gone after client_ttl; using
// it renews it.
func TestRegistrationsExpireUnlessUsed(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	g := newTestGateway(t, func(a *App) { a.ClientTTL = caddy.Duration(ttl) })
	used, unused := g.register(t), g.register(t)
	get := func(c *testkit.Registration) error {
		_, err := g.grants().Clients.Get(context.Background(), c.ClientID)
		return err
	}
	// Used three times, 0.6 ttl apart: 1.8 ttl after registering, well past its first
	// expiry (store TTLs may round up by a second), it must still be there.
	for i := 0; i < 3; i++ {
		time.Sleep(ttl * 6 / 10)
		g.do(t, "GET", authorizePath+"?"+dacQuery(g, used).Encode(), "", "", nil) // renews
	}
	if err := get(used); err != nil {
		t.Errorf("a client used within client_ttl: %v, want it kept", err)
	}
	if err := get(unused); err == nil {
		t.Errorf("a client unused for longer than client_ttl is still registered")
	}
}

// TestRegistrationQuotaPerAddress: one address registers at most registration_quota clients
// a day; the next gets 429 with a message that says what to do.
func TestRegistrationQuotaPerAddress(t *testing.T) {
	g := newTestGateway(t, func(a *App) {
		a.RegistrationQuota = 2
		a.RateLimit = &RateLimitConfig{PerSecond: 1000, Burst: 1000}
	})
	g.register(t)
	g.register(t)
	resp := g.do(t, "POST", "/api/v1/auth/register", "application/json", registerBody, nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(resp.Body, "reuse a registered client_id") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third registration with a quota of 2: %d %s, want 429 with Retry-After", resp.StatusCode, resp.Body)
	}
}

// TestBearerSessionOfAnotherUser (B28 variant): a valid token whose sid is a live session
// brokered here, but of another user, is refused.
func TestBearerSessionOfAnotherUser(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")
	grace := workosmock.DemoUsers()[1]
	forged := g.WorkOS.MintAccessToken(grace, jwtSID(t, access), time.Hour, nil)
	n := g.Resource.Requests()
	wantResourceError(t, g, "B28 another user's session", g.me(t, forged), 401, respond.EnvelopeUnauthorized, n)
}

// TestAuthorizationRedirectIssIgnoresHost (A-row variant): the iss sent to the client with an
// error is the configured issuer, whatever Host the request carried.
func TestAuthorizationRedirectIssIgnoresHost(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	q := dacQuery(g, c)
	q.Set("response_type", "token")
	req, _ := http.NewRequest(http.MethodGet, g.URL+authorizePath+"?"+q.Encode(), nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	resp := testkit.RoundTrip(t, testkit.NoRedirects(nil), req)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("iss") != g.App.Issuer {
		t.Errorf("error redirect with a spoofed Host: %d %q, want iss=%s", resp.StatusCode, resp.Header.Get("Location"), g.App.Issuer)
	}
}

// TestCodeBoundToItsLoopbackRedirect (T9 variants): a code issued for one loopback redirect
// URI does not redeem with another registered one, nor with the same one on another port.
func TestCodeBoundToItsLoopbackRedirect(t *testing.T) {
	g := newTestGateway(t, nil)
	c := dacClient(t, g, "loopback", "http://127.0.0.1:51004/cb", "http://127.0.0.1:51004/other")
	for name, ru := range map[string]string{
		"another registered": "http://127.0.0.1:51004/other",
		"another port":       "http://127.0.0.1:6000/cb",
		"no port":            "http://127.0.0.1/cb",
	} {
		f, code := freshCode(t, g, c)
		form := f.TokenForm(code)
		form.Set("redirect_uri", ru)
		g.refuse(t, "T9 "+name, form, 400, respond.CodeInvalidGrant)
		wantUnconsumed(t, g, "T9 "+name, code)
	}
}

// TestCodeRedemptionRetriesALostRace: when another writer wins the compare-and-swap, the
// redemption re-reads and decides again instead of failing, so a single redemption that lost
// a race with an unrelated write still succeeds, exactly once.
func TestCodeRedemptionRetriesALostRace(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	f, code := freshCode(t, g, c)
	fs := faultyStore(t, g)
	fs.LoseCAS(2)
	wantTokens(t, g, "lost race", g.form(t, tokenPath, f.TokenForm(code)))
	if fs.Lost() != 2 {
		t.Errorf("the store lost %d compare-and-swaps, want 2 (the test did not exercise the retry)", fs.Lost())
	}
	wantOAuthError(t, "then a replay", g.form(t, tokenPath, f.TokenForm(code)), 400, respond.CodeInvalidGrant)
}

// TestRefreshNeverHandsOutAnUnverifiableToken: when WorkOS rotates but the new access token
// does not verify here, the client gets an error, not the token (as at the callback), and
// the session is not ended for it.
func TestRefreshNeverHandsOutAnUnverifiableToken(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, func(a *App) { a.RefreshGrace = caddy.Duration(time.Second) })
	c := g.register(t)
	access, refresh := g.login(t, c, "ada@example.com")
	// WorkOS signs with a key the gateway cannot fetch.
	g.WorkOS.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultStatus, Status: http.StatusInternalServerError})
	g.WorkOS.RotateKeys(false)
	resp := g.form(t, tokenPath, refreshForm(c, refresh))
	if resp.StatusCode == http.StatusOK || resp.JSON["access_token"] != nil {
		t.Fatalf("refresh returning an unverifiable token: %d %s, want an error without a token", resp.StatusCode, resp.Body)
	}
	if resp.JSON["error"] != respond.CodeServerError && resp.JSON["error"] != respond.CodeTemporarilyUnavailable {
		t.Errorf("refresh returning an unverifiable token: error %v, want server_error or temporarily_unavailable", resp.JSON["error"])
	}
	if live, err := g.grants().Sessions.Live(context.Background(), jwtSID(t, access)); err != nil || live == nil {
		t.Errorf("the session ended because WorkOS returned a token that does not verify here: %v %v", live, err)
	}
	// WorkOS's keys become fetchable again. Long after the grace window, the client's retry
	// with the same refresh token gets the pair it never received, and the session lives on.
	g.WorkOS.ClearFaults()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp = g.form(t, tokenPath, refreshForm(c, refresh))
		if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
			break
		}
		if resp.JSON["error"] == respond.CodeInvalidGrant {
			t.Fatalf("retry after the grace window revoked the session: %s", resp.Body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	a2, _ := wantTokens(t, g, "retry once the keys are back", resp)
	if resp := g.me(t, a2); resp.StatusCode != http.StatusOK {
		t.Errorf("the pair delivered late does not work: %d", resp.StatusCode)
	}
}

// TestHealthNotReady: readiness is 503 with Retry-After while no WorkOS key set has been
// fetched and while the store does not answer; liveness stays 200.
func TestHealthNotReady(t *testing.T) {
	g := newGateway(t, gatewayOptions{noWait: true, beforeStart: func(wm *workosmock.Server) {
		wm.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultStatus, Status: http.StatusInternalServerError})
	}})
	resp := g.do(t, "GET", "/api/v1/auth/health", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.JSON["jwks"] == "ok" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("health with no key set: %d %s, want 503 naming the key set", resp.StatusCode, resp.Body)
	}
	if resp := g.do(t, "GET", "/api/v1/auth/live", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("liveness with no key set: %d, want 200", resp.StatusCode)
	}
	g.WorkOS.ClearFaults()
	// The background retry backs off (1 s, 2 s, 4 s, …), so its next attempt may be many
	// seconds away; fetch now, as a verify that meets an unknown kid would. A Refresh joins
	// a fetch already in flight, which may have left before the fault was cleared and bring
	// back its 500, so ask again (bounded) until a fetch that started afterwards answers.
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = g.state().Verifier.Refresh(context.Background()); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("fetching the key set once WorkOS answers: %v", err)
	}
	if resp := g.do(t, "GET", "/api/v1/auth/health", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("health once keys are fetched: %d %s", resp.StatusCode, resp.Body)
	}
	fs := faultyStore(t, g)
	fs.FailReads(errors.New("connection refused"))
	resp = g.do(t, "GET", "/api/v1/auth/health", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.JSON["store"] == "ok" {
		t.Errorf("health with the store down: %d %s, want 503 naming the store", resp.StatusCode, resp.Body)
	}
	if resp := g.do(t, "GET", "/api/v1/auth/live", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("liveness with the store down: %d, want 200", resp.StatusCode)
	}
}
