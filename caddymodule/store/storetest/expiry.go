// expiry.go holds the conformance case for TTLs: which records expire, and
// how every operation, Count and Scan treat an expired record.

package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// testTTL checks expiry with one shared sleep. Badger keeps expiry in whole
// seconds (rounded up), so a 2 s TTL lives between 2 and 3 s. Two seconds, not
// one: every check before the sleep must run while the first record written
// still lives, and on a Cluster under a loaded machine those ~25 operations can
// take a good part of a second.
func testTTL(t *testing.T, s store.Store) {
	const ttl = 2 * time.Second
	k := func(id string) string { return store.Key(store.KindCode, "ttl-"+id) }

	mustPut(t, s, k("get"), []byte("v"), ttl)
	mustPut(t, s, k("take"), []byte("v"), ttl)
	mustPut(t, s, k("cas"), []byte("v"), ttl)
	mustPut(t, s, k("pia"), []byte("old"), ttl)
	mustPut(t, s, k("forever"), []byte("v"), 0)
	mustPut(t, s, k("negative"), []byte("v"), -time.Second)
	mustPut(t, s, k("cleared"), []byte("v"), ttl)
	mustPut(t, s, k("cleared"), []byte("v2"), 0) // a Put without ttl clears the expiry
	mustPut(t, s, k("cas-persist"), []byte("v"), ttl)
	if ok, err := s.CompareAndSwap(ctx, k("cas-persist"), []byte("v"), []byte("w"), 0); !ok || err != nil {
		t.Fatalf("CAS = %v, %v", ok, err)
	}
	mustPut(t, s, k("cas-expire"), []byte("v"), 0)
	if ok, err := s.CompareAndSwap(ctx, k("cas-expire"), []byte("v"), []byte("w"), ttl); !ok || err != nil {
		t.Fatalf("CAS = %v, %v", ok, err)
	}
	if ok, err := s.PutIfAbsent(ctx, k("pia-ttl"), []byte("v"), ttl); !ok || err != nil {
		t.Fatalf("PutIfAbsent = %v, %v", ok, err)
	}
	// Incr sets the ttl when it creates the record, and later increments
	// (even with a longer ttl) never extend it; with no ttl it never expires.
	incrOnce := store.Key(store.KindRateLimit, "ttl-once")
	mustIncr(t, s, incrOnce, ttl, 1)
	for i := int64(2); i <= 4; i++ {
		mustIncr(t, s, incrOnce, time.Hour, i)
	}
	incrForever := store.Key(store.KindRateLimit, "ttl-forever")
	mustIncr(t, s, incrForever, 0, 1)
	mustIncr(t, s, incrForever, time.Hour, 2) // no expiry added to a live record either
	mustPut(t, s, store.Key(store.KindSession, "live"), []byte("v"), time.Hour)
	mustPut(t, s, store.Key(store.KindSession, "dying"), []byte("v"), ttl)
	wantValue(t, s, k("get"), []byte("v"))
	wantCount(t, s, store.KindSession, 2)
	wantCount(t, s, store.KindCode, 10)
	wantScan(t, s, store.KindSession, map[string][]byte{"live": []byte("v"), "dying": []byte("v")})

	time.Sleep(ttl + time.Second + 200*time.Millisecond)

	wantNotFound(t, s, k("get"))
	wantNotFound(t, s, incrOnce)
	mustIncr(t, s, incrOnce, ttl, 1) // an expired counter starts again
	wantValue(t, s, incrForever, []byte("2"))
	if _, err := s.Take(ctx, k("take")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take(expired) = %v, want ErrNotFound", err)
	}
	if ok, err := s.CompareAndSwap(ctx, k("cas"), []byte("v"), []byte("w"), 0); ok || err != nil {
		t.Fatalf("CAS(expired) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.PutIfAbsent(ctx, k("pia"), []byte("new"), 0); !ok || err != nil {
		t.Fatalf("PutIfAbsent(expired) = %v, %v; want true", ok, err)
	}
	wantValue(t, s, k("pia"), []byte("new"))
	wantValue(t, s, k("forever"), []byte("v"))
	wantValue(t, s, k("negative"), []byte("v"))
	wantValue(t, s, k("cleared"), []byte("v2"))
	wantValue(t, s, k("cas-persist"), []byte("w"))
	wantNotFound(t, s, k("cas-expire"))
	wantNotFound(t, s, k("pia-ttl"))
	wantCount(t, s, store.KindSession, 1)
	wantCount(t, s, store.KindCode, 5) // pia, forever, negative, cleared, cas-persist
	wantScan(t, s, store.KindSession, map[string][]byte{"live": []byte("v")})
	wantScan(t, s, store.KindCode, map[string][]byte{
		"ttl-pia": []byte("new"), "ttl-forever": []byte("v"), "ttl-negative": []byte("v"),
		"ttl-cleared": []byte("v2"), "ttl-cas-persist": []byte("w"),
	})
}
