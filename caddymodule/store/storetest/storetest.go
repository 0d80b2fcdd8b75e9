// Package storetest holds the conformance suite every store.Store backend
// must pass, and Faulty, a decorator that injects write failures (such as a
// full disk) for the gateway's fault tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// Run runs the conformance suite against fresh stores made by open. open is
// called once per subtest and must return an empty store; it should close
// the store in t.Cleanup. The suite sleeps about 2.5 s in total (Badger's
// TTL resolution is one second).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"NotFound", testNotFound},
		{"PutGet", testPutGet},
		{"BinaryValues", testBinaryValues},
		{"KeysWithSlashes", testKeysWithSlashes},
		{"KindsDoNotCollide", testKindsDoNotCollide},
		{"InvalidKeys", testInvalidKeys},
		{"PutIfAbsent", testPutIfAbsent},
		{"Take", testTake},
		{"CompareAndSwap", testCompareAndSwap},
		{"Delete", testDelete},
		{"Count", testCount},
		{"ReturnedSlicesAreCopies", testCopies},
		{"CanceledContext", testCanceledContext},
		{"TakeSingleWinner", testTakeSingleWinner},
		{"PutIfAbsentSingleWinner", testPutIfAbsentSingleWinner},
		{"CompareAndSwapSingleWinner", testCASSingleWinner},
		{"TTL", testTTL},
		{"CloseIsIdempotent", testCloseIdempotent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func mustPut(t *testing.T, s store.Store, key string, v []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Put(ctx, key, v, ttl); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func wantValue(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", key, err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

func wantCount(t *testing.T, s store.Store, k store.Kind, want int) {
	t.Helper()
	n, err := s.Count(ctx, k)
	if err != nil {
		t.Fatalf("Count(%q): %v", k, err)
	}
	if n != want {
		t.Fatalf("Count(%q) = %d, want %d", k, n, want)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	key := store.Key(store.KindCode, "absent")
	wantNotFound(t, s, key)
	if v, err := s.Take(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take(absent) = %q, %v; want ErrNotFound", v, err)
	}
	if ok, err := s.CompareAndSwap(ctx, key, []byte("a"), []byte("b"), 0); ok || err != nil {
		t.Fatalf("CompareAndSwap(absent) = %v, %v; want false, nil", ok, err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(absent) = %v, want nil", err)
	}
	wantNotFound(t, s, key)
}

func testPutGet(t *testing.T, s store.Store) {
	key := store.Key(store.KindClient, "c1")
	mustPut(t, s, key, []byte("v1"), 0)
	wantValue(t, s, key, []byte("v1"))
	mustPut(t, s, key, []byte("v2"), time.Hour)
	wantValue(t, s, key, []byte("v2"))
}

func testBinaryValues(t *testing.T, s store.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	values := map[string][]byte{
		"empty":   {},
		"nul":     {0},
		"all":     all,
		"crlf":    []byte("a\r\nb\r\n"),
		"utf8bad": {0xff, 0xfe, 0xc3},
		"large":   bytes.Repeat([]byte{0xab, 0x00, 0x7f}, 300_000), // ~900 KB
	}
	for name, v := range values {
		key := store.Key(store.KindSession, name)
		mustPut(t, s, key, v, 0)
		wantValue(t, s, key, v)
		if ok, err := s.CompareAndSwap(ctx, key, v, append([]byte{1}, v...), 0); !ok || err != nil {
			t.Fatalf("CompareAndSwap(%s) = %v, %v; want true", name, ok, err)
		}
		got, err := s.Take(ctx, key)
		if err != nil || !bytes.Equal(got, append([]byte{1}, v...)) {
			t.Fatalf("Take(%s) = %d bytes, %v", name, len(got), err)
		}
	}
	// A value that differs only in a trailing NUL or case must not compare equal.
	key := store.Key(store.KindRefresh, "cmp")
	mustPut(t, s, key, []byte("abc"), 0)
	for _, old := range [][]byte{[]byte("abc\x00"), []byte("ABC"), []byte("ab"), {}, nil} {
		if ok, err := s.CompareAndSwap(ctx, key, old, []byte("x"), 0); ok || err != nil {
			t.Fatalf("CompareAndSwap(old=%q) = %v, %v; want false, nil", old, ok, err)
		}
	}
	wantValue(t, s, key, []byte("abc"))
}

func testKeysWithSlashes(t *testing.T, s store.Store) {
	ids := []string{"a/b", "/", "//", "a/", "/a", "client/x", "session/y", "", "\x00", "ünï/cødé", strings.Repeat("/x", 500)}
	for i, id := range ids {
		mustPut(t, s, store.Key(store.KindPending, id), []byte{byte(i)}, 0)
	}
	for i, id := range ids {
		wantValue(t, s, store.Key(store.KindPending, id), []byte{byte(i)})
	}
	wantCount(t, s, store.KindPending, len(ids))
	wantCount(t, s, store.KindClient, 0)
	wantCount(t, s, store.KindSession, 0)
}

func testKindsDoNotCollide(t *testing.T, s store.Store) {
	kinds := []store.Kind{store.KindClient, store.KindPending, store.KindCode, store.KindSession, store.KindRefresh, store.KindSecret, store.KindConsent}
	for _, k := range kinds {
		mustPut(t, s, store.Key(k, "same-id"), []byte(k), 0)
	}
	for _, k := range kinds {
		wantValue(t, s, store.Key(k, "same-id"), []byte(k))
		wantCount(t, s, k, 1)
	}
	if _, err := s.Take(ctx, store.Key(store.KindCode, "same-id")); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, store.Key(store.KindCode, "same-id"))
	wantValue(t, s, store.Key(store.KindSession, "same-id"), []byte(store.KindSession))
}

func testInvalidKeys(t *testing.T, s store.Store) {
	bad := []string{"", "noslash", "bogus/x", "Client/x", "clients/x", "/x", store.Key(store.KindClient, strings.Repeat("x", 70000))}
	for _, key := range bad {
		show := key
		if len(show) > 20 {
			show = show[:20] + "..."
		}
		if err := s.Put(ctx, key, []byte("v"), 0); err == nil {
			t.Errorf("Put(%q) succeeded, want an error", show)
		}
		if _, err := s.Get(ctx, key); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want a key error", show, err)
		}
		if _, err := s.Take(ctx, key); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("Take(%q) = %v, want a key error", show, err)
		}
		if _, err := s.PutIfAbsent(ctx, key, []byte("v"), 0); err == nil {
			t.Errorf("PutIfAbsent(%q) succeeded, want an error", show)
		}
		if _, err := s.CompareAndSwap(ctx, key, nil, []byte("v"), 0); err == nil {
			t.Errorf("CompareAndSwap(%q) succeeded, want an error", show)
		}
		if err := s.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) succeeded, want an error", show)
		}
	}
	if _, err := s.Count(ctx, store.Kind("bogus")); err == nil {
		t.Error("Count(bogus kind) succeeded, want an error")
	}
}

