// Package storetest holds the conformance suite every store.Store backend
// must pass, and Faulty, a decorator that injects write failures (such as a
// full disk) for the gateway's fault tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
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
		{"Incr", testIncr},
		{"IncrExistingValue", testIncrExistingValue},
		{"IncrNotInteger", testIncrNotInteger},
		{"IncrInvalid", testIncrInvalid},
		{"IncrConcurrent", testIncrConcurrent},
		{"Count", testCount},
		{"ScanEmpty", testScanEmpty},
		{"ScanKinds", testScanKinds},
		{"ScanOddIDs", testScanOddIDs},
		{"ScanLargeValues", testScanLargeValues},
		{"ScanMany", testScanMany},
		{"ScanStopsEarly", testScanStopsEarly},
		{"ScanCanceledContext", testScanCanceledContext},
		{"ScanWritesFromFn", testScanWritesFromFn},
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
