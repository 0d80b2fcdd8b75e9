// ratelimit.go limits the unauthenticated OAuth endpoints per client IP. One instance (Badger)
// uses token buckets from golang.org/x/time/rate in a table of bounded size; instances that
// share a Redis store share fixed-window counters in it, so N instances allow one limit, not N.

package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// limiter decides whether a request to an endpoint may proceed, and if not, when to retry.
type limiter interface {
	allow(r *http.Request, endpoint string) (bool, time.Duration)
}

// clientIP is the address Caddy determined for the client (trusted_proxies applied).
func clientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	return r.RemoteAddr
}

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
	key := endpoint + "|" + clientIP(r)
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

// storeRateLimiter counts requests per endpoint and client IP in fixed windows held in the
// shared store: burst requests per burst/rate seconds. A window boundary can let up to two
// bursts through in quick succession, the usual price of fixed windows. If the store fails,
// requests go through (the endpoint itself will then report the store's state).
type storeRateLimiter struct {
	store  store.Store
	max    int
	window time.Duration
	now    func() time.Time
	logger *zap.Logger
}

func newStoreRateLimiter(s store.Store, cfg *RateLimitConfig, logger *zap.Logger) *storeRateLimiter {
	window := time.Duration(float64(cfg.Burst) / cfg.PerSecond * float64(time.Second))
	if window < time.Second {
		window = time.Second
	}
	return &storeRateLimiter{store: s, max: cfg.Burst, window: window, now: time.Now, logger: logger}
}

func (l *storeRateLimiter) allow(r *http.Request, endpoint string) (bool, time.Duration) {
	now := l.now()
	win := now.UnixNano() / int64(l.window)
	retry := time.Duration((win+1)*int64(l.window) - now.UnixNano())
	key := store.Key(store.KindRateLimit, fmt.Sprintf("%s|%s|%d", endpoint, clientIP(r), win))
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	ttl := l.window + time.Second
	for attempt := 0; attempt < 8; attempt++ {
		cur, err := l.store.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			stored, err := l.store.PutIfAbsent(ctx, key, []byte("1"), ttl)
			if err != nil {
				return l.failOpen(err)
			}
			if stored {
				return true, 0
			}
			continue // another instance started the window first
		}
		if err != nil {
			return l.failOpen(err)
		}
		n, err := strconv.Atoi(string(cur))
		if err != nil {
			return l.failOpen(errors.New("corrupt rate-limit counter"))
		}
		if n >= l.max {
			return false, retry
		}
		swapped, err := l.store.CompareAndSwap(ctx, key, cur, []byte(strconv.Itoa(n+1)), ttl)
		if err != nil {
			return l.failOpen(err)
		}
		if swapped {
			return true, 0
		}
	}
	return true, 0 // heavy contention on one counter: let it through rather than fail closed
}

func (l *storeRateLimiter) failOpen(err error) (bool, time.Duration) {
	l.logger.Warn("shared rate limiter unavailable; request allowed", zap.Error(err))
	return true, 0
}
