// incr.go holds the conformance cases for Incr: counting from an absent
// key, counters written earlier as JSON integers, values that are not
// counters, and many concurrent increments of one key, which must all count
// and none fail. Incr's expiry is checked in testTTL, with the other TTLs.

package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

func mustIncr(t *testing.T, s store.Store, key string, ttl time.Duration, want int64) {
	t.Helper()
	n, err := s.Incr(ctx, key, ttl)
	if err != nil || n != want {
		t.Fatalf("Incr(%q) = %d, %v; want %d", key, n, err, want)
	}
}

func testIncr(t *testing.T, s store.Store) {
	key := store.Key(store.KindRateLimit, "10.0.0.1|token|42")
	for i := int64(1); i <= 3; i++ {
		mustIncr(t, s, key, time.Hour, i)
	}
	wantValue(t, s, key, []byte("3")) // decimal text, readable by Get
	other := store.Key(store.KindRateLimit, "10.0.0.2|token|42")
	mustIncr(t, s, other, 0, 1) // counters are per key
	mustIncr(t, s, key, 0, 4)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	mustIncr(t, s, key, time.Hour, 1) // a deleted counter starts again
	wantCount(t, s, store.KindRateLimit, 2)
}

// testIncrExistingValue: counters written before Incr existed were JSON
// integers put with Put; Incr continues them.
func testIncrExistingValue(t *testing.T, s store.Store) {
	key := store.Key(store.KindRateLimit, "legacy")
	mustPut(t, s, key, []byte("5"), time.Hour)
	mustIncr(t, s, key, time.Hour, 6)
	wantValue(t, s, key, []byte("6"))
	neg := store.Key(store.KindRateLimit, "negative")
	mustPut(t, s, neg, []byte("-2"), 0)
	mustIncr(t, s, neg, 0, -1)
	big := store.Key(store.KindRateLimit, "big")
	mustPut(t, s, big, []byte(strconv.FormatInt(math.MaxInt64-1, 10)), 0)
	mustIncr(t, s, big, 0, math.MaxInt64)
}

// testIncrNotInteger: a value that is not a decimal int64 (or cannot grow)
// is refused with ErrNotInteger and left as it was.
func testIncrNotInteger(t *testing.T, s store.Store) {
	bad := map[string][]byte{
		"text":     []byte("five"),
		"float":    []byte("5.0"),
		"json":     []byte(`{"n":5}`),
		"space":    []byte(" 5"),
		"empty":    {},
		"huge":     []byte("99999999999999999999"),
		"overflow": []byte(strconv.FormatInt(math.MaxInt64, 10)),
	}
	for name, v := range bad {
		key := store.Key(store.KindRateLimit, name)
		mustPut(t, s, key, v, 0)
		if n, err := s.Incr(ctx, key, 0); !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Incr(%s: %q) = %d, %v; want ErrNotInteger", name, v, n, err)
		}
		wantValue(t, s, key, v)
	}
}

func testIncrInvalid(t *testing.T, s store.Store) {
	if _, err := s.Incr(ctx, "no-kind", 0); err == nil {
		t.Error("Incr(key without a kind) = nil error")
	}
	key := store.Key(store.KindRateLimit, "ctx")
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Incr(c, key, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Incr(canceled) = %v, want context.Canceled", err)
	}
	wantNotFound(t, s, key) // nothing happened
}

// testIncrConcurrent: racers goroutines each increment one key rounds times
// at once. Every call succeeds, the values returned are exactly 1..total
// (each once), and the record ends at total.
func testIncrConcurrent(t *testing.T, s store.Store) {
	const total = racers * rounds
	key := store.Key(store.KindRateLimit, "hot")
	var seen [total + 1]atomic.Int32
	var errs atomic.Int32
	var firstErr atomic.Value
	race(racers, func(int) {
		for range rounds {
			n, err := s.Incr(ctx, key, time.Minute)
			if err != nil || n < 1 || n > total {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%d, %v", n, err))
				continue
			}
			seen[n].Add(1)
		}
	})
	if errs.Load() != 0 {
		t.Fatalf("%d of %d concurrent increments failed or went out of range (first: %v)", errs.Load(), total, firstErr.Load())
	}
	for n := 1; n <= total; n++ {
		if c := seen[n].Load(); c != 1 {
			t.Fatalf("value %d returned %d times by %d concurrent increments, want once", n, c, total)
		}
	}
	wantValue(t, s, key, []byte(strconv.Itoa(total)))
}
