// sessions.go is the session registry: the WorkOS sessions this gateway brokered. A bearer
// token is accepted only if its `sid` is here and not revoked, which binds WorkOS tokens to
// this gateway and makes a revocation effective at once (WorkOS access tokens cannot be
// revoked upstream).

package caddymodule

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// maxSessionCache bounds the in-memory cache of registry answers.
const maxSessionCache = 100_000

type sessionRegistry struct {
	store store.Store
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]sessionCacheEntry
}

type sessionCacheEntry struct {
	rec   *sessionRecord // nil: not a live session
	until time.Time
}

func newSessionRegistry(s store.Store, ttl time.Duration) *sessionRegistry {
	return &sessionRegistry{store: s, ttl: ttl, now: time.Now, cache: make(map[string]sessionCacheEntry)}
}

// live returns the session if sid is a live brokered session, or nil. Answers are cached for
// a short time; a revocation through this process evicts at once (other instances sharing a
// Redis store see it within the cache TTL).
func (r *sessionRegistry) live(ctx context.Context, sid string) (*sessionRecord, error) {
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[sid]
	r.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.rec, nil
	}
	var rec sessionRecord
	_, err := getJSON(ctx, r.store, store.Key(store.KindSession, sid), &rec)
	var live *sessionRecord
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	case !rec.Revoked:
		live = &rec
	}
	r.mu.Lock()
	if len(r.cache) >= maxSessionCache {
		for k, v := range r.cache {
			if now.After(v.until) {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= maxSessionCache { // all fresh: start over (only costs store reads)
			r.cache = make(map[string]sessionCacheEntry)
		}
	}
	r.cache[sid] = sessionCacheEntry{rec: live, until: now.Add(r.ttl)}
	r.mu.Unlock()
	return live, nil
}

// record stores a newly brokered session.
func (r *sessionRegistry) record(ctx context.Context, rec *sessionRecord, ttl time.Duration) error {
	if err := putJSON(ctx, r.store, store.Key(store.KindSession, rec.ID), rec, ttl); err != nil {
		return err
	}
	r.evict(rec.ID)
	return nil
}

// revoke marks the session revoked (idempotent) and reports whether this call revoked it.
func (r *sessionRegistry) revoke(ctx context.Context, sid, reason string, ttl time.Duration) (bool, error) {
	defer r.evict(sid)
	key := store.Key(store.KindSession, sid)
	for i := 0; i < 10; i++ {
		var rec sessionRecord
		old, err := getJSON(ctx, r.store, key, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if rec.Revoked {
			return false, nil
		}
		rec.Revoked, rec.RevokedAt, rec.RevokedReason = true, r.now().Unix(), reason
		ok, err := casJSON(ctx, r.store, key, old, &rec, ttl)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, errors.New("session record kept changing; revocation not confirmed")
}

func (r *sessionRegistry) evict(sid string) {
	r.mu.Lock()
	delete(r.cache, sid)
	r.mu.Unlock()
}
