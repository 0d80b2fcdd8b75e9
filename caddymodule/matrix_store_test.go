package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
	"github.com/drio-gateway/gateway/internal/testkit"
)

// Test-matrix rows (SECURITY.md: S6, S7, S10) at the handler level. S1-S3 (SIGKILL), S8 (reload) and
// S11 (Redis) need a process or a second instance and live elsewhere.

// faultyStore swaps a storetest.Faulty in front of the gateway's store (the session registry
// included) until the test ends.
func faultyStore(t *testing.T, g *testGateway) *storetest.Faulty {
	t.Helper()
	st := g.state()
	orig := st.Grants
	f := storetest.NewFaulty(g.store())
	st.Grants = grants.New(f, defaultSessionCache)
	t.Cleanup(func() { st.Grants = orig })
	return f
}

const registerBody = `{"client_name":"unit","redirect_uris":["http://127.0.0.1:51004/cb"],"grant_types":["authorization_code","refresh_token"]}`

func TestMatrixStoreDiskFull(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, refresh := g.login(t, c, "ada@example.com")
	f, code := freshCode(t, g, c)
	fs := faultyStore(t, g)
	fs.FailWrites(syscall.ENOSPC)

	resp := g.do(t, "POST", "/api/v1/auth/register", "application/json", registerBody, nil)
	wantOAuthError(t, "S6 register", resp, http.StatusServiceUnavailable, respond.CodeTemporarilyUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("S6 register: 503 without Retry-After")
	}
	resp = g.form(t, tokenPath, f.TokenForm(code))
	wantOAuthError(t, "S6 token", resp, http.StatusServiceUnavailable, respond.CodeTemporarilyUnavailable)
	wantUnconsumed(t, g, "S6 token", code)
	resp = g.form(t, tokenPath, refreshForm(c, refresh))
	wantOAuthError(t, "S6 refresh", resp, http.StatusServiceUnavailable, respond.CodeTemporarilyUnavailable)
	// Reads and bearer verification keep working.
	if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
		t.Errorf("S6: bearer verification got %d on a full disk", resp.StatusCode)
	}
	if fs.Failed() == 0 {
		t.Fatalf("S6: no write was attempted")
	}

	// Space frees: writes recover without a restart, and nothing was half-done.
	fs.Heal()
	if resp := g.do(t, "POST", "/api/v1/auth/register", "application/json", registerBody, nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("S6: register after Heal got %d", resp.StatusCode)
	}
	wantTokens(t, g, "S6 token after Heal", g.form(t, tokenPath, f.TokenForm(code)))
	wantTokens(t, g, "S6 refresh after Heal", g.form(t, tokenPath, refreshForm(c, refresh)))
}

// TestMatrixStoreNthWrite fails each single write of a redemption and of a refresh in turn:
// the answer is 503 without tokens, or 200 with every record persisted.
func TestMatrixStoreNthWrite(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)

	t.Run("S6 redemption", func(t *testing.T) {
		f, code := freshCode(t, g, c)
		fs := faultyStore(t, g)
		fs.FailNthWrite(1, syscall.ENOSPC)
		wantOAuthError(t, "S6 first write", g.form(t, tokenPath, f.TokenForm(code)), 503, respond.CodeTemporarilyUnavailable)
		wantUnconsumed(t, g, "S6 first write", code)
		wantTokens(t, g, "S6 retry", g.form(t, tokenPath, f.TokenForm(code)))
		if rec, _ := codeRec(t, g, code); !rec.Redeemed {
			t.Errorf("S6: tokens returned but the redemption is not persisted")
		}
	})

	t.Run("S6 refresh", func(t *testing.T) {
		_, r0 := g.login(t, c, "ada@example.com")
		fs := faultyStore(t, g)
		fs.FailNthWrite(1, syscall.ENOSPC) // the lease
		wantOAuthError(t, "S6 refresh lease", g.form(t, tokenPath, refreshForm(c, r0)), 503, respond.CodeTemporarilyUnavailable)
		_, r1 := wantTokens(t, g, "S6 refresh retry", g.form(t, tokenPath, refreshForm(c, r0)))
		if rec, err := g.grants().Refresh.Get(context.Background(), r1); err != nil || rec.State != grants.RefreshActive {
			t.Errorf("S6: a refresh token was returned without its record (%v)", err)
		}
	})
}

func TestMatrixStoreCommitErrors(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	for _, injected := range []error{errors.New("Transaction Conflict. Please retry"), errors.New("Txn is too big to fit into one request"), errors.New("DB Closed")} {
		f, code := freshCode(t, g, c)
		fs := faultyStore(t, g)
		fs.FailOp(storetest.OpCompareAndSwap, injected)
		resp := g.form(t, tokenPath, f.TokenForm(code))
		wantOAuthError(t, "S7 "+injected.Error(), resp, 503, respond.CodeTemporarilyUnavailable)
		fs.Heal()
		wantUnconsumed(t, g, "S7", code)
		wantTokens(t, g, "S7 after", g.form(t, tokenPath, f.TokenForm(code)))
	}
}

