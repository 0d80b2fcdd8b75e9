package caddymodule

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// TestAbandonedAuthorizationsExpire is L3: 10,000 authorizations that never complete leave
// nothing behind once their TTL has passed.
func TestAbandonedAuthorizationsExpire(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests; skipped in -short mode")
	}
	g := newTestGateway(t, func(a *App) { a.PendingTTL = caddy.Duration(2 * time.Second) })
	c := g.register(t)
	before := g.count(store.KindPending)
	const n = 10_000
	var failed atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := client.Get(c.Config.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	client.CloseIdleConnections()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d authorize requests failed", failed.Load(), n)
	}
	if got := g.count(store.KindPending); got < n {
		t.Fatalf("%d pending authorizations stored, want at least %d", got, n)
	}
	time.Sleep(3100 * time.Millisecond) // TTL 2 s, Badger rounds expiry up to the second
	if got := g.count(store.KindPending); got > before {
		t.Errorf("%d pending authorizations left after their TTL, want %d", got, before)
	}
}