func testPutIfAbsent(t *testing.T, s store.Store) {
	key := store.Key(store.KindPending, "p")
	ok, err := s.PutIfAbsent(ctx, key, []byte("first"), time.Hour)
	if !ok || err != nil {
		t.Fatalf("PutIfAbsent(absent) = %v, %v; want true", ok, err)
	}
	ok, err = s.PutIfAbsent(ctx, key, []byte("second"), time.Hour)
	if ok || err != nil {
		t.Fatalf("PutIfAbsent(present) = %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, key, []byte("first"))
	if _, err := s.Take(ctx, key); err != nil {
		t.Fatal(err)
	}
	ok, err = s.PutIfAbsent(ctx, key, []byte("third"), 0)
	if !ok || err != nil {
		t.Fatalf("PutIfAbsent(after Take) = %v, %v; want true", ok, err)
	}
	wantValue(t, s, key, []byte("third"))
}

func testTake(t *testing.T, s store.Store) {
	key := store.Key(store.KindCode, store.HashID("code-1"))
	mustPut(t, s, key, []byte("grant"), time.Minute)
	v, err := s.Take(ctx, key)
	if err != nil || string(v) != "grant" {
		t.Fatalf("Take = %q, %v; want grant", v, err)
	}
	if v, err := s.Take(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Take = %q, %v; want ErrNotFound", v, err)
	}
	wantNotFound(t, s, key)
	wantCount(t, s, store.KindCode, 0)
}

func testCompareAndSwap(t *testing.T, s store.Store) {
	key := store.Key(store.KindRefresh, "r")
	mustPut(t, s, key, []byte("v1"), 0)
	if ok, err := s.CompareAndSwap(ctx, key, []byte("v1"), []byte("v2"), 0); !ok || err != nil {
		t.Fatalf("CAS(v1->v2) = %v, %v; want true", ok, err)
	}
	wantValue(t, s, key, []byte("v2"))
	if ok, err := s.CompareAndSwap(ctx, key, []byte("v1"), []byte("v3"), 0); ok || err != nil {
		t.Fatalf("CAS(stale v1->v3) = %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, key, []byte("v2"))
	if ok, err := s.CompareAndSwap(ctx, key, []byte("v2"), []byte("v2"), time.Hour); !ok || err != nil {
		t.Fatalf("CAS(v2->v2) = %v, %v; want true", ok, err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CompareAndSwap(ctx, key, []byte("v2"), []byte("v4"), 0); ok || err != nil {
		t.Fatalf("CAS(deleted) = %v, %v; want false, nil", ok, err)
	}
	wantNotFound(t, s, key)
}

func testDelete(t *testing.T, s store.Store) {
	key := store.Key(store.KindConsent, "c")
	mustPut(t, s, key, []byte("yes"), 0)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, key)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
}

func testCount(t *testing.T, s store.Store) {
	wantCount(t, s, store.KindClient, 0)
	for i := range 25 {
		mustPut(t, s, store.Key(store.KindClient, fmt.Sprint(i)), []byte("c"), 0)
	}
	for i := range 7 {
		mustPut(t, s, store.Key(store.KindSession, fmt.Sprint(i)), []byte("s"), time.Hour)
	}
	mustPut(t, s, store.Key(store.KindClient, "0"), []byte("overwrite"), 0) // not a new record
	wantCount(t, s, store.KindClient, 25)
	wantCount(t, s, store.KindSession, 7)
	wantCount(t, s, store.KindCode, 0)
	if err := s.Delete(ctx, store.Key(store.KindClient, "3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, store.Key(store.KindClient, "4")); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, store.KindClient, 23)
}

func testCopies(t *testing.T, s store.Store) {
	key := store.Key(store.KindClient, "copy")
	in := []byte("original")
	mustPut(t, s, key, in, 0)
	in[0] = 'X' // the store must not alias the caller's slice
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "original" {
		t.Fatalf("stored value changed with the caller's slice: %q", got)
	}
	got[0] = 'Y'
	wantValue(t, s, key, []byte("original"))
}

func testCanceledContext(t *testing.T, s store.Store) {
	key := store.Key(store.KindClient, "ctx")
	mustPut(t, s, key, []byte("v"), 0)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(c, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(canceled) = %v, want context.Canceled", err)
	}
	if err := s.Put(c, key, []byte("w"), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Put(canceled) = %v, want context.Canceled", err)
	}
	if _, err := s.Take(c, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Take(canceled) = %v, want context.Canceled", err)
	}
	if _, err := s.CompareAndSwap(c, key, []byte("v"), []byte("w"), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndSwap(canceled) = %v, want context.Canceled", err)
	}
	wantValue(t, s, key, []byte("v")) // nothing happened
}

// race starts n goroutines blocked on a closed-channel barrier, releases
// them at once, and waits.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

const (
	racers = 50
	rounds = 50
)

func testTakeSingleWinner(t *testing.T, s store.Store) {
	for round := range rounds {
		key := store.Key(store.KindCode, store.HashID(fmt.Sprint("code-", round)))
		mustPut(t, s, key, []byte("grant"), time.Minute)
		var wins, notFound, other atomic.Int32
		var firstErr atomic.Value
		race(racers, func(int) {
			v, err := s.Take(ctx, key)
			switch {
			case err == nil && string(v) == "grant":
				wins.Add(1)
			case errors.Is(err, store.ErrNotFound):
				notFound.Add(1)
			default:
				other.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%q, %v", v, err))
			}
		})
		if wins.Load() != 1 || notFound.Load() != racers-1 || other.Load() != 0 {
			t.Fatalf("round %d: %d winners, %d ErrNotFound, %d other (first: %v); want 1, %d, 0",
				round, wins.Load(), notFound.Load(), other.Load(), firstErr.Load(), racers-1)
		}
	}
}

func testPutIfAbsentSingleWinner(t *testing.T, s store.Store) {
	for round := range rounds {
		key := store.Key(store.KindPending, fmt.Sprint("state-", round))
		var wins, losses, other atomic.Int32
		race(racers, func(i int) {
			ok, err := s.PutIfAbsent(ctx, key, []byte(fmt.Sprint(i)), time.Minute)
			switch {
			case err != nil:
				other.Add(1)
			case ok:
				wins.Add(1)
			default:
				losses.Add(1)
			}
		})
		if wins.Load() != 1 || losses.Load() != racers-1 || other.Load() != 0 {
			t.Fatalf("round %d: %d stored, %d refused, %d errors; want 1, %d, 0", round, wins.Load(), losses.Load(), other.Load(), racers-1)
		}
	}
}

func testCASSingleWinner(t *testing.T, s store.Store) {
	for round := range rounds {
		key := store.Key(store.KindRefresh, fmt.Sprint("family-", round))
		mustPut(t, s, key, []byte("gen-0"), time.Minute)
		var wins, losses, other atomic.Int32
		var winner atomic.Int32
		var firstErr atomic.Value
		race(racers, func(i int) {
			ok, err := s.CompareAndSwap(ctx, key, []byte("gen-0"), []byte(fmt.Sprint("gen-1-", i)), time.Minute)
			switch {
			case err != nil:
				other.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			case ok:
				wins.Add(1)
				winner.Store(int32(i))
			default:
				losses.Add(1)
			}
		})
		if wins.Load() != 1 || losses.Load() != racers-1 || other.Load() != 0 {
			t.Fatalf("round %d: %d swapped, %d refused, %d errors (first: %v); want 1, %d, 0",
				round, wins.Load(), losses.Load(), other.Load(), firstErr.Load(), racers-1)
		}
		wantValue(t, s, key, []byte(fmt.Sprint("gen-1-", winner.Load())))
	}
}

// testTTL checks expiry with one shared sleep. Badger keeps expiry in whole
// seconds (rounded up), so a 1 s TTL lives between 1 and 2 s.
func testTTL(t *testing.T, s store.Store) {
	const ttl = time.Second
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
	mustPut(t, s, store.Key(store.KindSession, "live"), []byte("v"), time.Hour)
	mustPut(t, s, store.Key(store.KindSession, "dying"), []byte("v"), ttl)
	wantValue(t, s, k("get"), []byte("v"))
	wantCount(t, s, store.KindSession, 2)
	wantCount(t, s, store.KindCode, 10)

	time.Sleep(2*ttl + 200*time.Millisecond)

	wantNotFound(t, s, k("get"))
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
}

func testCloseIdempotent(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Get(ctx, store.Key(store.KindClient, "x")); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Close = %v, want a closed-store error", err)
	}
}
