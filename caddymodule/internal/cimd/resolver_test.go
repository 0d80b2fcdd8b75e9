package cimd

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
)

// clock is a settable time source for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// countingServer serves goodDoc with the given Cache-Control (none if empty) and counts hits.
func countingServer(t *testing.T, cacheControl string, hits *atomic.Int32) *docServer {
	return newDocServer(t, func(w http.ResponseWriter, r *http.Request, self string) {
		hits.Add(1)
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		serveJSON(goodDoc)(w, r, self)
	})
}

func newTestResolver(opts Options) (*Resolver, *clock) {
	r := New(opts)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	r.now = c.now
	return r, c
}

func TestResolverCacheLifetime(t *testing.T) {
	for _, tc := range []struct {
		cacheControl string
		ttl          time.Duration
	}{
		{"max-age=300", 300 * time.Second},
		{"public, max-age=7200", 2 * time.Hour},
		{"no-store", MinTTL},
		{"max-age=0", MinTTL},
		{"max-age=31536000", MaxTTL},
		{"", DefaultTTL},
	} {
		t.Run(tc.cacheControl, func(t *testing.T) {
			var hits atomic.Int32
			d := countingServer(t, tc.cacheControl, &hits)
			r, clk := newTestResolver(d.opts)
			for range 3 {
				if _, e := r.Resolve(context.Background(), d.URL); e != nil {
					t.Fatal(e)
				}
			}
			clk.add(tc.ttl - time.Second)
			if _, e := r.Resolve(context.Background(), d.URL); e != nil || hits.Load() != 1 {
				t.Fatalf("within %v: %d fetches (err %v), want 1", tc.ttl, hits.Load(), e)
			}
			clk.add(2 * time.Second)
			if _, e := r.Resolve(context.Background(), d.URL); e != nil || hits.Load() != 2 {
				t.Fatalf("after %v: %d fetches (err %v), want 2", tc.ttl, hits.Load(), e)
			}
		})
	}
}

func TestCacheTTLExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("Expires", now.Add(2*time.Hour).UTC().Format(http.TimeFormat))
	if got := cacheTTL(h, now); got != 2*time.Hour {
		t.Fatalf("Expires in 2h: ttl %v", got)
	}
	h.Set("Expires", "0")
	if got := cacheTTL(h, now); got != MinTTL {
		t.Fatalf("invalid Expires: ttl %v, want the floor %v", got, MinTTL)
	}
	h.Set("Cache-Control", "max-age=600")
	if got := cacheTTL(h, now); got != 10*time.Minute {
		t.Fatalf("max-age beside Expires: ttl %v, want max-age's 10m", got)
	}
}

func TestResolverNegativeCache(t *testing.T) {
	var hits atomic.Int32
	d := newDocServer(t, func(w http.ResponseWriter, _ *http.Request, _ string) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	r, clk := newTestResolver(d.opts)
	before := testutil.ToFloat64(metrics.ClientDocumentFetches.WithLabelValues(KindStatus))
	for range 5 {
		if _, e := r.Resolve(context.Background(), d.URL); e == nil || e.Kind != KindStatus {
			t.Fatalf("Resolve: %v, want %s", e, KindStatus)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d fetches of a failing URL within the negative cache time, want 1", hits.Load())
	}
	if got := testutil.ToFloat64(metrics.ClientDocumentFetches.WithLabelValues(KindStatus)) - before; got != 1 {
		t.Fatalf("fetch metric counted %v status failures, want 1", got)
	}
	clk.add(NegativeTTL + time.Second)
	_, _ = r.Resolve(context.Background(), d.URL)
	if hits.Load() != 2 {
		t.Fatalf("%d fetches after the negative cache time, want 2", hits.Load())
	}
}

func TestResolverBoundedSize(t *testing.T) {
	var hits atomic.Int32
	d := newDocServer(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		hits.Add(1)
		serveJSON(goodDoc)(w, r, "https://"+r.Host+r.URL.RequestURI())
	})
	opts := d.opts
	opts.maxEntries = 3
	r, _ := newTestResolver(opts)
	url := func(i int) string { return fmt.Sprintf("%s?n=%d", d.URL, i) }
	for i := range 5 {
		if _, e := r.Resolve(context.Background(), url(i)); e != nil {
			t.Fatal(e)
		}
	}
	if n := r.cache.Len(); n != 3 {
		t.Fatalf("cache holds %d entries, want the bound 3", n)
	}
	_, _ = r.Resolve(context.Background(), url(4)) // recent: cached
	_, _ = r.Resolve(context.Background(), url(0)) // evicted: fetched again
	if hits.Load() != 6 {
		t.Fatalf("%d fetches, want 6 (5, then the evicted one again)", hits.Load())
	}
}

func TestResolverCollapsesConcurrentFetches(t *testing.T) {
	var hits atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	d := newDocServer(t, func(w http.ResponseWriter, r *http.Request, self string) {
		if hits.Add(1) == 1 {
			close(entered)
		}
		<-release
		serveJSON(goodDoc)(w, r, self)
	})
	r, _ := newTestResolver(d.opts)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	resolve := func() {
		defer wg.Done()
		if _, e := r.Resolve(context.Background(), d.URL); e != nil {
			errs <- e
		}
	}
	wg.Add(1)
	go resolve()
	<-entered // one fetch is in flight; every later caller must join it
	for range 9 {
		wg.Add(1)
		go resolve()
	}
	close(release)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d fetches for 10 concurrent callers, want 1", hits.Load())
	}
}
