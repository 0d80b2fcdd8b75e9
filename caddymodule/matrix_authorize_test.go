package caddymodule

// matrix_authorize_test.go proves rows A1-A23 of the security matrix (§2.3) through the
// handler, from the matrix's valid request:
// response_type=code, C1's redirect URI, an S256 challenge, state=xyz and the canonical resource.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// The RFC 7636 appendix B pair.
const (
	dacVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	dacChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	dacC1URI     = "https://app.example/cb"
	dacC2URI     = "http://127.0.0.1/cb"
	dacAuthzPath = "/api/v1/auth/authorize"
)

var dacHTML = http.Header{"Accept": {"text/html,application/xhtml+xml"}}

// dacClient registers a public client with the given redirect URIs and returns it.
func dacClient(t testing.TB, g *testGateway, name string, uris ...string) *testkit.Registration {
	t.Helper()
	body := `{"client_name":"` + name + `","redirect_uris":["` + strings.Join(uris, `","`) + `"],"grant_types":["authorization_code","refresh_token"]}`
	resp := g.do(t.(*testing.T), "POST", dacRegisterPath, "application/json", body, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, resp.StatusCode, resp.Body)
	}
	id := resp.JSON["client_id"].(string)
	return &testkit.Registration{ClientID: id, RedirectURI: uris[0], Config: g.kit.OAuth2Config(id, uris[0])}
}

// dacQuery is the matrix's valid authorization request for client c.
func dacQuery(g *testGateway, c *testkit.Registration) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {c.ClientID}, "redirect_uri": {c.RedirectURI},
		"code_challenge": {dacChallenge}, "code_challenge_method": {"S256"}, "state": {"xyz"}, "resource": {g.App.Issuer + "/api/v1"}}
}

// dacAuthorize sends GET /authorize?rawQuery and checks the invariants with want.
func dacAuthorize(t *testing.T, g *testGateway, rawQuery string, header http.Header, want invDelta) *testkit.Response {
	t.Helper()
	before := g.snapshot(t)
	resp := g.do(t, "GET", dacAuthzPath+"?"+rawQuery, "", "", header)
	g.assertInvariants(t, before, resp, want)
	return resp
}

// dacLocal asserts a local error: the status, no Location, and the page or OAuth JSON
// according to what the request accepted.
func dacLocal(t *testing.T, row string, resp *testkit.Response, status int, html bool) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: %d, want local %d: %.300s", row, resp.StatusCode, status, resp.Body)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Errorf("%s: local error redirects to %q", row, loc)
	}
	ct := resp.Header.Get("Content-Type")
	if html {
		if !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q, want the HTML page", row, ct)
		}
		assertPageHeaders(t, resp)
	} else if !strings.HasPrefix(ct, "application/json") || resp.JSON["error"] == nil {
		t.Errorf("%s: Content-Type %q body %.200s, want OAuth JSON", row, ct, resp.Body)
	}
}

// dacRedirected asserts "302→cb": a redirect to redirectURI with error=code, the client's
// state (absent when state is "") and iss, and nothing that looks like a credential.
func dacRedirected(t *testing.T, g *testGateway, row string, resp *testkit.Response, redirectURI, code, state string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Errorf("%s: %d, want a redirect to the client: %.300s", row, resp.StatusCode, resp.Body)
		return nil
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, redirectURI+"?") {
		t.Errorf("%s: Location %q does not start with %s?", row, loc, redirectURI)
		return nil
	}
	if strings.Contains(loc, "#") {
		t.Errorf("%s: Location %q has a fragment", row, loc)
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	if code != "" && q.Get("error") != code {
		t.Errorf("%s: error=%q, want %q (%s)", row, q.Get("error"), code, q.Get("error_description"))
	}
	if code != "" && (q.Has("code") || q.Has("access_token") || q.Has("id_token")) {
		t.Errorf("%s: error redirect carries a credential: %q", row, loc)
	}
	if state == "" && q.Has("state") {
		t.Errorf("%s: state %q in the answer to a request without state", row, q.Get("state"))
	}
	if state != "" && (len(q["state"]) != 1 || q.Get("state") != state) {
		t.Errorf("%s: state %q (len %d), want the client's (len %d)", row, dacShort(q.Get("state")), len(q.Get("state")), len(state))
	}
	if q.Get("iss") != g.App.Issuer {
		t.Errorf("%s: iss=%q, want %q", row, q.Get("iss"), g.App.Issuer)
	}
	return q
}

