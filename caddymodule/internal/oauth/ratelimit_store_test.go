package oauth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/store"
)

// errStoreDown is what faultyStore answers while down, as a Redis client does when the
// server is gone.
var errStoreDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// faultyStore is a working store whose counting can be made to fail (down), as a Redis store
// does when the server is gone.
type faultyStore struct {
	store.Store
	down  atomic.Bool
	incrs atomic.Int64 // calls of Incr, one per count
}

func (s *faultyStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	s.incrs.Add(1)
	if s.down.Load() {
		return 0, errStoreDown
	}
	return s.Store.Incr(ctx, key, ttl)
}

// faultyLimiter is a store limiter (3 requests per 3 s window) on a faultyStore, with a
// settable clock and its log lines observed.
func faultyLimiter(t *testing.T, failClosed bool) (*StoreLimiter, *faultyStore, *limiterClock, *observer.ObservedLogs) {
	t.Helper()
	s, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fs := &faultyStore{Store: s}
	core, logs := observer.New(zap.WarnLevel)
	l := NewStoreLimiter(grants.New(fs, time.Second).Rates, RateConfig{PerSecond: 1, Burst: 3, FailClosed: failClosed}, zap.New(core))
	clock := &limiterClock{t: time.Unix(1_800_000_000, 0)}
	l.now = clock.now
	return l, fs, clock, logs
}

