package oauth

// ratelimit.go limits the unauthenticated OAuth endpoints per client IP. One instance uses
// token buckets from golang.org/x/time/rate in a table of bounded size; instances that share a
// Redis store share fixed-window counters in it, so N instances allow one limit, not N. When
// the shared counters cannot be read or written, RateConfig.FailClosed decides whether the
// request goes on uncounted (the default) or is refused.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
	// FailClosed makes the shared (store) limiter refuse a request it could not count, because
	// the store failed or was too slow, with 429 and Retry-After. Off (fail open), such a
	// request goes on uncounted. The in-memory limiter cannot fail.
	FailClosed bool
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
// succession, the usual price of fixed windows.
//
// Each request is one atomic increment in the store, so concurrent requests on one counter,
// however many and from however many instances, are all counted: a flood from one address
// queues on its counter, it does not slip past it. A request it cannot count (the store failed
// or timed out) goes through by default: fail open. The endpoint behind it needs the same
// store and answers 503 temporarily_unavailable with Retry-After itself, so failing open adds
// no work a client could not already cause, while failing closed would turn a Redis blip into
// 429s for everyone, including requests that need no store write. With FailClosed such a
// request is refused with 429 and Retry-After instead: nothing passes the limiter uncounted.
//
// After a store failure the limiter does not ask the store again for storeRecheck: requests
// meanwhile get the failure policy at once, instead of each waiting for the store to fail
// again before the endpoint waits for it too.
type StoreLimiter struct {
	windows    grants.RateWindows
	max        int
	window     time.Duration
	failClosed bool
	now        func() time.Time
	logger     *zap.Logger
	// timeout bounds one count in the store (limiterStoreTimeout).
	timeout time.Duration

	// downUntil is when (unix nanoseconds) the store may be asked again after a failure.
	downUntil atomic.Int64
	// lastWarn is when (unix nanoseconds) a store failure was last logged; while the store is
	// down every request fails, and one line per storeWarnEvery says as much.
	lastWarn atomic.Int64
}

// storeRecheck is how long the limiter applies its failure policy without asking the store,
// after the store failed.
const storeRecheck = time.Second

// storeWarnEvery bounds how often the limiter logs that the store failed.
const storeWarnEvery = 10 * time.Second

// limiterStoreTimeout bounds one count in the store, so a slow store delays a request by at
// most this much before the failure policy applies.
const limiterStoreTimeout = time.Second

// NewStoreLimiter returns a limiter whose counters live in the shared store.
func NewStoreLimiter(windows grants.RateWindows, cfg RateConfig, logger *zap.Logger) *StoreLimiter {
	window := max(time.Duration(float64(cfg.Burst)/cfg.PerSecond*float64(time.Second)), time.Second)
	return &StoreLimiter{windows: windows, max: cfg.Burst, window: window, failClosed: cfg.FailClosed, now: time.Now, logger: logger,
		timeout: limiterStoreTimeout}
}

// Allow implements Limiter.
func (l *StoreLimiter) Allow(ctx context.Context, key string) (bool, time.Duration) {
	now := l.now()
	if now.UnixNano() < l.downUntil.Load() {
		return l.storeDown()
	}
	win := now.UnixNano() / int64(l.window)
	retry := time.Duration((win+1)*int64(l.window) - now.UnixNano())
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	ok, err := l.windows.Count(cctx, fmt.Sprintf("%s|%d", key, win), l.max, l.window+time.Second)
	switch {
	case err == nil && !ok:
		return false, retry
	case err == nil:
		return true, 0
	case ctx.Err() != nil:
		// The client gave up; the store is not to blame.
		return l.storeDown()
	}
	l.downUntil.Store(now.Add(storeRecheck).UnixNano())
	l.warnStoreFailed(now, err)
	return l.storeDown()
}

// storeDown is the answer to a request the limiter cannot count because the store failed.
func (l *StoreLimiter) storeDown() (bool, time.Duration) {
	if l.failClosed {
		return false, retryAfterStore
	}
	return true, 0
}

// warnStoreFailed logs a store failure, at most once per storeWarnEvery.
func (l *StoreLimiter) warnStoreFailed(now time.Time, err error) {
	last := l.lastWarn.Load()
	if now.UnixNano()-last < int64(storeWarnEvery) || !l.lastWarn.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if l.failClosed {
		l.logger.Warn("shared rate limiter unavailable; requests refused (on_store_error closed)", zap.Error(err))
	} else {
		l.logger.Warn("shared rate limiter unavailable; requests allowed uncounted (on_store_error open)", zap.Error(err))
	}
}
