package caddymodule

// matrix_callback_test.go proves rows C1-C13 of the security matrix (§2.4): the WorkOS
// callback, its single use, its binding to the browser, and every way the upstream can fail.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

const dacCallbackPath = "/api/v1/auth/callback"

// dacCallbackURL is f's callback with its query changed by mutate.
func dacCallbackURL(f *testkit.Flow, mutate func(url.Values)) string {
	u, _ := url.Parse(f.CallbackURL)
	q := u.Query()
	if mutate != nil {
		mutate(q)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// dacVisit requests target from the flow's browser with header, checking the invariants.
func dacVisit(t *testing.T, g *testGateway, f *testkit.Flow, target string, header http.Header, want invDelta) *testkit.Response {
	t.Helper()
	before := g.snapshot(t)
	resp := dacGet(t, f.Browser.HTTP, target, header)
	g.assertInvariants(t, before, resp, want)
	return resp
}

// Expected store and WorkOS changes of the callback outcomes.
var (
	dacTaken      = changes(store.KindPending, -1)
	dacExchanged  = changes(store.KindPending, -1, workosmock.EndpointAuthenticateCode, 1)
	dacSucceeded  = changes(store.KindPending, -1, store.KindCode, 1, store.KindSession, 1, store.KindRefresh, 1, workosmock.EndpointAuthenticateCode, 1)
	dacNoCallback = changes()
)

func TestMatrixCallback(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	start := func() *testkit.Flow { return g.kit.StartFlow(t, c, "ada@example.com") }

	t.Run("C1/never-issued-state", func(t *testing.T) {
		f := start() // a live flow, so a pending record exists but is not this one
		for _, q := range []string{"code=W&state=never-issued", "code=W&state=" + strings.Repeat("s", 43), "code=W", "code=W&state=",
			"code=W&state=" + strings.Repeat("s", 5000), "state=%zz", "code=W&state=a&state=b"} {
			for _, h := range []http.Header{dacHTML, nil} {
				resp := dacVisit(t, g, f, g.URL+dacCallbackPath+"?"+q, h, dacNoCallback)
				dacLocal(t, "C1 "+dacShort(q), resp, http.StatusBadRequest, h != nil)
			}
		}
	})

	t.Run("C2/replay", func(t *testing.T) {
		f := start()
		first := dacVisit(t, g, f, f.CallbackURL, nil, dacSucceeded)
		loc, _ := url.Parse(first.Header.Get("Location"))
		if first.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), c.RedirectURI+"?") || loc.Query().Get("code") == "" ||
			loc.Query().Get("state") != f.State || loc.Query().Get("iss") != g.App.Issuer {
			t.Fatalf("C2 first: %d %q", first.StatusCode, first.Header.Get("Location"))
		}
		g.noteSecret(loc.Query().Get("code"))
		for _, h := range []http.Header{nil, dacHTML} {
			again := dacVisit(t, g, f, f.CallbackURL, h, dacNoCallback)
			dacLocal(t, "C2 replay", again, http.StatusBadRequest, h != nil)
		}
	})

	t.Run("C3/binding-cookie", func(t *testing.T) {
		f := start()
		// No cookie at all.
		before := g.snapshot(t)
		resp := dacGet(t, testkit.NoRedirects(nil), f.CallbackURL, dacHTML)
		g.assertInvariants(t, before, resp, dacNoCallback)
		dacLocal(t, "C3 missing cookie", resp, http.StatusForbidden, true)
		// Another browser, with its own binding cookie from its own authorization.
		other := start()
		before = g.snapshot(t)
		resp = dacGet(t, other.Browser.HTTP, f.CallbackURL, nil)
		g.assertInvariants(t, before, resp, dacNoCallback)
		dacLocal(t, "C3 other browser", resp, http.StatusForbidden, false)
		// A forged cookie value.
		req, _ := http.NewRequest("GET", f.CallbackURL, nil)
		req.AddCookie(&http.Cookie{Name: oauth.BindingCookie, Value: strings.Repeat("A", 43)})
		before = g.snapshot(t)
		resp = testkit.RoundTrip(t, testkit.NoRedirects(nil), req)
		g.assertInvariants(t, before, resp, dacNoCallback)
		dacLocal(t, "C3 forged cookie", resp, http.StatusForbidden, false)
		// The attacker did not burn the legitimate browser's sign-in.
		if code := f.Code(t); code == "" {
			t.Error("C3: the legitimate callback failed after the refused ones")
		}
		g.noteSecret(other.Code(t))
	})

	t.Run("C5/upstream-access-denied", func(t *testing.T) {
		f := start()
		target := dacCallbackURL(f, func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", `<script>alert(1)</script>"&x=`)
		})
		resp := dacVisit(t, g, f, target, dacHTML, dacTaken)
		q := dacRedirected(t, g, "C5", resp, c.RedirectURI, respond.CodeAccessDenied, f.State)
		if d := q.Get("error_description"); strings.ContainsAny(d, `<>"`) || strings.Contains(d, "script") {
			t.Errorf("C5: upstream description reflected: %q", d)
		}
		if strings.Contains(resp.Body, "<script") {
			t.Error("C5: body reflects the upstream HTML")
		}
	})

	t.Run("C6/unknown-upstream-error", func(t *testing.T) {
		for _, code := range []string{"weird_upstream_code", "invalid_request", "<b>x</b>"} {
			f := start()
			target := dacCallbackURL(f, func(q url.Values) { q.Del("code"); q.Set("error", code) })
			resp := dacVisit(t, g, f, target, nil, dacTaken)
			q := dacRedirected(t, g, "C6 "+code, resp, c.RedirectURI, "", f.State)
			if e := q.Get("error"); e != respond.CodeServerError && e != respond.CodeAccessDenied {
				t.Errorf("C6 %s: error %q", code, e)
			}
			if strings.Contains(resp.Header.Get("Location"), "weird") {
				t.Errorf("C6: upstream code passed on: %q", resp.Header.Get("Location"))
			}
		}
	})

	t.Run("C7/workos-exchange-faults", func(t *testing.T) {
		faults := []struct {
			name  string
			fault workosmock.Fault
		}{
			{"500", workosmock.Fault{Mode: workosmock.FaultStatus, Status: 500, Count: 1}},
			{"502", workosmock.Fault{Mode: workosmock.FaultStatus, Status: 502, Count: 1}},
			{"429", workosmock.Fault{Mode: workosmock.FaultStatus, Status: 429, RetryAfter: "5", Count: 1}},
			{"hang", workosmock.Fault{Mode: workosmock.FaultHang, Count: 1}},
			{"truncate", workosmock.Fault{Mode: workosmock.FaultTruncate, Count: 1}},
			{"garbage", workosmock.Fault{Mode: workosmock.FaultGarbage, Count: 1}},
			{"empty_json", workosmock.Fault{Mode: workosmock.FaultEmptyJSON, Count: 1}},
		}
		for _, fc := range faults {
			f := start()
			g.WorkOS.SetFault(workosmock.EndpointAuthenticateCode, fc.fault)
			began := time.Now()
			resp := dacVisit(t, g, f, f.CallbackURL, dacHTML, dacExchanged)
			took := time.Since(began)
			g.WorkOS.ClearFaults()
			q := dacRedirected(t, g, "C7 "+fc.name, resp, c.RedirectURI, "", f.State)
			if e := q.Get("error"); e != respond.CodeServerError && e != respond.CodeTemporarilyUnavailable {
				t.Errorf("C7 %s: error %q", fc.name, e)
			}
			if took > time.Duration(g.App.WorkOS.Timeout)+time.Second {
				t.Errorf("C7 %s: took %v, past the %v budget", fc.name, took, time.Duration(g.App.WorkOS.Timeout))
			}
		}
	})

	t.Run("C8/workos-invalid-grant", func(t *testing.T) {
		f := start()
		target := dacCallbackURL(f, func(q url.Values) { q.Set("code", "01UPSTREAMCODEALREADYUSED") })
		resp := dacVisit(t, g, f, target, nil, dacExchanged)
		q := dacRedirected(t, g, "C8", resp, c.RedirectURI, "", f.State)
		if e := q.Get("error"); e != respond.CodeAccessDenied && e != respond.CodeServerError {
			t.Errorf("C8: error %q", e)
		}
	})

	t.Run("C9/foreign-iss", func(t *testing.T) {
		for _, iss := range []string{"https://evil", g.App.Issuer, "https://api.workos.com.evil.test"} {
			f := start()
			target := dacCallbackURL(f, func(q url.Values) { q.Set("iss", iss) })
			resp := dacVisit(t, g, f, target, nil, dacTaken)
			dacRedirected(t, g, "C9 "+iss, resp, c.RedirectURI, respond.CodeServerError, f.State)
		}
	})

	t.Run("C10/code-and-error-or-neither", func(t *testing.T) {
		f := start()
		target := dacCallbackURL(f, func(q url.Values) { q.Set("error", "access_denied") })
		resp := dacVisit(t, g, f, target, nil, dacTaken)
		q := dacRedirected(t, g, "C10 both", resp, c.RedirectURI, "", f.State)
		if e := q.Get("error"); e != respond.CodeServerError && e != respond.CodeInvalidRequest {
			t.Errorf("C10 both: error %q, want server_error or invalid_request", e)
		}
		f = start()
		target = dacCallbackURL(f, func(q url.Values) { q.Del("code") })
		resp = dacVisit(t, g, f, target, nil, dacTaken)
		q = dacRedirected(t, g, "C10 neither", resp, c.RedirectURI, "", f.State)
		if e := q.Get("error"); e != respond.CodeServerError && e != respond.CodeInvalidRequest {
			t.Errorf("C10 neither: error %q, want server_error or invalid_request", e)
		}
	})

	t.Run("C12/registration-changed", func(t *testing.T) {
		c5 := g.register(t)
		f := g.kit.StartFlow(t, c5, "ada@example.com")
		dacSetClient(t, g, c5.ClientID, "http://127.0.0.1:51004/other")
		resp := dacVisit(t, g, f, f.CallbackURL, dacHTML, dacTaken)
		dacLocal(t, "C12 changed", resp, http.StatusBadRequest, true)

		c6 := g.register(t)
		f = g.kit.StartFlow(t, c6, "ada@example.com")
		if err := g.store().Delete(context.Background(), store.Key(store.KindClient, c6.ClientID)); err != nil {
			t.Fatal(err)
		}
		resp = dacVisit(t, g, f, f.CallbackURL, nil, dacTaken)
		dacLocal(t, "C12 deleted", resp, http.StatusBadRequest, false)
	})

	t.Run("C13/state-and-code-are-not-credentials", func(t *testing.T) {
		f := start()
		u, _ := url.Parse(f.CallbackURL)
		upstreamState := u.Query().Get("state")
		done := start()
		bridge := done.Code(t)
		for name, v := range map[string]string{"state": upstreamState, "bridge code": bridge, "upstream code": u.Query().Get("code")} {
			before := g.snapshot(t)
			resp := g.do(t, "GET", "/api/v1/me", "", "", testkit.Bearer(v))
			g.assertInvariants(t, before, resp, dacNoCallback)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("C13 %s as bearer: %d", name, resp.StatusCode)
			}
			req, _ := http.NewRequest("GET", g.URL+"/api/v1/me", nil)
			req.AddCookie(&http.Cookie{Name: oauth.BindingCookie, Value: v})
			req.AddCookie(&http.Cookie{Name: "session", Value: v})
			before = g.snapshot(t)
			resp = testkit.RoundTrip(t, testkit.NoRedirects(nil), req)
			g.assertInvariants(t, before, resp, dacNoCallback)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("C13 %s as cookie: %d", name, resp.StatusCode)
			}
			for _, path := range []string{"/api/v1/auth/token", "/api/v1/auth/refresh"} {
				before = g.snapshot(t)
				resp = g.form(t, path, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v}, "client_id": {c.ClientID}})
				g.assertInvariants(t, before, resp, dacNoCallback)
				if resp.StatusCode != http.StatusBadRequest || resp.JSON["error"] != respond.CodeInvalidGrant {
					t.Errorf("C13 %s as refresh_token at %s: %d %s", name, path, resp.StatusCode, resp.Body)
				}
			}
		}
		// The state as a bridge code.
		before := g.snapshot(t)
		resp := g.form(t, "/api/v1/auth/token", url.Values{"grant_type": {"authorization_code"}, "code": {upstreamState},
			"code_verifier": {f.Verifier}, "client_id": {c.ClientID}, "redirect_uri": {c.RedirectURI}})
		g.assertInvariants(t, before, resp, dacNoCallback)
		if resp.StatusCode != http.StatusBadRequest || resp.JSON["error"] != respond.CodeInvalidGrant {
			t.Errorf("C13 state as code: %d %s", resp.StatusCode, resp.Body)
		}
		// The flow itself is untouched by all that.
		g.noteSecret(f.Code(t))
	})
}

