package verifier

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache maps exact token strings to the claims of a successful
// verification. Only successes are stored, so unauthenticated callers
// cannot fill it. An entry is served only while the token's time checks
// still pass (the same checkTime the uncached path uses), so a cached token
// is refused exactly when an uncached one would be. The cache holds at most
// its configured size: when a shard is full, expired entries are swept
// first, then arbitrary entries (Go map order) are dropped in a batch of an
// eighth of the shard, which keeps insertion O(1) amortised.
//
// The cache knows nothing about revocation; see the package doc.
type tokenCache struct {
	seed     maphash.Seed
	shards   []cacheShard
	perShard int
}

type cacheEntry struct {
	tc  *tokenClaims
	kid string
}

type cacheShard struct {
	mu     sync.RWMutex
	m      map[string]cacheEntry
	hits   atomic.Int64
	misses atomic.Int64
	_      [64]byte // keep shards on separate cache lines
}

// shardThreshold is the cache size from which the map is split in 16
// shards, to spread lock contention.
const shardThreshold = 1024

func newTokenCache(size int) *tokenCache {
	n := 1
	if size >= shardThreshold {
		n = 16
	}
	c := &tokenCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n), perShard: size / n}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(token string) *cacheShard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, token)%uint64(len(c.shards))]
}

// get returns the cached claims for token when they are still valid at now.
// An entry that fails the time checks is removed and reported as a miss, so
// that the caller's full verification produces the refusal.
func (c *tokenCache) get(token string, now time.Time, skew time.Duration) *Claims {
	s := c.shard(token)
	s.mu.RLock()
	e, ok := s.m[token]
	s.mu.RUnlock()
	if !ok {
		s.misses.Add(1)
		return nil
	}
	if e.tc.checkTime(now, skew) != nil {
		s.mu.Lock()
		if cur, ok := s.m[token]; ok && cur.tc == e.tc {
			delete(s.m, token)
		}
		s.mu.Unlock()
		s.misses.Add(1)
		return nil
	}
	s.hits.Add(1)
	return &e.tc.claims
}

// put stores a successful verification.
func (c *tokenCache) put(token, kid string, tc *tokenClaims, now time.Time, skew time.Duration) {
	if c.perShard <= 0 {
		return
	}
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[token]; !ok && len(s.m) >= c.perShard {
		s.evict(c.perShard, now, skew)
	}
	// Clone, so that the cache never pins a larger buffer the token was
	// sliced from.
	s.m[strings.Clone(token)] = cacheEntry{tc: tc, kid: kid}
}

// evict makes room: it drops expired entries, then arbitrary ones until
// the shard is at most 7/8 full. Called with s.mu held.
func (s *cacheShard) evict(limit int, now time.Time, skew time.Duration) {
	for k, e := range s.m {
		if now.After(e.tc.claims.Expiry.Add(skew)) {
			delete(s.m, k)
		}
	}
	target := limit - max(1, limit/8)
	for k := range s.m {
		if len(s.m) <= target {
			break
		}
		delete(s.m, k)
	}
}

// dropKIDs removes the entries verified with a key that left the JWKS.
func (c *tokenCache) dropKIDs(kids []string) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if slices.Contains(kids, e.kid) {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// len returns the number of entries.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func (c *tokenCache) stats() (hits, misses int64) {
	for i := range c.shards {
		hits += c.shards[i].hits.Load()
		misses += c.shards[i].misses.Load()
	}
	return hits, misses
}
