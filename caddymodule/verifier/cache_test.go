package verifier

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCacheHonoursExp(t *testing.T) {
	cached := newEnv(t, nil).ready(t)
	uncached := newEnv(t, func(c *Config) { c.CacheSize = -1 }).ready(t)
	tok := cached.valid(t) // exp = t0+300s, skew 30s
	c, err := cached.v.Verify(bg, tok)
	wantValid(t, c, err)

	steps := []struct {
		at     time.Duration
		reason string
	}{
		{299 * time.Second, ""},
		{320 * time.Second, ""},              // past exp, within skew
		{330 * time.Second, ""},              // exactly exp+skew
		{331 * time.Second, "token expired"}, // beyond skew
	}
	for _, st := range steps {
		t.Run(fmt.Sprintf("cache/exp/at+%v", st.at), func(t *testing.T) {
			now := t0.Add(st.at)
			cached.clock.ns.Store(now.UnixNano())
			uncached.clock.ns.Store(now.UnixNano())
			cc, cerr := cached.v.Verify(bg, tok)
			uc, uerr := uncached.v.Verify(bg, tok)
			if st.reason == "" {
				wantValid(t, cc, cerr)
				wantValid(t, uc, uerr)
			} else {
				wantInvalid(t, cc, cerr, st.reason)
				wantInvalid(t, uc, uerr, st.reason)
			}
		})
	}
	if s := cached.v.Stats(); s.CacheHits < 3 {
		t.Fatalf("stats = %+v; the valid steps should have been cache hits", s)
	}
	if n := cached.v.cache.len(); n != 0 {
		t.Fatalf("expired entry still cached (%d entries)", n)
	}
	if s := uncached.v.Stats(); s.CacheHits != 0 || uncached.v.cache != nil {
		t.Fatalf("CacheSize<0 did not disable the cache: %+v", s)
	}
}

func TestCacheNbfAndClockBackwards(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	tok := sign(t, e.k1, kid1, with(claimsAt(t0), "nbf", t0.Unix()))
	c, err := e.v.Verify(bg, tok)
	wantValid(t, c, err)
	e.clock.Advance(-time.Hour) // before nbf: cached or not, refused
	c, err = e.v.Verify(bg, tok)
	wantInvalid(t, c, err, "token not yet valid")
}

func TestCacheNeverStoresFailures(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	bad := []string{
		sign(t, e.k2, kid1, claimsAt(t0)),
		sign(t, e.k1, kid1, with(claimsAt(t0), "iss", "https://evil")),
		sign(t, e.k1, kid1, with(claimsAt(t0), "exp", t0.Add(-time.Hour).Unix())),
		sign(t, e.k1, kid1, with(claimsAt(t0), "sid", nil)),
		randomKIDToken("unknown"),
		"junk.junk.junk",
	}
	for range 50 {
		for _, tok := range bad {
			if _, err := e.v.Verify(bg, tok); err == nil {
				t.Fatal("bad token accepted")
			}
		}
	}
	if n := e.v.cache.len(); n != 0 {
		t.Fatalf("cache holds %d entries after only failures", n)
	}
	if s := e.v.Stats(); s.CacheHits != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestCacheBounded(t *testing.T) {
	t.Run("cache/bounded-small", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.CacheSize = 5 }).ready(t)
		for i := range 20 {
			c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "jti", fmt.Sprint(i))))
			wantValid(t, c, err)
			if n := e.v.cache.len(); n > 5 {
				t.Fatalf("cache holds %d entries; bound is 5", n)
			}
		}
	})
	t.Run("cache/bounded-sharded", func(t *testing.T) {
		c := newTokenCache(2000)
		if len(c.shards) < 2 {
			t.Fatal("large cache is not sharded")
		}
		tc := &tokenClaims{claims: Claims{Expiry: t0.Add(time.Hour)}}
		for i := range 10000 {
			c.put(fmt.Sprintf("tok-%d", i), kid1, tc, t0, 0)
		}
		if n := c.len(); n > 2000 || n < 1000 {
			t.Fatalf("cache holds %d entries; bound is 2000", n)
		}
	})
	t.Run("cache/evicts-expired-first", func(t *testing.T) {
		c := newTokenCache(4)
		live := &tokenClaims{claims: Claims{Expiry: t0.Add(time.Hour)}}
		dead := &tokenClaims{claims: Claims{Expiry: t0.Add(-time.Hour)}}
		c.put("live1", kid1, live, t0, 0)
		c.put("dead1", kid1, dead, t0, 0)
		c.put("live2", kid1, live, t0, 0)
		c.put("dead2", kid1, dead, t0, 0)
		c.put("live3", kid1, live, t0, 0) // full: the dead ones go
		for _, k := range []string{"live1", "live2", "live3"} {
			if c.get(k, t0, 0) == nil {
				t.Fatalf("%s evicted while expired entries were present", k)
			}
		}
		if c.len() != 3 {
			t.Fatalf("len = %d", c.len())
		}
	})
	t.Run("cache/size-one", func(t *testing.T) {
		c := newTokenCache(1)
		tc := &tokenClaims{claims: Claims{Expiry: t0.Add(time.Hour)}}
		c.put("a", kid1, tc, t0, 0)
		c.put("b", kid1, tc, t0, 0)
		if c.len() != 1 || c.get("b", t0, 0) == nil {
			t.Fatalf("len = %d", c.len())
		}
	})
}

func TestCacheConcurrent(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheSize = 3 }).ready(t)
	toks := make([]string, 6)
	for i := range toks {
		toks[i] = sign(t, e.k1, kid1, with(claimsAt(t0), "jti", fmt.Sprint(i)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c, err := e.v.Verify(bg, toks[(g+i)%len(toks)])
				if err != nil || c.Subject == "" {
					t.Errorf("verify: %v", err)
					return
				}
				if i%50 == 0 {
					_ = e.v.Refresh(bg)
				}
			}
		}()
	}
	wg.Wait()
	if n := e.v.cache.len(); n > 3 {
		t.Fatalf("cache holds %d entries; bound is 3", n)
	}
	if s := e.v.Stats(); s.CacheHits == 0 || s.CacheMisses == 0 {
		t.Fatalf("stats = %+v", s)
	}
}
