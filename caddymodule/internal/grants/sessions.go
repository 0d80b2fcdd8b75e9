package grants

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// maxSessionCache bounds the in-memory cache of registry answers.
const maxSessionCache = 100_000

// Sessions is the session registry: the WorkOS sessions this gateway brokered. A bearer token
// is accepted only if its `sid` is here and not revoked, which binds WorkOS tokens to this
// gateway and makes a revocation effective at once (WorkOS access tokens cannot be revoked
// upstream).
//
// Answers are cached in memory for a short time. When the store is shared by several
// instances and can broadcast (Redis), a revocation is announced to every instance, which
// drops its cached answer at once (Watch); while that broadcast is down, another instance may
// answer from its cache for at most the cache TTL.
type Sessions struct {
	store store.Store
	bc    store.Broadcaster // nil when the store cannot broadcast (one instance)
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]sessionCacheEntry
	// evictions counts Evict calls and cached writes, so an answer read from the store while
	// a revocation evicted, or while Record wrote, is not cached over the newer state.
	evictions uint64
}

type sessionCacheEntry struct {
	rec   *Session // nil: not a live session
	until time.Time
}

func newSessions(s store.Store, ttl time.Duration) *Sessions {
	bc, _ := s.(store.Broadcaster)
	return &Sessions{store: s, bc: bc, ttl: ttl, now: time.Now, cache: make(map[string]sessionCacheEntry)}
}

// revocationTopic is the broadcast topic of revoked session ids.
const revocationTopic = "revoked-sessions"

// publishTimeout bounds the announcement of one revocation.
const publishTimeout = 2 * time.Second

// Broadcasts reports whether revocations reach other instances at once (the store is shared
// and can broadcast), so Watch is worth running.
func (r *Sessions) Broadcasts() bool { return r.bc != nil }

// Watch drops cached answers for sessions that other instances revoke, until ctx ends. When
// the broadcast is (re)established it drops the whole cache, since announcements made while it
// was down are lost; onState (if not nil) hears each change. Without a broadcasting store it
// returns at once.
func (r *Sessions) Watch(ctx context.Context, onState func(up bool)) {
	if r.bc == nil {
		return
	}
	r.bc.Subscribe(ctx, revocationTopic, r.Evict, func(up bool) {
		if up {
			r.mu.Lock()
			r.cache = make(map[string]sessionCacheEntry)
			r.evictions++
			r.mu.Unlock()
		}
		if onState != nil {
			onState(up)
		}
	})
}

func sessionKey(sid string) string { return store.Key(store.KindSession, sid) }

// Live returns the session if sid is a live brokered session, or nil. Answers are cached for
// a short time; a revocation through this process evicts at once (other instances sharing a
// Redis store see it within the cache TTL).
func (r *Sessions) Live(ctx context.Context, sid string) (*Session, error) {
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[sid]
	r.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.rec, nil
	}
	r.mu.Lock()
	evictionsBefore := r.evictions
	r.mu.Unlock()
	rec, err := get[Session](ctx, r.store, sessionKey(sid))
	var live *Session
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	case !rec.Revoked:
		live = rec
	}
	r.remember(sid, live, now, evictionsBefore, false)
	return live, nil
}

// remember caches the answer for sid, unless an eviction happened since evictionsBefore was
// read (a revocation evicted meanwhile, and the answer may predate it); it reports whether it
// cached. written says the answer is a record this process just wrote: it supersedes any
// read still in flight, so the counter moves on and such a read does not cache its older
// answer (say, "no such session") over it.
func (r *Sessions) remember(sid string, live *Session, now time.Time, evictionsBefore uint64, written bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evictions != evictionsBefore {
		return false
	}
	if written {
		r.evictions++
	}
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
	return true
}

// Record stores a newly brokered session and caches it as live: the first protected request
// of a sign-in comes right after, and would otherwise read back the record just written. A
// revocation that evicts while Record writes wins, as it does over Live's reads.
func (r *Sessions) Record(ctx context.Context, rec *Session, ttl time.Duration) error {
	r.mu.Lock()
	evictionsBefore := r.evictions
	r.mu.Unlock()
	if err := put(ctx, r.store, sessionKey(rec.ID), rec, ttl); err != nil {
		r.Evict(rec.ID)
		return err
	}
	if rec.Revoked {
		r.Evict(rec.ID)
		return nil
	}
	cp := *rec // the caller keeps rec; the cache holds its own copy
	if !r.remember(rec.ID, &cp, r.now(), evictionsBefore, true) {
		r.Evict(rec.ID) // an older answer may be cached: drop it, as before
	}
	return nil
}

// Revoke marks the session revoked (idempotent) and reports whether this call revoked it.
func (r *Sessions) Revoke(ctx context.Context, sid, reason string, ttl time.Duration) (bool, error) {
	defer r.Evict(sid)
	revoked := false
	err := Mutate(ctx, r.store, sessionKey(sid), ttl, func(rec *Session, found bool) (Decision, error) {
		revoked = false // a lost race runs fn again: decide on the record as it is now
		if !found || rec.Revoked {
			return Keep, nil
		}
		rec.Revoked, rec.RevokedAt, rec.RevokedReason = true, r.now().Unix(), reason
		revoked = true
		return Write, nil
	})
	if err != nil {
		return false, err
	}
	if revoked && r.bc != nil {
		// Best effort: the revocation is stored either way, and an instance that misses the
		// announcement refuses the session once its cached answer expires.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		_ = r.bc.Publish(pctx, revocationTopic, sid)
		cancel()
	}
	return revoked, nil
}

// Evict forgets the cached answer for sid, so the next Live reads the store.
func (r *Sessions) Evict(sid string) {
	r.mu.Lock()
	delete(r.cache, sid)
	r.evictions++
	r.mu.Unlock()
}
