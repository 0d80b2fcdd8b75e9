package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/store"
)

// limiterClock is a settable clock for the limiter.
type limiterClock struct{ t time.Time }

func (c *limiterClock) now() time.Time { return c.t }

func testLimiter(perSecond float64, burst int) (*MemoryLimiter, *limiterClock) {
	clock := &limiterClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := NewMemoryLimiter(RateConfig{PerSecond: perSecond, Burst: burst})
	l.now = clock.now
	return l, clock
}

// allow asks l about one request from client IP ip to endpoint, under the key the server uses
// (endpoint|client IP).
func allow(l Limiter, ip, endpoint string) (bool, time.Duration) {
	return l.Allow(context.Background(), endpoint+"|"+ip)
}

// limitedServer is a Server whose runtime holds only the limiter l, so a request the limiter
// lets through fails later with a 400 (nothing else is needed to answer it) and a refused one
// is answered 429. The client IP is the request's RemoteAddr (Deps.ClientIP unset).
func limitedServer(t *testing.T, l Limiter) *Server {
	t.Helper()
	rt := &Runtime{Limiter: l}
	s, err := New(Config{Issuer: "https://gw.example", APIBase: "/api/v1", PendingTTL: 10 * time.Minute},
		Deps{Runtime: func(context.Context) (*Runtime, error) { return rt, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveFrom sends s a bodyless request from client IP ip to the auth endpoint (register, token
// or authorize) and returns the answer.
func serveFrom(s *Server, ip, endpoint string) *httptest.ResponseRecorder {
	method := http.MethodPost
	if endpoint == "authorize" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, "/api/v1/auth/"+endpoint, nil)
	r.RemoteAddr = ip
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestRateLimiterBurstThen429(t *testing.T) {
	l, clock := testLimiter(5, 3)
	const ip = "192.0.2.1"
	for i := range 3 {
		if ok, retry := allow(l, ip, "register"); !ok || retry != 0 {
			t.Fatalf("R22/burst: allow #%d = %v, %v, want true, 0", i+1, ok, retry)
		}
	}
	ok, retry := allow(l, ip, "register")
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("R22/over-burst: allow = %v, %v, want false with a retry in (0, 1s]", ok, retry)
	}
	// A refused request must not consume a token: waiting the announced delay is enough.
	ok2, retry2 := allow(l, ip, "register")
	if ok2 || retry2 != retry {
		t.Errorf("R22/refusal-is-free: allow again = %v, %v, want false, %v", ok2, retry2, retry)
	}
	clock.t = clock.t.Add(retry)
	if ok, retry := allow(l, ip, "register"); !ok || retry != 0 {
		t.Errorf("R22/refill: allow after %v = %v, %v, want true, 0", retry, ok, retry)
	}
	if ok, _ := allow(l, ip, "register"); ok {
		t.Errorf("R22/refill-one-token: second allow after one refill = true, want false")
	}
	clock.t = clock.t.Add(time.Hour)
	for i := range 3 {
		if ok, _ := allow(l, ip, "register"); !ok {
			t.Errorf("R22/refill-full: allow #%d after an hour = false, want true", i+1)
		}
	}
}

func TestRateLimiterRetryAfterHeader(t *testing.T) {
	l, _ := testLimiter(0.5, 1)
	const ip = "192.0.2.1"
	allow(l, ip, "token")
	ok, retry := allow(l, ip, "token")
	if ok || retry != 2*time.Second {
		t.Fatalf("allow at 0.5/s after the burst = %v, %v, want false, 2s", ok, retry)
	}
	// The server asks the same bucket and answers the refusal with its delay.
	w := serveFrom(limitedServer(t, l), ip, "token")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Errorf("R22/429: POST token from %s after the burst = %d Retry-After %q, want 429 Retry-After 2", ip, w.Code, w.Header().Get("Retry-After"))
	}
}

func TestRateLimiterIndependentKeys(t *testing.T) {
	l, _ := testLimiter(1, 1)
	s := limitedServer(t, l)
	const a, b = "192.0.2.1", "2001:db8::1"
	if w := serveFrom(s, a, "register"); w.Code == http.StatusTooManyRequests {
		t.Fatalf("POST register from %s = 429, want it let through", a)
	}
	if w := serveFrom(s, a, "register"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("POST register from %s again = %d, want 429", a, w.Code)
	}
	for _, tc := range []struct {
		name     string
		ip       string
		endpoint string
	}{
		{"R22/other-ip", b, "register"},
		{"R22/other-endpoint", a, "token"},
		{"R22/other-endpoint-2", a, "authorize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := serveFrom(s, tc.ip, tc.endpoint); w.Code == http.StatusTooManyRequests {
				t.Errorf("%s from %s = 429, want it let through (independent bucket)", tc.endpoint, tc.ip)
			}
		})
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	l := NewMemoryLimiter(RateConfig{Disabled: true, PerSecond: 1, Burst: 1})
	const ip = "192.0.2.1"
	for i := range 10 {
		if ok, retry := allow(l, ip, "register"); !ok || retry != 0 {
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
				if ok, _ := allow(l, ip, "register"); !ok {
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
	cfg := RateConfig{PerSecond: 1, Burst: 3} // 3 per 3 s window
	now := time.Unix(1_800_000_000, 0)
	windows := grants.New(s, time.Second).Rates
	a := NewStoreLimiter(windows, cfg, zap.NewNop())
	b := NewStoreLimiter(windows, cfg, zap.NewNop()) // a second gateway instance
	a.now = func() time.Time { return now }
	b.now = a.now
	for i, l := range []*StoreLimiter{a, b, a} {
		if ok, _ := allow(l, "10.0.0.1", "register"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := allow(b, "10.0.0.1", "register")
	if ok || retry <= 0 || retry > 3*time.Second {
		t.Fatalf("4th request in the window: allow = %v, retry %v; want refused with 0 < retry <= 3s", ok, retry)
	}
	if ok, _ := allow(a, "10.0.0.2", "register"); !ok {
		t.Error("another client IP was refused")
	}
	if ok, _ := allow(a, "10.0.0.1", "token"); !ok {
		t.Error("another endpoint was refused")
	}
	now = now.Add(3 * time.Second)
	if ok, _ := allow(b, "10.0.0.1", "register"); !ok {
		t.Error("refused in the next window")
	}
}
