package oauth

import (
	"context"
	"errors"
	"net/http"
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

// faultyStore is a working store that can be made to fail every call (down) or to lose every
// compare-and-swap (contended: another writer always changed the counter first).
type faultyStore struct {
	store.Store
	down      atomic.Bool
	contended atomic.Bool
	gets      atomic.Int64 // calls of Get, the first call of every count
}

func (s *faultyStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if s.down.Load() {
		return nil, errStoreDown
	}
	return s.Store.Get(ctx, key)
}

func (s *faultyStore) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	switch {
	case s.down.Load():
		return false, errStoreDown
	case s.contended.Load():
		return false, nil
	}
	return s.Store.PutIfAbsent(ctx, key, value, ttl)
}

func (s *faultyStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	switch {
	case s.down.Load():
		return false, errStoreDown
	case s.contended.Load():
		return false, nil
	}
	return s.Store.CompareAndSwap(ctx, key, old, new, ttl)
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
// cannot count, because the store is down or the counter is too contended, goes on to the
// endpoint; after a failure the store is left alone for storeRecheck; the limit applies again
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
	gets := fs.gets.Load()
	for i := range 5 {
		if ok, retry := allow(l, "10.0.0.1", "register"); !ok || retry != 0 {
			t.Fatalf("request %d with the store down: allow = %v, %v; want true, 0 (fail open)", i+1, ok, retry)
		}
	}
	if n := fs.gets.Load() - gets; n != 1 {
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

	fs.contended.Store(true)
	if ok, _ := allow(l, "10.0.0.2", "token"); !ok {
		t.Error("a request whose counter is too contended to update was refused, want it let through")
	}
	fs.contended.Store(false)
	if ok, _ := allow(l, "10.0.0.2", "token"); !ok {
		t.Error("contention is not a store failure: the next request was refused")
	}
}

// TestStoreRateLimiterFailsClosed: with on_store_error closed, a request the shared limiter
// cannot count is refused with 429 and Retry-After (2 s when the store failed, 1 s when the
// counter was contended), and requests are counted and allowed again once the store answers.
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

	fs.contended.Store(true)
	if ok, retry := allow(l, "10.0.0.1", "register"); ok || retry != time.Second {
		t.Errorf("a contended counter: allow = %v, %v; want false, 1s", ok, retry)
	}

	// Back up: counted again. The refused requests were never counted: the window holds the
	// one request made before the failure, so two more fit.
	fs.contended.Store(false)
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

func (hangingStore) Get(ctx context.Context, _ string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
