package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
)

// Security matrix §2.9 (S6, S7, S10) at the handler level. S1-S3 (SIGKILL), S8 (reload) and
// S11 (Redis) need a process or a second instance and live elsewhere.

// faultyStore swaps a storetest.Faulty in front of the gateway's store (the session registry
// included) until the test ends.
func faultyStore(t *testing.T, g *testGateway) *storetest.Faulty {
	t.Helper()
	st := g.state()
	orig := st.backend.store
	f := storetest.NewFaulty(orig)
	st.backend.store = f
	st.backend.sessions.store = f
	t.Cleanup(func() {
		st.backend.store = orig
		st.backend.sessions.store = orig
	})
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
	wantOAuthError(t, "S6 register", resp, http.StatusServiceUnavailable, codeTemporarilyUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("S6 register: 503 without Retry-After")
	}
	resp = g.form(t, tokenPath, f.tokenForm(code))
	wantOAuthError(t, "S6 token", resp, http.StatusServiceUnavailable, codeTemporarilyUnavailable)
	wantUnconsumed(t, g, "S6 token", code)
	resp = g.form(t, tokenPath, refreshForm(c, refresh))
	wantOAuthError(t, "S6 refresh", resp, http.StatusServiceUnavailable, codeTemporarilyUnavailable)
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
	wantTokens(t, g, "S6 token after Heal", g.form(t, tokenPath, f.tokenForm(code)))
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
		wantOAuthError(t, "S6 first write", g.form(t, tokenPath, f.tokenForm(code)), 503, codeTemporarilyUnavailable)
		wantUnconsumed(t, g, "S6 first write", code)
		wantTokens(t, g, "S6 retry", g.form(t, tokenPath, f.tokenForm(code)))
		if rec, _ := codeRec(t, g, code); !rec.Redeemed {
			t.Errorf("S6: tokens returned but the redemption is not persisted")
		}
	})

	t.Run("S6 refresh", func(t *testing.T) {
		_, r0 := g.login(t, c, "ada@example.com")
		fs := faultyStore(t, g)
		fs.FailNthWrite(1, syscall.ENOSPC) // the lease
		wantOAuthError(t, "S6 refresh lease", g.form(t, tokenPath, refreshForm(c, r0)), 503, codeTemporarilyUnavailable)
		_, r1 := wantTokens(t, g, "S6 refresh retry", g.form(t, tokenPath, refreshForm(c, r0)))
		var rec refreshRecord
		if _, err := getJSON(context.Background(), g.store(), store.Key(store.KindRefresh, store.HashID(r1)), &rec); err != nil || rec.State != refreshActive {
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
		resp := g.form(t, tokenPath, f.tokenForm(code))
		wantOAuthError(t, "S7 "+injected.Error(), resp, 503, codeTemporarilyUnavailable)
		fs.Heal()
		wantUnconsumed(t, g, "S7", code)
		wantTokens(t, g, "S7 after", g.form(t, tokenPath, f.tokenForm(code)))
	}
}

func TestMatrixStoreExpired(t *testing.T) {
	g := newTestGateway(t, func(a *App) {
		a.PendingTTL = caddy.Duration(time.Second)
		a.CodeTTL = caddy.Duration(time.Second)
	})
	c := g.register(t)
	pending := g.startFlow(t, c, "ada@example.com")
	f, code := freshCode(t, g, c)
	// A record written with a TTL is gone from Get and Count once it expires.
	ctx := context.Background()
	key := store.Key(store.KindCode, store.HashID("s10-"+randomToken(8)))
	if err := g.store().Put(ctx, key, []byte(`{}`), time.Second); err != nil {
		t.Fatal(err)
	}
	pendingBefore := g.count(store.KindPending)
	time.Sleep(2100 * time.Millisecond)
	if _, err := g.store().Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("S10: an expired record is still returned (%v)", err)
	}
	if n := g.count(store.KindPending); n >= pendingBefore && pendingBefore > 0 {
		t.Errorf("S10: %d pending records after their TTL (were %d)", n, pendingBefore)
	}
	resp := pending.callback(t)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("S10: a callback for an expired pending authorization got %d, want 400", resp.StatusCode)
	}
	wantOAuthError(t, "S10 code", g.form(t, tokenPath, f.tokenForm(code)), 400, codeInvalidGrant)
}
