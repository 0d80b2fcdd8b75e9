// ratelimit.go limits the unauthenticated OAuth endpoints per client IP with token buckets
// from golang.org/x/time/rate, in a table of bounded size.

package caddymodule

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// maxLimiterEntries bounds the limiter table; past it, idle buckets are dropped first, and if
// every bucket is busy the table is reset (which only ever lets more requests through).
const maxLimiterEntries = 50_000

type rateLimiter struct {
	disabled bool
	limit    rate.Limit
	burst    int
	now      func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

func newRateLimiter(cfg *RateLimitConfig) *rateLimiter {
	return &rateLimiter{
		disabled: cfg.Disabled,
		limit:    rate.Limit(cfg.PerSecond),
		burst:    cfg.Burst,
		now:      time.Now,
		buckets:  make(map[string]*bucket),
	}
}

// allow reports whether a request from r to endpoint may proceed, and if not, when to retry.
func (l *rateLimiter) allow(r *http.Request, endpoint string) (bool, time.Duration) {
	if l.disabled {
		return true, 0
	}
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if ip == "" {
		ip = r.RemoteAddr
	}
	key := endpoint + "|" + ip
	now := l.now()

	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterEntries {
			l.sweepLocked(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	res := b.lim.ReserveN(now, 1)
	l.mu.Unlock()

	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweepLocked drops buckets that have refilled (idle long enough to be full again).
func (l *rateLimiter) sweepLocked(now time.Time) {
	full := time.Duration(float64(l.burst)/float64(l.limit)*float64(time.Second)) + time.Second
	for k, b := range l.buckets {
		if now.Sub(b.lastSeen) > full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiterEntries {
		l.buckets = make(map[string]*bucket)
	}
}
