package caddymodule

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// The F rows of the test matrix (SECURITY.md) at the handler level.

// gatewayOptions extend newTestGateway for rows that need the WorkOS stand-in faulted before
// the gateway starts (B19) or its answers cut on the wire (F8).
// wantSamePair asserts a 200 whose pair equals (access, refresh).
func wantSamePair(t *testing.T, g *testGateway, row string, resp *testkit.Response, access, refresh string) {
	t.Helper()
	a, r := wantTokens(t, g, row, resp)
	if a != access || r != refresh {
		t.Errorf("%s: got a different pair, want the same rotated pair", row)
	}
}

func TestMatrixRefresh(t *testing.T) {
	g := newTestGateway(t, nil)
	c1 := g.register(t)
	c2 := g.register(t)

	t.Run("F1 rotation, F5 grace", func(t *testing.T) {
		_, r0 := g.login(t, c1, "ada@example.com")
		a1, r1 := wantTokens(t, g, "F1", g.form(t, tokenPath, refreshForm(c1, r0)))
		if r1 == r0 {
			t.Errorf("F1: the refresh token did not rotate")
		}
		if resp := g.me(t, a1); resp.StatusCode != http.StatusOK {
			t.Errorf("F1: new access token got %d", resp.StatusCode)
		}
		before := g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh)
		wantSamePair(t, g, "F5", g.form(t, tokenPath, refreshForm(c1, r0)), a1, r1)
		// drio's own route answers the same.
		wantSamePair(t, g, "F5 /auth/refresh", g.form(t, "/api/v1/auth/refresh", refreshForm(c1, r0)), a1, r1)
		if g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh) != before {
			t.Errorf("F5: a grace-window retry called WorkOS")
		}
		wantTokens(t, g, "F1 new token works", g.form(t, tokenPath, refreshForm(c1, r1)))
	})

	t.Run("F2 bad refresh tokens", func(t *testing.T) {
		before := g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh)
		g.refuse(t, "F2 random", refreshForm(c1, grants.RandomToken(32)), 400, respond.CodeInvalidGrant)
		g.refuse(t, "F2 empty", refreshForm(c1, ""), 400, respond.CodeInvalidRequest)
		g.refuse(t, "F2 10KiB", refreshForm(c1, strings.Repeat("r", 10<<10)), 400, respond.CodeInvalidGrant)
		if g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh) != before {
			t.Errorf("F2: an unknown refresh token reached WorkOS")
		}
	})

	t.Run("F3 other client", func(t *testing.T) {
		_, r0 := g.login(t, c1, "ada@example.com")
		before := g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh)
		g.refuse(t, "F3", refreshForm(c2, r0), 400, respond.CodeInvalidGrant)
		if g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh) != before {
			t.Errorf("F3: another client's refresh reached WorkOS")
		}
		// No rotation happened: the owner's first use is a real rotation.
		a1, r1 := wantTokens(t, g, "F3 owner", g.form(t, tokenPath, refreshForm(c1, r0)))
		if r1 == r0 || g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh) != before+1 {
			t.Errorf("F3: the owner's refresh was not a fresh rotation")
		}
		_ = a1
	})

	t.Run("F6 WorkOS refuses", func(t *testing.T) {
		access, r0 := g.login(t, c1, "ada@example.com")
		g.WorkOS.ExpireSession(jwtSID(t, access))
		wantOAuthError(t, "F6", g.form(t, tokenPath, refreshForm(c1, r0)), 400, respond.CodeInvalidGrant)
		before := g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh)
		wantOAuthError(t, "F6 again", g.form(t, tokenPath, refreshForm(c1, r0)), 400, respond.CodeInvalidGrant)
		if g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh) != before {
			t.Errorf("F6: a dead grant called WorkOS again")
		}
		if resp := g.me(t, access); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("F6: the ended session's access token got %d, want 401", resp.StatusCode)
		}
	})

	t.Run("F7 WorkOS unavailable leaves the token usable", func(t *testing.T) {
		for _, f := range []workosmock.Fault{
			{Mode: workosmock.FaultStatus, Status: 500},
			{Mode: workosmock.FaultStatus, Status: 429, RetryAfter: "1"},
			{Mode: workosmock.FaultHang},
		} {
			_, r0 := g.login(t, c1, "ada@example.com")
			g.WorkOS.SetFault(workosmock.EndpointAuthenticateRefresh, f)
			resp := g.form(t, tokenPath, refreshForm(c1, r0))
			g.WorkOS.ClearFaults()
			wantOAuthError(t, "F7 "+string(f.Mode), resp, 503, respond.CodeTemporarilyUnavailable)
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("F7 %s: no Retry-After", f.Mode)
			}
			wantTokens(t, g, "F7 retry", g.form(t, tokenPath, refreshForm(c1, r0)))
		}
	})

	t.Run("F9 broader scope", func(t *testing.T) {
		_, r0 := g.login(t, c1, "ada@example.com")
		form := refreshForm(c1, r0)
		form.Set("scope", "openid admin:everything")
		wantOAuthError(t, "F9", g.form(t, tokenPath, form), 400, respond.CodeInvalidScope)
		wantTokens(t, g, "F9 then plain", g.form(t, tokenPath, refreshForm(c1, r0)))
	})

	t.Run("F10 concurrent refreshes", func(t *testing.T) {
		for iter := 0; iter < 5; iter++ {
			_, r0 := g.login(t, c1, "ada@example.com")
			before := g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh)
			const n = 20
			start := make(chan struct{})
			resps := make([]*testkit.Response, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resps[i] = g.form(t, tokenPath, refreshForm(c1, r0))
				}()
			}
			close(start)
			wg.Wait()
			var pair [2]string
			for i, resp := range resps {
				switch {
				case resp.StatusCode == http.StatusOK:
					p := [2]string{resp.JSON["access_token"].(string), resp.JSON["refresh_token"].(string)}
					if pair[0] == "" {
						pair = p
					} else if p != pair {
						t.Errorf("F10: request %d got a second token family", i)
					}
				case resp.StatusCode == 400 && resp.JSON["error"] == respond.CodeInvalidGrant:
				default:
					t.Errorf("F10: request %d got %d %s", i, resp.StatusCode, resp.Body)
				}
			}
			g.noteSecret(pair[0])
			g.noteSecret(pair[1])
			if d := g.WorkOS.Hits(workosmock.EndpointAuthenticateRefresh) - before; d != 1 {
				t.Errorf("F10: %d WorkOS refresh calls, want exactly 1", d)
			}
		}
	})
}

