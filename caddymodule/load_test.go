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
	// The TTL must outlast sending all 10,000 requests on a loaded 2-core machine, or the
	// first records expire before they are counted.
	const ttl = 8 * time.Second
	g := newTestGateway(t, func(a *App) { a.PendingTTL = caddy.Duration(ttl) })
	c := g.register(t)
	before := g.count(store.KindPending)
	const n = 10_000
	var failed atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	sendStart := time.Now()
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
	if sent := time.Since(sendStart); sent < ttl-time.Second {
		if got := g.count(store.KindPending); got < n {
			t.Fatalf("%d pending authorizations stored, want at least %d", got, n)
		}
	} else {
		t.Logf("sending took %v, longer than the TTL allows counting them all", sent)
	}
	// The last record was written just now; Badger rounds expiry up to the second.
	time.Sleep(ttl + 1100*time.Millisecond)
	if got := g.count(store.KindPending); got > before {
		t.Errorf("%d pending authorizations left after their TTL, want %d", got, before)
	}
}
