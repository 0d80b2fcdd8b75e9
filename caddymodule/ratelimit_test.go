package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// limiterClock is a settable clock for the limiter.
type limiterClock struct{ t time.Time }

func (c *limiterClock) now() time.Time { return c.t }

func testLimiter(perSecond float64, burst int) (*rateLimiter, *limiterClock) {
	clock := &limiterClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := newRateLimiter(&RateLimitConfig{PerSecond: perSecond, Burst: burst})
	l.now = clock.now
	return l, clock
}

// ipRequest returns a request whose client IP is ip, as Caddy's server records it.
func ipRequest(ip string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/register", nil)
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: ip})
	return r.WithContext(ctx)
}

func TestRateLimiterBurstThen429(t *testing.T) {
	l, clock := testLimiter(5, 3)
	r := ipRequest("192.0.2.1")
	for i := range 3 {
		if ok, retry := l.allow(r, "register"); !ok || retry != 0 {
			t.Fatalf("R22/burst: allow #%d = %v, %v, want true, 0", i+1, ok, retry)
		}
	}
	ok, retry := l.allow(r, "register")
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("R22/over-burst: allow = %v, %v, want false with a retry in (0, 1s]", ok, retry)
	}
	// A refused request must not consume a token: waiting the announced delay is enough.
	ok2, retry2 := l.allow(r, "register")
	if ok2 || retry2 != retry {
		t.Errorf("R22/refusal-is-free: allow again = %v, %v, want false, %v", ok2, retry2, retry)
	}
	clock.t = clock.t.Add(retry)
	if ok, retry := l.allow(r, "register"); !ok || retry != 0 {
		t.Errorf("R22/refill: allow after %v = %v, %v, want true, 0", retry, ok, retry)
	}
	if ok, _ := l.allow(r, "register"); ok {
		t.Errorf("R22/refill-one-token: second allow after one refill = true, want false")
	}
	clock.t = clock.t.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow(r, "register"); !ok {
			t.Errorf("R22/refill-full: allow #%d after an hour = false, want true", i+1)
		}
	}
}

func TestRateLimiterRetryAfterHeader(t *testing.T) {
	l, _ := testLimiter(0.5, 1)
	r := ipRequest("192.0.2.1")
	l.allow(r, "token")
	ok, retry := l.allow(r, "token")
	if ok || retry != 2*time.Second {
		t.Fatalf("allow at 0.5/s after the burst = %v, %v, want false, 2s", ok, retry)
	}
	w := httptest.NewRecorder()
	writeOAuthError(w, errRateLimited(retry))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Errorf("R22/429: writeOAuthError(errRateLimited(%v)) = %d Retry-After %q, want 429 Retry-After 2", retry, w.Code, w.Header().Get("Retry-After"))
	}
}

func TestRateLimiterIndependentKeys(t *testing.T) {
	l, _ := testLimiter(1, 1)
	a, b := ipRequest("192.0.2.1"), ipRequest("2001:db8::1")
	if ok, _ := l.allow(a, "register"); !ok {
		t.Fatalf("allow(a, register) = false, want true")
	}
	if ok, _ := l.allow(a, "register"); ok {
		t.Fatalf("allow(a, register) again = true, want false")
	}
	for _, tc := range []struct {
		name     string
		r        *http.Request
		endpoint string
	}{
		{"R22/other-ip", b, "register"},
		{"R22/other-endpoint", a, "token"},
		{"R22/other-endpoint-2", a, "authorize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, _ := l.allow(tc.r, tc.endpoint); !ok {
				t.Errorf("allow(%s, %s) = false, want true (independent bucket)", tc.r.Context().Value(caddyhttp.VarsCtxKey), tc.endpoint)
			}
		})
	}
}

func TestRateLimiterFallbackRemoteAddr(t *testing.T) {
	l, _ := testLimiter(1, 1)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.RemoteAddr = "198.51.100.7:1234"
	if ok, _ := l.allow(r, "register"); !ok {
		t.Fatalf("allow(no client IP var) = false, want true")
	}
	if ok, _ := l.allow(r, "register"); ok {
		t.Errorf("allow(no client IP var) again = true, want false")
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	l := newRateLimiter(&RateLimitConfig{Disabled: true, PerSecond: 1, Burst: 1})
	r := ipRequest("192.0.2.1")
	for i := range 10 {
		if ok, retry := l.allow(r, "register"); !ok || retry != 0 {
			t.Fatalf("allow #%d when disabled = %v, %v, want true, 0", i+1, ok, retry)
		}
	}
	if len(l.buckets) != 0 {
		t.Errorf("disabled limiter holds %d buckets, want 0", len(l.buckets))
	}
}

func TestRateLimiterBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the limiter table")
	}
	for _, tc := range []struct {
		name string
		step time.Duration // clock advance per request
	}{
		{"R22/all-busy-reset", 0},
		{"R22/idle-swept", time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, clock := testLimiter(5, 50)
			most := 0
			for i := range maxLimiterEntries + 1000 {
				clock.t = clock.t.Add(tc.step)
				ip := fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
				if ok, _ := l.allow(ipRequest(ip), "register"); !ok {
					t.Fatalf("allow(new ip %s) = false, want true", ip)
				}
				most = max(most, len(l.buckets))
			}
			if most > maxLimiterEntries {
				t.Errorf("limiter table reached %d entries, want at most %d", most, maxLimiterEntries)
			}
		})
	}
}

// TestStoreRateLimiter checks the limiter instances share through the store: a burst per
// window per client IP and endpoint, then refusals with the time to the next window, and a
// fresh window after it; two limiters on one store share the count.
func TestStoreRateLimiter(t *testing.T) {
	s, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cfg := &RateLimitConfig{PerSecond: 1, Burst: 3} // 3 per 3 s window
	now := time.Unix(1_800_000_000, 0)
	a := newStoreRateLimiter(s, cfg, zap.NewNop())
	b := newStoreRateLimiter(s, cfg, zap.NewNop()) // a second gateway instance
	a.now = func() time.Time { return now }
	b.now = a.now
	req := func(ip string) *http.Request {
		r := httptest.NewRequest("POST", "/api/v1/auth/register", nil)
		r.RemoteAddr = ip
		return r
	}
	for i, l := range []*storeRateLimiter{a, b, a} {
		if ok, _ := l.allow(req("10.0.0.1"), "register"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := b.allow(req("10.0.0.1"), "register")
	if ok || retry <= 0 || retry > 3*time.Second {
		t.Fatalf("4th request in the window: allow = %v, retry %v; want refused with 0 < retry <= 3s", ok, retry)
	}
	if ok, _ := a.allow(req("10.0.0.2"), "register"); !ok {
		t.Error("another client IP was refused")
	}
	if ok, _ := a.allow(req("10.0.0.1"), "token"); !ok {
		t.Error("another endpoint was refused")
	}
	now = now.Add(3 * time.Second)
	if ok, _ := b.allow(req("10.0.0.1"), "register"); !ok {
		t.Error("refused in the next window")
	}
}