// TestStoreRateLimiterFailsOpen: by default (on_store_error open) a request the shared limiter
// cannot count, because the store is down, goes on to the endpoint; after a failure the store is left alone for storeRecheck; the limit applies again
// as soon as the store answers; the failure is logged once, not once per request.
func TestStoreRateLimiterFailsOpen(t *testing.T) {
	l, fs, clock, logs := faultyLimiter(t, false)
	for i := range 3 {
		if ok, _ := allow(l, "10.0.0.1", "register"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if ok, retry := allow(l, "10.0.0.1", "register"); ok || retry <= 0 {
		t.Fatalf("4th request with the store up: allow = %v, retry %v; want refused", ok, retry)
	}

	fs.down.Store(true)
	incrs := fs.incrs.Load()
	for i := range 5 {
		if ok, retry := allow(l, "10.0.0.1", "register"); !ok || retry != 0 {
			t.Fatalf("request %d with the store down: allow = %v, %v; want true, 0 (fail open)", i+1, ok, retry)
		}
	}
	if n := fs.incrs.Load() - incrs; n != 1 {
		t.Errorf("5 requests within %v of a store failure asked the store %d times, want once", storeRecheck, n)
	}
	if n := logs.FilterMessageSnippet("shared rate limiter unavailable").Len(); n != 1 {
		t.Errorf("store failures logged %d times for 5 requests, want once", n)
	}
	// The request is let through, and the endpoint answers it (here a 400: the request is
	// empty), not the limiter.
	if w := serveFrom(limitedServer(t, l), "10.0.0.1", "register"); w.Code == http.StatusTooManyRequests {
		t.Errorf("POST register with the store down = 429, want it let through to the endpoint")
	}

	// The store is back; once storeRecheck has passed the limiter asks it again.
	fs.down.Store(false)
	clock.t = clock.t.Add(storeRecheck)
	if ok, _ := allow(l, "10.0.0.1", "register"); ok {
		t.Error("once the store answers again, the full window still refuses: got allowed")
	}
}

// TestStoreRateLimiterFailsClosed: with on_store_error closed, a request the shared limiter
// cannot count is refused with 429 and Retry-After 2 s, and requests are counted and allowed again once the store answers.
func TestStoreRateLimiterFailsClosed(t *testing.T) {
	l, fs, clock, logs := faultyLimiter(t, true)
	if ok, _ := allow(l, "10.0.0.1", "register"); !ok {
		t.Fatal("first request with the store up refused")
	}

	fs.down.Store(true)
	for i := range 5 {
		if ok, retry := allow(l, "10.0.0.1", "register"); ok || retry != retryAfterStore {
			t.Fatalf("request %d with the store down: allow = %v, %v; want false, %v (fail closed)", i+1, ok, retry, retryAfterStore)
		}
	}
	if ok, _ := allow(l, "10.0.0.9", "token"); ok {
		t.Error("another address and endpoint with the store down: allowed, want refused")
	}
	if n := logs.FilterMessageSnippet("requests refused").Len(); n != 1 {
		t.Errorf("store failures logged %d times, want once", n)
	}
	w := serveFrom(limitedServer(t, l), "10.0.0.1", "register")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Errorf("POST register with the store down: %d, Retry-After %q; want 429, Retry-After 2", w.Code, w.Header().Get("Retry-After"))
	}

	// Within storeRecheck of the failure the limiter still refuses, without asking the store.
	fs.down.Store(false)
	clock.t = clock.t.Add(storeRecheck - time.Millisecond)
	if ok, _ := allow(l, "10.0.0.1", "register"); ok {
		t.Errorf("%v after the failure: allowed, want still refused", storeRecheck-time.Millisecond)
	}
	clock.t = clock.t.Add(time.Millisecond)

	// Back up: counted again. The refused requests were never counted: the window holds the
	// one request made before the failure, so two more fit.
	for i := range 2 {
		if ok, _ := allow(l, "10.0.0.1", "register"); !ok {
			t.Fatalf("request %d after the store came back refused", i+1)
		}
	}
	if ok, _ := allow(l, "10.0.0.1", "register"); ok {
		t.Error("4th counted request in the window allowed, want refused")
	}
}

// TestStoreRateLimiterSlowStore: a store that does not answer delays a request by at most
// limiterStoreTimeout, then the failure policy applies.
func TestStoreRateLimiterSlowStore(t *testing.T) {
	for _, failClosed := range []bool{false, true} {
		l := NewStoreLimiter(grants.New(hangingStore{}, time.Second).Rates, RateConfig{PerSecond: 1, Burst: 3, FailClosed: failClosed}, zap.NewNop())
		start := time.Now()
		ok, _ := allow(l, "10.0.0.1", "register")
		if took := time.Since(start); took > limiterStoreTimeout+500*time.Millisecond {
			t.Errorf("fail closed %v: a hanging store held the request for %v, want at most %v", failClosed, took, limiterStoreTimeout)
		}
		if ok == failClosed {
			t.Errorf("fail closed %v: allow with a hanging store = %v", failClosed, ok)
		}
	}
}

// hangingStore answers nothing until the caller gives up.
type hangingStore struct{ store.Store }

func (hangingStore) Incr(ctx context.Context, _ string, _ time.Duration) (int64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestStoreRateLimiterUnderContention: many requests from one address to one endpoint at the
// same instant, through two gateway instances sharing a real store, are admitted exactly burst
// times in the window, whatever the failure policy. A flood on one counter is what the limiter
// exists for, so contention on that counter must neither let requests through uncounted
// (fail open) nor refuse requests that fit (fail closed).
func TestStoreRateLimiterUnderContention(t *testing.T) {
	const burst, requests = 100, 1000
	for _, failClosed := range []bool{false, true} {
		s, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		windows := grants.New(s, time.Second).Rates
		cfg := RateConfig{PerSecond: 0.1, Burst: burst, FailClosed: failClosed} // one 200 s window
		now := time.Unix(1_800_000_000, 0)
		instances := []*StoreLimiter{NewStoreLimiter(windows, cfg, zap.NewNop()), NewStoreLimiter(windows, cfg, zap.NewNop())}
		for _, l := range instances {
			l.now = func() time.Time { return now }
			// The store serialises increments of one counter, so the last of 1000 waits for
			// the 999 before it: on a loaded machine under -race that can outlast the
			// production bound of one second, and a count that times out is not what this
			// test is about (TestStoreRateLimiterSlowStore is).
			l.timeout = time.Minute
		}

		var allowed atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if ok, _ := allow(instances[i%2], "10.0.0.1", "token"); ok {
					allowed.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := allowed.Load(); n != burst {
			t.Errorf("fail closed %v: %d concurrent requests on one counter admitted %d, want exactly the burst of %d", failClosed, requests, n, burst)
		}
	}
}
