// atomic.go holds the conformance cases for the atomic operations
// (PutIfAbsent, Take, CompareAndSwap): their semantics one call at a time,
// then races in which exactly one of many concurrent callers must win.

package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

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
