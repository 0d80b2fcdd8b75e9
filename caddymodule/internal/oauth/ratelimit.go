package oauth

// ratelimit.go limits the unauthenticated OAuth endpoints per client IP. One instance uses
// token buckets from golang.org/x/time/rate in a table of bounded size; instances that share a
// Redis store share fixed-window counters in it, so N instances allow one limit, not N.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
)

// Limiter decides whether a request may proceed, and if not, when to retry. The key names
// the endpoint and the client address.
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, time.Duration)
}

// RateConfig is a token bucket per client IP and endpoint.
type RateConfig struct {
	Disabled  bool
	PerSecond float64
	Burst     int
}

// maxLimiterEntries bounds the limiter table; past it, idle buckets are dropped first, and if
// every bucket is busy the table is reset (which only ever lets more requests through).
const maxLimiterEntries = 50_000

// MemoryLimiter is the limiter of one instance.
type MemoryLimiter struct {
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

// NewMemoryLimiter returns an in-memory limiter for cfg.
func NewMemoryLimiter(cfg RateConfig) *MemoryLimiter {
	return &MemoryLimiter{
		disabled: cfg.Disabled,
		limit:    rate.Limit(cfg.PerSecond),
		burst:    cfg.Burst,
		now:      time.Now,
		buckets:  make(map[string]*bucket),
	}
}

// Allow implements Limiter.
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration) {
	if l.disabled {
		return true, 0
	}
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
func (l *MemoryLimiter) sweepLocked(now time.Time) {
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

// StoreLimiter counts requests per key in fixed windows held in the shared store: burst
// requests per burst/rate seconds. A window boundary can let up to two bursts through in quick
// succession, the usual price of fixed windows. If the store fails, requests go through (the
// endpoint itself will then report the store's state).
type StoreLimiter struct {
	windows grants.RateWindows
	max     int
	window  time.Duration
	now     func() time.Time
	logger  *zap.Logger
}

// NewStoreLimiter returns a limiter whose counters live in the shared store.
func NewStoreLimiter(windows grants.RateWindows, cfg RateConfig, logger *zap.Logger) *StoreLimiter {
	window := max(time.Duration(float64(cfg.Burst)/cfg.PerSecond*float64(time.Second)), time.Second)
	return &StoreLimiter{windows: windows, max: cfg.Burst, window: window, now: time.Now, logger: logger}
}

// Allow implements Limiter.
func (l *StoreLimiter) Allow(ctx context.Context, key string) (bool, time.Duration) {
	now := l.now()
	win := now.UnixNano() / int64(l.window)
	retry := time.Duration((win+1)*int64(l.window) - now.UnixNano())
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ok, err := l.windows.Count(ctx, fmt.Sprintf("%s|%d", key, win), l.max, l.window+time.Second)
	switch {
	case errors.Is(err, grants.ErrContention):
		return true, 0 // heavy contention on one counter: let it through rather than fail closed
	case err != nil:
		l.logger.Warn("shared rate limiter unavailable; request allowed", zap.Error(err))
		return true, 0
	case !ok:
		return false, retry
	}
	return true, 0
}