func TestMatrixRefreshReuseAfterGrace(t *testing.T) {
	g := newTestGateway(t, func(a *App) { a.RefreshGrace = caddy.Duration(time.Second) })
	c := g.register(t)
	_, r0 := g.login(t, c, "ada@example.com")
	a1, r1 := wantTokens(t, g, "F4", g.form(t, tokenPath, refreshForm(c, r0)))
	time.Sleep(2100 * time.Millisecond)
	wantOAuthError(t, "F4 reuse", g.form(t, tokenPath, refreshForm(c, r0)), 400, respond.CodeInvalidGrant)
	wantSessionRevoked(t, g, c, "F4", a1, r1)
}

// truncateAfterRefresh lets the WorkOS stand-in rotate, then drops the connection after the
// headers: the gateway never reads the new pair (F8).
type truncateAfterRefresh struct {
	next  http.Handler
	armed atomic.Int32
}

func (tr *truncateAfterRefresh) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/authenticate") || tr.armed.Load() == 0 {
		tr.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	tr.next.ServeHTTP(rec, r)
	if !strings.Contains(rec.Body.String(), "refresh_token") {
		copyRecorded(w, rec)
		return
	}
	tr.armed.Add(-1)
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	writeTruncated(buf)
	_ = conn.Close()
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func writeTruncated(buf *bufio.ReadWriter) {
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"user\":{")
	_ = buf.Flush()
}

func TestMatrixRefreshTruncated(t *testing.T) {
	tr := &truncateAfterRefresh{}
	g := newGateway(t, gatewayOptions{wrapWorkOS: func(h http.Handler) http.Handler { tr.next = h; return tr }})
	c := g.register(t)

	t.Run("F8 mock truncate fault", func(t *testing.T) {
		_, r0 := g.login(t, c, "ada@example.com")
		g.WorkOS.SetFault(workosmock.EndpointAuthenticateRefresh, workosmock.Fault{Mode: workosmock.FaultTruncate, Count: 1})
		resp := g.form(t, tokenPath, refreshForm(c, r0))
		wantOAuthError(t, "F8 truncated", resp, 503, respond.CodeTemporarilyUnavailable)
		a1, r1 := wantTokens(t, g, "F8 retry", g.form(t, tokenPath, refreshForm(c, r0)))
		wantSamePair(t, g, "F8 retry again", g.form(t, tokenPath, refreshForm(c, r0)), a1, r1)
	})

	t.Run("F8 rotated upstream, answer lost", func(t *testing.T) {
		_, r0 := g.login(t, c, "ada@example.com")
		tr.armed.Store(1)
		resp := g.form(t, tokenPath, refreshForm(c, r0))
		wantOAuthError(t, "F8 lost answer", resp, 503, respond.CodeTemporarilyUnavailable)
		// Deterministic afterwards: two retries give the same class of answer, never a 5xx.
		first := g.form(t, tokenPath, refreshForm(c, r0))
		second := g.form(t, tokenPath, refreshForm(c, r0))
		switch {
		case first.StatusCode == http.StatusOK:
			a1, r1 := wantTokens(t, g, "F8 retry", first)
			wantSamePair(t, g, "F8 retry again", second, a1, r1)
		default:
			wantOAuthError(t, "F8 retry", first, 400, respond.CodeInvalidGrant)
			wantOAuthError(t, "F8 retry again", second, 400, respond.CodeInvalidGrant)
		}
	})
}
