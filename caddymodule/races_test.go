package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// Races of the test matrix (S4, S5; F10 is in matrix_refresh_test.go). Run under
// -race: every goroutine waits on one barrier, and outcomes are counted exactly.

// outcome is one concurrent request's result; requests from goroutines never call t.Fatal.
type outcome struct {
	status   int
	errCode  string
	location string
	err      error
}

func raceDo(client *http.Client, req *http.Request) outcome {
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body struct {
		Error any `json:"error"`
	}
	_ = json.Unmarshal(raw, &body)
	code, _ := body.Error.(string)
	return outcome{status: resp.StatusCode, errCode: code, location: resp.Header.Get("Location")}
}

// barrier runs n copies of fn at once and returns their outcomes.
func barrier(n int, fn func() outcome) []outcome {
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestRaceRedeemCode(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	const iterations, n = 20, 50
	for iter := 0; iter < iterations; iter++ {
		f, code := freshCode(t, g, c)
		body := f.TokenForm(code).Encode()
		var mu sync.Mutex
		var access string
		outs := barrier(n, func() outcome {
			req, _ := http.NewRequest("POST", g.URL+tokenPath, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return outcome{err: err}
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			if tok, ok := m["access_token"].(string); ok {
				mu.Lock()
				access = tok
				mu.Unlock()
			}
			code, _ := m["error"].(string)
			return outcome{status: resp.StatusCode, errCode: code}
		})
		wins, grants := 0, 0
		for i, o := range outs {
			switch {
			case o.err != nil:
				t.Errorf("S4 iteration %d request %d: %v", iter, i, o.err)
			case o.status == http.StatusOK:
				wins++
			case o.status == http.StatusBadRequest && o.errCode == respond.CodeInvalidGrant:
				grants++
			default:
				t.Errorf("S4 iteration %d request %d: %d %s", iter, i, o.status, o.errCode)
			}
		}
		if wins != 1 || grants != n-1 {
			t.Fatalf("S4 iteration %d: %d wins and %d invalid_grant, want 1 and %d", iter, wins, grants, n-1)
		}
		g.noteSecret(access)
		// The losers arrived after the winner committed: replays (a code redeemed twice revokes its grant), so the
		// winner's session is revoked.
		if resp := g.me(t, access); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("S4 iteration %d: the winner's token got %d after 49 replays, want 401", iter, resp.StatusCode)
		}
		if !waitRevokedAtWorkOS(g, jwtSID(t, access)) {
			t.Errorf("S4 iteration %d: the WorkOS session was not revoked", iter)
		}
	}
}

func TestRaceDoubleCallback(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	const iterations, n = 20, 10
	for iter := 0; iter < iterations; iter++ {
		f := g.kit.StartFlow(t, c, "ada@example.com")
		before := g.WorkOS.Hits(workosmock.EndpointAuthenticateCode)
		client := f.Browser.HTTP
		outs := barrier(n, func() outcome {
			req, _ := http.NewRequest("GET", f.CallbackURL, nil)
			return raceDo(client, req)
		})
		codes := 0
		for i, o := range outs {
			switch {
			case o.err != nil:
				t.Errorf("S5 iteration %d request %d: %v", iter, i, o.err)
			case o.status == http.StatusFound:
				loc, err := url.Parse(o.location)
				if err != nil || loc.Query().Get("code") == "" {
					t.Errorf("S5 iteration %d: 302 without a code: %q", iter, o.location)
					continue
				}
				g.noteSecret(loc.Query().Get("code"))
				codes++
			case o.status >= 500:
				t.Errorf("S5 iteration %d request %d: %d", iter, i, o.status)
			}
		}
		if codes != 1 {
			t.Errorf("S5 iteration %d: %d redirects with a code, want exactly 1", iter, codes)
		}
		if d := g.WorkOS.Hits(workosmock.EndpointAuthenticateCode) - before; d != 1 {
			t.Errorf("S5 iteration %d: %d WorkOS code exchanges, want exactly 1", iter, d)
		}
	}
}