// dacConsent asserts the consent page and returns its txn and csrf fields.
func dacConsent(t *testing.T, row string, resp *testkit.Response) (txn, csrf string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `name="decision"`) {
		t.Fatalf("%s: %d %q, want the consent page: %.300s", row, resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
	assertPageHeaders(t, resp)
	form := testkit.ConsentFields(resp.Body)
	return form.Get("txn"), form.Get("csrf")
}

// dacWorkOSRedirect asserts a redirect to WorkOS with the static client id, our callback, a
// fresh state and our own S256 challenge.
func dacWorkOSRedirect(t *testing.T, g *testGateway, row string, resp *testkit.Response) {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, g.App.WorkOS.Endpoint+"/user_management/authorize?") {
		t.Fatalf("%s: %d %q, want a redirect to WorkOS", row, resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	if q.Get("client_id") != tgClientID || q.Get("redirect_uri") != g.App.Issuer+"/api/v1/auth/callback" ||
		q.Get("state") == "" || q.Get("state") == "xyz" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("code_challenge") == dacChallenge {
		t.Errorf("%s: WorkOS URL %q", row, loc)
	}
	g.noteSecret(q.Get("state"))
}

// dacGet sends a GET from browser b.
func dacGet(t *testing.T, b *http.Client, target string, header http.Header) *testkit.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	return testkit.RoundTrip(t, b, req)
}

// dacPostConsent posts the consent form from browser b, as the page would (same origin).
func dacPostConsent(t *testing.T, g *testGateway, b *http.Client, form url.Values, header http.Header) *testkit.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+dacAuthzPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", g.App.Issuer)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	return testkit.RoundTrip(t, b, req)
}

// dacFlow does what g.kit.StartFlowAt does through the matrix's own steps (dacConsent checks
// the page headers, dacPostConsent sends Sec-Fetch-Site): authorize at authURL, approve, sign
// in at WorkOS as email, and stop before the callback. It sets no State: Flow.Code checks none.
func dacFlow(t *testing.T, g *testGateway, c *testkit.Registration, authURL, email string) *testkit.Flow {
	t.Helper()
	f := &testkit.Flow{Client: g.kit, Reg: c, Browser: testkit.NewBrowser(), Verifier: dacVerifier}
	b := f.Browser.HTTP
	txn, csrf := dacConsent(t, "flow", dacGet(t, b, authURL, nil))
	g.noteSecret(txn)
	resp := dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"approve"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d %s", resp.StatusCode, resp.Body)
	}
	resp = dacGet(t, b, resp.Header.Get("Location")+"&login_hint="+url.QueryEscape(email), nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("WorkOS sign-in: %d %s", resp.StatusCode, resp.Body)
	}
	f.CallbackURL = resp.Header.Get("Location")
	if u, err := url.Parse(f.CallbackURL); err == nil {
		g.noteSecret(u.Query().Get("code"))
		g.noteSecret(u.Query().Get("state"))
	}
	return f
}

// dacSetClient overwrites a client's stored registration (the test's "re-registration").
func dacSetClient(t *testing.T, g *testGateway, id string, uris ...string) {
	t.Helper()
	rec := &grants.Client{ID: id, Name: "changed", RedirectURIs: uris, GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}}
	if err := g.grants().Clients.Put(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
}

