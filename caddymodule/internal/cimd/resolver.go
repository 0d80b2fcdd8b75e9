package cimd

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
)

// Cache bounds. A document is kept for as long as its HTTP caching headers say, within
// [MinTTL, MaxTTL]; with no caching header, DefaultTTL. The floor applies even to no-store
// and max-age=0: it bounds how often any client can make the gateway fetch one URL.
const (
	MinTTL      = time.Minute
	MaxTTL      = 24 * time.Hour
	DefaultTTL  = 10 * time.Minute
	NegativeTTL = 30 * time.Second
	MaxEntries  = 1000
)

// entry is a cached answer: a document or the failure to get one.
type entry struct {
	doc     *Document
	err     *Error
	expires time.Time
}

// Resolver turns client_id URLs into validated documents, with a bounded cache and one fetch
// at a time per URL. It is safe for concurrent use.
type Resolver struct {
	fetcher *fetcher
	cache   *lru.Cache[string, entry]
	flight  singleflight.Group
	now     func() time.Time
}

// New builds a Resolver; it opens nothing.
func New(opts Options) *Resolver {
	if opts.maxEntries <= 0 {
		opts.maxEntries = MaxEntries
	}
	c, _ := lru.New[string, entry](opts.maxEntries) // only a size <= 0 fails
	return &Resolver{fetcher: newFetcher(opts), cache: c, now: time.Now}
}

// Resolve returns the document of the client_id URL id, from the cache or fetched now. The
// fetch is not bound to ctx: it is shared by every caller waiting for the same URL, and the
// fetcher's own timeout bounds it.
func (r *Resolver) Resolve(ctx context.Context, id string) (*Document, *Error) {
	if err := CheckURL(id); err != nil {
		metrics.ClientDocumentFetches.WithLabelValues(KindInvalidURL).Inc()
		return nil, fail(KindInvalidURL, "%v", err)
	}
	if e, ok := r.cache.Get(id); ok && r.now().Before(e.expires) {
		return e.doc, e.err
	}
	ch := r.flight.DoChan(id, func() (any, error) {
		// A caller that missed the cache just before another's fetch finished and left
		// the flight would otherwise fetch the document again.
		if e, ok := r.cache.Get(id); ok && r.now().Before(e.expires) {
			return e, nil
		}
		doc, header, e := r.fetcher.fetch(context.Background(), id)
		outcome := "ok"
		ttl := NegativeTTL
		if e != nil {
			outcome = e.Kind
		} else {
			ttl = cacheTTL(header, r.now())
		}
		metrics.ClientDocumentFetches.WithLabelValues(outcome).Inc()
		en := entry{doc: doc, err: e, expires: r.now().Add(ttl)}
		r.cache.Add(id, en)
		return en, nil
	})
	select {
	case res := <-ch:
		en := res.Val.(entry)
		return en.doc, en.err
	case <-ctx.Done():
		return nil, fail(KindTimeout, "the request ended before the client metadata document arrived")
	}
}

// cacheTTL is how long to keep a document served with header: Cache-Control no-store,
// no-cache or max-age, else Expires (against Date), else DefaultTTL; always clamped to
// [MinTTL, MaxTTL].
func cacheTTL(header http.Header, now time.Time) time.Duration {
	ttl, found := time.Duration(0), false
	for _, directive := range strings.Split(strings.Join(header.Values("Cache-Control"), ","), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return MinTTL
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && !found {
				ttl, found = time.Duration(min(max(secs, 0), int64(MaxTTL/time.Second)))*time.Second, true
			}
		}
	}
	if !found {
		if exp := header.Get("Expires"); exp != "" {
			base := now
			if d, err := http.ParseTime(header.Get("Date")); err == nil {
				base = d
			}
			found = true
			if t, err := http.ParseTime(exp); err == nil {
				ttl = t.Sub(base)
			} // an invalid Expires means already expired
		}
	}
	if !found {
		return DefaultTTL
	}
	return min(max(ttl, MinTTL), MaxTTL)
}