func TestMatrixStoreExpired(t *testing.T) {
	// Two seconds, not one: each flow below must get through authorize, consent and the
	// callback within the pending TTL, which a loaded test machine may not do in one.
	g := newTestGateway(t, func(a *App) {
		a.PendingTTL = caddy.Duration(2 * time.Second)
		a.CodeTTL = caddy.Duration(2 * time.Second)
	})
	c := g.register(t)
	pending := g.kit.StartFlow(t, c, "ada@example.com")
	f, code := freshCode(t, g, c)
	// A record written with a TTL is gone from Get and Count once it expires.
	ctx := context.Background()
	key := store.Key(store.KindCode, store.HashID("s10-"+grants.RandomToken(8)))
	if err := g.store().Put(ctx, key, []byte(`{}`), time.Second); err != nil {
		t.Fatal(err)
	}
	pendingBefore := g.count(store.KindPending)
	time.Sleep(3100 * time.Millisecond) // Badger rounds an expiry up to the next whole second
	if _, err := g.store().Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("S10: an expired record is still returned (%v)", err)
	}
	if n := g.count(store.KindPending); n >= pendingBefore && pendingBefore > 0 {
		t.Errorf("S10: %d pending records after their TTL (were %d)", n, pendingBefore)
	}
	resp := pending.Callback(t)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("S10: a callback for an expired pending authorization got %d, want 400", resp.StatusCode)
	}
	wantOAuthError(t, "S10 code", g.form(t, tokenPath, f.TokenForm(code)), 400, respond.CodeInvalidGrant)
}

// TestStoreDownEveryEndpoint takes the store down (reads and writes fail) and calls every
// route that touches it: each answers in the gateway's own format (OAuth JSON, the local
// page for a browser, or the drio envelope on a protected route), 503 with Retry-After, and
// none reaches Caddy's default error page (the test gateway fails the test if a handler
// returns an error to Caddy). Discovery needs no store and keeps answering.
func TestStoreDownEveryEndpoint(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, refresh := g.login(t, c, "ada@example.com")
	consent := g.kit.StartFlow(t, c, "ada@example.com") // for the callback
	page := testkit.NewBrowser().Get(t, g.URL+authorizePath+"?"+dacQuery(g, c).Encode())
	txn, csrf := dacConsent(t, "store down", page)
	f, code := freshCode(t, g, c)
	g.state().Grants.Sessions.Evict(testkit.JWTClaim(t, access, "sid"))

	fs := faultyStore(t, g)
	down := errors.New("connection refused")
	fs.FailReads(down)
	fs.FailWrites(down)

	html := http.Header{"Accept": {"text/html"}}
	for _, tc := range []struct {
		name string
		resp *testkit.Response
		page bool // a local HTML page rather than OAuth JSON
	}{
		{"register", g.do(t, "POST", "/api/v1/auth/register", "application/json", registerBody, nil), false},
		{"authorize", g.do(t, "GET", authorizePath+"?"+dacQuery(g, c).Encode(), "", "", nil), false},
		{"authorize (browser)", g.do(t, "GET", authorizePath+"?"+dacQuery(g, c).Encode(), "", "", html), true},
		{"consent", g.do(t, "POST", authorizePath, "application/x-www-form-urlencoded",
			url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"approve"}}.Encode(), http.Header{"Origin": {g.URL}}), false},
		{"callback", consent.Callback(t), false},
		{"token (code)", g.form(t, tokenPath, f.TokenForm(code)), false},
		{"token (refresh)", g.form(t, tokenPath, refreshForm(c, refresh)), false},
		{"refresh route", g.form(t, "/api/v1/auth/refresh", url.Values{"client_id": {c.ClientID}, "refresh_token": {refresh}}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.resp
			if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Fatalf("%d (Retry-After %q) %s, want 503 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"), r.Body)
			}
			if tc.page {
				if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.Body, "temporarily_unavailable") {
					t.Errorf("browser got %q %s, want the local error page", r.Header.Get("Content-Type"), r.Body)
				}
				return
			}
			if r.JSON["error"] != respond.CodeTemporarilyUnavailable || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("got %s (Cache-Control %q), want OAuth JSON temporarily_unavailable", r.Body, r.Header.Get("Cache-Control"))
			}
		})
	}
	t.Run("protected route", func(t *testing.T) {
		n := g.Resource.Requests()
		resp := g.me(t, access)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%d %s, want 503 with Retry-After", resp.StatusCode, resp.Body)
		}
		wantResourceError(t, g, "store down", resp, http.StatusServiceUnavailable, respond.EnvelopeInternal, n)
	})
	if resp := g.do(t, "GET", "/.well-known/oauth-authorization-server", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("discovery with the store down: %d", resp.StatusCode)
	}
	if fs.Failed() == 0 {
		t.Fatal("no write was attempted")
	}
}