func dacShort(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestMatrixAuthorize(t *testing.T) {
	g := newTestGateway(t, nil)
	c1 := dacClient(t, g, "C1", dacC1URI)
	c2 := dacClient(t, g, "C2", dacC2URI)
	cm := dacClient(t, g, "CM", dacC1URI, "https://app.example/cb2")
	pending := changes(store.KindPending, 1)
	none := changes()

	t.Run("valid/consent-page", func(t *testing.T) {
		for _, q := range []url.Values{dacQuery(g, c1), func() url.Values { q := dacQuery(g, c1); q.Set("resource", g.App.Issuer); return q }(),
			func() url.Values { q := dacQuery(g, c1); q.Del("resource"); q.Set("scope", "openid email"); return q }()} {
			resp := dacAuthorize(t, g, q.Encode(), dacHTML, pending)
			txn, csrf := dacConsent(t, "valid", resp)
			if txn == "" || txn == "xyz" || csrf == "" {
				t.Errorf("valid: txn %q csrf %q", dacShort(txn), dacShort(csrf))
			}
			g.noteSecret(txn)
		}
	})

	t.Run("A1/unknown-client", func(t *testing.T) {
		for _, id := range []string{"unknown", "", strings.Repeat("x", 500), "drio_" + strings.Repeat("A", 22), "client/../" + c1.ClientID} {
			for _, h := range []http.Header{dacHTML, nil} {
				q := dacQuery(g, c1)
				q.Set("client_id", id)
				resp := dacAuthorize(t, g, q.Encode(), h, none)
				dacLocal(t, "A1 "+dacShort(id), resp, http.StatusBadRequest, h != nil)
				if h == nil && resp.JSON["error"] != respond.CodeInvalidRequest && resp.JSON["error"] != respond.CodeInvalidClient {
					t.Errorf("A1: error %v", resp.JSON["error"])
				}
			}
		}
	})

	t.Run("A2/unregistered-redirect", func(t *testing.T) {
		for _, h := range []http.Header{dacHTML, nil} {
			q := dacQuery(g, c1)
			q.Set("redirect_uri", "https://evil.test/cb")
			resp := dacAuthorize(t, g, q.Encode(), h, none)
			dacLocal(t, "A2", resp, http.StatusBadRequest, h != nil)
			if strings.Contains(resp.Body, "evil.test") && h != nil && strings.Contains(resp.Body, `href="https://evil.test`) {
				t.Error("A2: page links to the unregistered redirect")
			}
		}
	})

	t.Run("A3/redirect-variants", func(t *testing.T) {
		for _, v := range []string{"https://APP.example/cb", "https://app.example/CB", "https://app.example/cb/", "https://app.example/cb?x=1",
			"https://app.example/cb#x", "https://app.example/cb%20", "https://app.example:443/cb", "https://app.example.evil.test/cb",
			"https://app.example/cb/../cb", "https://app.example/cb%2F..%2Fevil", "http://app.example/cb", "https://app.example/cb ",
			"HTTPS://app.example/cb", "https://app.example//cb", "https://user@app.example/cb"} {
			q := dacQuery(g, c1)
			q.Set("redirect_uri", v)
			dacLocal(t, "A3 "+v, dacAuthorize(t, g, q.Encode(), dacHTML, none), http.StatusBadRequest, true)
		}
	})

	t.Run("A4/loopback-port-varies", func(t *testing.T) {
		for _, v := range []string{"http://127.0.0.1:51004/cb", "http://127.0.0.1/cb", "http://127.0.0.1:1/cb"} {
			q := dacQuery(g, c2)
			q.Set("redirect_uri", v)
			dacConsent(t, "A4 "+v, dacAuthorize(t, g, q.Encode(), dacHTML, pending))
		}
	})

	t.Run("A5/loopback-variants", func(t *testing.T) {
		for _, v := range []string{"http://127.0.0.1:51004/cb?x=1", "http://127.0.0.1:51004/other", "http://localhost.evil.test:51004/cb",
			"http://127.0.0.1.nip.io:51004/cb", "http://[::1]:51004/cb", "https://127.0.0.1:51004/cb", "http://localhost:51004/cb",
			"http://127.0.0.1:51004/cb/", "http://127.0.0.1:51004/cb#x", "http://user@127.0.0.1:51004/cb", "http://127.0.0.1:51004@evil.test/cb"} {
			q := dacQuery(g, c2)
			q.Set("redirect_uri", v)
			dacLocal(t, "A5 "+v, dacAuthorize(t, g, q.Encode(), dacHTML, none), http.StatusBadRequest, true)
		}
	})

	t.Run("A6/redirect-omitted-single", func(t *testing.T) {
		q := dacQuery(g, c1)
		q.Del("redirect_uri")
		b := testkit.NewBrowser().HTTP
		before := g.snapshot(t)
		resp := dacGet(t, b, g.URL+dacAuthzPath+"?"+q.Encode(), nil)
		g.assertInvariants(t, before, resp, pending)
		txn, csrf := dacConsent(t, "A6", resp)
		if !strings.Contains(resp.Body, "app.example") {
			t.Error("A6: consent page does not name the registered redirect host")
		}
		// The registered URI is the one used: deny lands there.
		deny := dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"deny"}}, nil)
		dacRedirected(t, g, "A6", deny, dacC1URI, respond.CodeAccessDenied, "xyz")
	})

	t.Run("A7/redirect-omitted-several", func(t *testing.T) {
		q := dacQuery(g, cm)
		q.Del("redirect_uri")
		dacLocal(t, "A7", dacAuthorize(t, g, q.Encode(), dacHTML, none), http.StatusBadRequest, true)
		q.Set("redirect_uri", "https://app.example/cb2")
		dacConsent(t, "A7 explicit", dacAuthorize(t, g, q.Encode(), dacHTML, pending))
	})

	redirectRow := func(row string, mutate func(url.Values), code string) {
		t.Helper()
		q := dacQuery(g, c1)
		mutate(q)
		resp := dacAuthorize(t, g, q.Encode(), dacHTML, none)
		dacRedirected(t, g, row, resp, dacC1URI, code, q.Get("state"))
	}
	t.Run("A8/challenge-missing", func(t *testing.T) {
		redirectRow("A8", func(q url.Values) { q.Del("code_challenge") }, respond.CodeInvalidRequest)
		redirectRow("A8 no method either", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, respond.CodeInvalidRequest)
		redirectRow("A8 empty", func(q url.Values) { q.Set("code_challenge", "") }, respond.CodeInvalidRequest)
	})
	t.Run("A9/plain-or-no-method", func(t *testing.T) {
		redirectRow("A9 plain", func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", dacVerifier) }, respond.CodeInvalidRequest)
		redirectRow("A9 plain S256-shaped", func(q url.Values) { q.Set("code_challenge_method", "plain") }, respond.CodeInvalidRequest)
		redirectRow("A9 no method", func(q url.Values) { q.Del("code_challenge_method") }, respond.CodeInvalidRequest)
	})
	t.Run("A10/method-case", func(t *testing.T) {
		for _, m := range []string{"S512", "s256", "S256 ", "sha256", ""} {
			redirectRow("A10 "+m, func(q url.Values) { q.Set("code_challenge_method", m) }, respond.CodeInvalidRequest)
		}
	})
	t.Run("A11/malformed-challenge", func(t *testing.T) {
		for _, ch := range []string{dacChallenge[:42], dacChallenge + "A", dacChallenge[:42] + "+", dacChallenge[:42] + "/",
			dacChallenge[:42] + "=", strings.Repeat("A", 128), dacChallenge[:42] + "\x00"} {
			redirectRow("A11 "+ch, func(q url.Values) { q.Set("code_challenge", ch) }, respond.CodeInvalidRequest)
		}
	})
	t.Run("A12/response-type", func(t *testing.T) {
		for _, rt := range []string{"token", "code token", "id_token", "code id_token", "CODE", "none"} {
			redirectRow("A12 "+rt, func(q url.Values) { q.Set("response_type", rt) }, respond.CodeUnsupportedResponseType)
		}
	})
	t.Run("A13/response-type-missing", func(t *testing.T) {
		q := dacQuery(g, c1)
		q.Del("response_type")
		q2 := dacRedirected(t, g, "A13", dacAuthorize(t, g, q.Encode(), dacHTML, none), dacC1URI, "", "xyz")
		if e := q2.Get("error"); e != respond.CodeInvalidRequest && e != respond.CodeUnsupportedResponseType {
			t.Errorf("A13: error %q", e)
		}
	})

	t.Run("A14/state-missing", func(t *testing.T) {
		// Errors carry no state...
		redirectRow("A14 error", func(q url.Values) { q.Del("state"); q.Del("code_challenge") }, respond.CodeInvalidRequest)
		redirectRow("A14 empty state", func(q url.Values) { q.Set("state", ""); q.Del("code_challenge") }, respond.CodeInvalidRequest)
		// ...and neither does the success.
		q := dacQuery(g, c1)
		q.Del("state")
		f := dacFlow(t, g, c1, g.URL+dacAuthzPath+"?"+q.Encode(), "ada@example.com")
		before := g.snapshot(t)
		resp := f.Callback(t)
		g.assertInvariants(t, before, resp, changes(store.KindPending, -1, store.KindCode, 1, store.KindSession, 1, store.KindRefresh, 1,
			workosmock.EndpointAuthenticateCode, 1))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Has("state") {
			t.Errorf("A14: callback %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		g.noteSecret(loc.Query().Get("code"))
	})

	t.Run("A15/long-state-echoed", func(t *testing.T) {
		long := strings.Repeat("a+b/c=d%e&f;g h~é\"<>", 4096/20+1)[:4096]
		redirectRow("A15 error", func(q url.Values) { q.Set("state", long); q.Del("code_challenge") }, respond.CodeInvalidRequest)
		q := dacQuery(g, c1)
		q.Set("state", long)
		f := dacFlow(t, g, c1, g.URL+dacAuthzPath+"?"+q.Encode(), "ada@example.com")
		resp := f.Callback(t)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != long || len(loc.Query()["state"]) != 1 {
			t.Errorf("A15: callback %d, state echoed with len %d, want %d", resp.StatusCode, len(loc.Query().Get("state")), len(long))
		}
		g.noteSecret(loc.Query().Get("code"))
	})

	t.Run("A16/repeated-parameters", func(t *testing.T) {
		base := dacQuery(g, c1).Encode()
		for _, extra := range []string{"client_id=" + c2.ClientID, "client_id=" + c1.ClientID, "redirect_uri=https%3A%2F%2Fevil.test%2Fcb",
			"redirect_uri=" + url.QueryEscape(dacC1URI)} {
			dacLocal(t, "A16 "+extra, dacAuthorize(t, g, base+"&"+extra, dacHTML, none), http.StatusBadRequest, true)
		}
		for _, extra := range []string{"response_type=code", "code_challenge=" + dacChallenge, "code_challenge_method=plain",
			"resource=" + url.QueryEscape(g.App.Issuer), "scope=openid&scope=email", "foo=1&foo=2"} {
			resp := dacAuthorize(t, g, base+"&"+extra, dacHTML, none)
			dacRedirected(t, g, "A16 "+extra, resp, dacC1URI, respond.CodeInvalidRequest, "xyz")
		}
		// A repeated state cannot be echoed (which one?): the error goes without it.
		resp := dacAuthorize(t, g, base+"&state=abc", dacHTML, none)
		dacRedirected(t, g, "A16 state", resp, dacC1URI, respond.CodeInvalidRequest, "")
	})

	t.Run("A17/unknown-parameter", func(t *testing.T) {
		dacConsent(t, "A17", dacAuthorize(t, g, dacQuery(g, c1).Encode()+"&foo=bar&prompt=none&nonce=n", dacHTML, pending))
	})

	t.Run("A18/resource", func(t *testing.T) {
		for _, res := range []string{"https://other.example", "https://x#frag", g.App.Issuer + "/api/v1#frag", g.App.Issuer + "/", "https://evil.test/api/v1", "not a uri"} {
			redirectRow("A18 "+res, func(q url.Values) { q.Set("resource", res) }, respond.CodeInvalidTarget)
		}
	})

	t.Run("A19/own-consent-before-workos", func(t *testing.T) {
		// A browser that already signed in through WorkOS for another client...
		f := dacFlow(t, g, c2, g.URL+dacAuthzPath+"?"+dacQuery(g, c2).Encode(), "ada@example.com")
		g.noteSecret(f.Code(t))
		b := f.Browser.HTTP
		// ...still gets our consent page for a new client, not a redirect to WorkOS.
		c3 := dacClient(t, g, "C3", dacC1URI)
		before := g.snapshot(t)
		resp := dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, c3).Encode(), nil)
		g.assertInvariants(t, before, resp, pending)
		txn, _ := dacConsent(t, "A19", resp)
		// A callback for the unapproved transaction is refused without a WorkOS exchange.
		before = g.snapshot(t)
		cb := dacGet(t, b, g.URL+"/api/v1/auth/callback?code=stolen-upstream-code&state="+url.QueryEscape(txn), dacHTML)
		g.assertInvariants(t, before, cb, none)
		dacLocal(t, "A19 callback before consent", cb, http.StatusForbidden, true)
	})

	t.Run("A20/consent-csrf", func(t *testing.T) {
		b := testkit.NewBrowser().HTTP
		authURL := g.URL + dacAuthzPath + "?" + dacQuery(g, c1).Encode()
		txn1, csrf1 := dacConsent(t, "A20", dacGet(t, b, authURL, nil))
		txn2, csrf2 := dacConsent(t, "A20", dacGet(t, b, authURL, nil))
		g.noteSecret(txn1)
		g.noteSecret(txn2)
		other := testkit.NewBrowser().HTTP
		txn3, csrf3 := dacConsent(t, "A20", dacGet(t, other, authURL, nil))
		g.noteSecret(txn3)
		noCookies := testkit.NoRedirects(nil)
		cases := []struct {
			name   string
			b      *http.Client
			form   url.Values
			header http.Header
		}{
			{"csrf missing", b, url.Values{"txn": {txn1}, "decision": {"approve"}}, nil},
			{"csrf empty", b, url.Values{"txn": {txn1}, "csrf": {""}, "decision": {"approve"}}, nil},
			{"csrf wrong", b, url.Values{"txn": {txn1}, "csrf": {flipLast(csrf1)}, "decision": {"approve"}}, nil},
			{"csrf of another transaction", b, url.Values{"txn": {txn1}, "csrf": {csrf2}, "decision": {"approve"}}, nil},
			{"csrf of another browser", b, url.Values{"txn": {txn3}, "csrf": {csrf3}, "decision": {"approve"}}, nil},
			{"no binding cookie", noCookies, url.Values{"txn": {txn1}, "csrf": {csrf1}, "decision": {"approve"}}, nil},
			{"cross-site post", b, url.Values{"txn": {txn1}, "csrf": {csrf1}, "decision": {"approve"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
			{"foreign origin", b, url.Values{"txn": {txn1}, "csrf": {csrf1}, "decision": {"approve"}}, http.Header{"Origin": {"https://evil.test"}}},
			{"origin extending ours", b, url.Values{"txn": {txn1}, "csrf": {csrf1}, "decision": {"approve"}}, http.Header{"Origin": {g.URL + ".evil.test"}}},
			{"origin of ours on another port", b, url.Values{"txn": {txn1}, "csrf": {csrf1}, "decision": {"approve"}}, http.Header{"Origin": {g.URL + "1"}}},
			{"deny with wrong csrf", b, url.Values{"txn": {txn1}, "csrf": {csrf2}, "decision": {"deny"}}, nil},
		}
		for _, tc := range cases {
			before := g.snapshot(t)
			resp := dacPostConsent(t, g, tc.b, tc.form, tc.header)
			g.assertInvariants(t, before, resp, none)
			dacLocal(t, "A20 "+tc.name, resp, http.StatusForbidden, false)
			for _, sc := range resp.Header.Values("Set-Cookie") {
				if strings.HasPrefix(sc, oauth.ConsentCookie) {
					t.Errorf("A20 %s: consent remembered: %q", tc.name, sc)
				}
			}
		}
		for _, txn := range []string{txn1, txn3} {
			if p, err := g.grants().Pending.Get(context.Background(), txn); err != nil || p.Consented {
				t.Errorf("A20: pending after refused posts: consented=%v err=%v", p.Consented, err)
			}
		}
		// The right token from the right browser still works.
		resp := dacPostConsent(t, g, b, url.Values{"txn": {txn1}, "csrf": {csrf1}, "decision": {"approve"}}, nil)
		dacWorkOSRedirect(t, g, "A20 valid", resp)
	})

	t.Run("A21/deny", func(t *testing.T) {
		b := testkit.NewBrowser().HTTP
		txn, csrf := dacConsent(t, "A21", dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, c1).Encode(), nil))
		before := g.snapshot(t)
		resp := dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"deny"}}, nil)
		g.assertInvariants(t, before, resp, changes(store.KindPending, -1))
		dacRedirected(t, g, "A21", resp, dacC1URI, respond.CodeAccessDenied, "xyz")
		// The transaction is gone: approving afterwards fails locally.
		again := dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"approve"}}, nil)
		dacLocal(t, "A21 approve after deny", again, http.StatusBadRequest, false)

		// Deny re-validates the redirect: a client whose registration changed gets no redirect.
		c4 := dacClient(t, g, "C4", dacC1URI)
		txn, csrf = dacConsent(t, "A21", dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, c4).Encode(), nil))
		g.noteSecret(txn)
		dacSetClient(t, g, c4.ClientID, "https://elsewhere.example/cb")
		before = g.snapshot(t)
		resp = dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"deny"}}, nil)
		g.assertInvariants(t, before, resp, none)
		dacLocal(t, "A21 changed registration", resp, http.StatusBadRequest, false)
	})

	t.Run("A22/page-headers", func(t *testing.T) {
		pages := map[string]*testkit.Response{
			"consent":     g.do(t, "GET", dacAuthzPath+"?"+dacQuery(g, c1).Encode(), "", "", dacHTML),
			"error":       g.do(t, "GET", dacAuthzPath+"?client_id=unknown", "", "", dacHTML),
			"callback":    g.do(t, "GET", "/api/v1/auth/callback?state=never&code=x", "", "", dacHTML),
			"csrf refusd": g.do(t, "POST", dacAuthzPath, "application/x-www-form-urlencoded", "txn=x&csrf=y&decision=approve", dacHTML),
		}
		for name, p := range pages {
			if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
				t.Errorf("A22 %s: Content-Type %q", name, p.Header.Get("Content-Type"))
				continue
			}
			assertPageHeaders(t, p)
			csp := p.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("A22 %s: CSP %q", name, csp)
			}
			low := strings.ToLower(p.Body)
			for _, bad := range []string{"<script", "src=", "<link", "@import", "url(", "<iframe"} {
				if strings.Contains(low, bad) {
					t.Errorf("A22 %s: page loads a resource (%s)", name, bad)
				}
			}
		}
	})

	t.Run("A23/remembered-consent-not-cross-site", func(t *testing.T) {
		f := dacFlow(t, g, c1, g.URL+dacAuthzPath+"?"+dacQuery(g, c1).Encode(), "ada@example.com")
		b := f.Browser.HTTP
		authURL := g.URL + dacAuthzPath + "?" + dacQuery(g, c1).Encode()
		// Same browser, a top-level navigation typed or from our own site: straight to WorkOS.
		for _, site := range []string{"none", "same-origin"} {
			before := g.snapshot(t)
			resp := dacGet(t, b, authURL, http.Header{"Sec-Fetch-Site": {site}})
			g.assertInvariants(t, before, resp, pending)
			dacWorkOSRedirect(t, g, "A23 "+site, resp)
		}
		// A cross-site or same-site navigation is asked again, and so is a request whose
		// browser does not say (no Sec-Fetch-Site: nothing proves it is not cross-site).
		for _, site := range []string{"cross-site", "same-site", ""} {
			h := http.Header{}
			if site != "" {
				h.Set("Sec-Fetch-Site", site)
			}
			before := g.snapshot(t)
			resp := dacGet(t, b, authURL, h)
			g.assertInvariants(t, before, resp, pending)
			txn, _ := dacConsent(t, "A23 "+site, resp)
			g.noteSecret(txn)
		}
		// Remembered consent is per client.
		resp := dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, cm).Encode(), nil)
		txn, _ := dacConsent(t, "A23 other client", resp)
		g.noteSecret(txn)
	})
}

// flipLast returns tok with its last character changed to another one, so the result always
// differs from tok (replacing it with a fixed character would leave it unchanged whenever tok
// already ended with that character).
func flipLast(tok string) string {
	last := tok[len(tok)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return tok[:len(tok)-1] + string(repl)
}