// TestMatrixCallbackExpired is C4: a pending authorization older than its TTL is refused
// locally, without a WorkOS exchange. Badger's TTL has 1 s granularity, so the TTL is 2 s.
func TestMatrixCallbackExpired(t *testing.T) {
	g := newTestGateway(t, func(a *App) { a.PendingTTL = caddy.Duration(2 * time.Second) })
	c := g.register(t)
	f := g.kit.StartFlow(t, c, "ada@example.com")
	time.Sleep(3100 * time.Millisecond)
	before := g.snapshot(t)
	resp := dacGet(t, f.Browser.HTTP, f.CallbackURL, dacHTML)
	g.assertInvariants(t, before, resp, dacNoCallback)
	dacLocal(t, "C4", resp, http.StatusBadRequest, true)
}

// TestMatrixCallbackBadToken is C11: the access token WorkOS returns does not pass our own
// verification, so no bridge code is issued.
func TestMatrixCallbackBadToken(t *testing.T) {
	t.Run("C11/unknown-kid", func(t *testing.T) {
		g := newTestGateway(t, nil)
		c := g.register(t)
		f := g.kit.StartFlow(t, c, "ada@example.com")
		// WorkOS now signs with a key we cannot fetch.
		g.WorkOS.RotateKeys(false)
		g.WorkOS.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 500})
		before := g.snapshot(t)
		resp := dacGet(t, f.Browser.HTTP, f.CallbackURL, nil)
		after := g.snapshot(t)
		// The one on-demand refetch may or may not be allowed yet by its rate limit.
		jwks := int(after.WorkOS[workosmock.EndpointJWKS] - before.WorkOS[workosmock.EndpointJWKS])
		if jwks > 1 {
			t.Errorf("C11: %d JWKS fetches for one unknown kid", jwks)
		}
		g.assertInvariants(t, before, resp, changes(store.KindPending, -1, workosmock.EndpointAuthenticateCode, 1, workosmock.EndpointJWKS, jwks))
		dacRedirected(t, g, "C11 unknown kid", resp, c.RedirectURI, respond.CodeServerError, f.State)
	})
	t.Run("C11/wrong-iss", func(t *testing.T) {
		g := newTestGateway(t, func(a *App) { a.TokenIssuers = []string{"https://issuer.other.example/"} })
		c := g.register(t)
		f := g.kit.StartFlow(t, c, "ada@example.com")
		before := g.snapshot(t)
		resp := dacGet(t, f.Browser.HTTP, f.CallbackURL, nil)
		g.assertInvariants(t, before, resp, dacExchanged)
		dacRedirected(t, g, "C11 wrong iss", resp, c.RedirectURI, respond.CodeServerError, f.State)
	})
}
