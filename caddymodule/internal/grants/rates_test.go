package grants

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
)

// TestRateWindowsCount: a window admits max requests and refuses the rest; a window counted
// by an earlier version (a JSON integer written through Mutate) goes on from its count; a
// store that refuses writes is an error, never an admission.
func TestRateWindowsCount(t *testing.T) {
	ctx := context.Background()
	b, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := storetest.NewFaulty(b)
	t.Cleanup(func() { _ = f.Close() })
	w := New(f, time.Minute).Rates

	for i := range 5 {
		if ok, err := w.Count(ctx, "token|10.0.0.1|7", 3, time.Minute); ok != (i < 3) || err != nil {
			t.Fatalf("request %d: Count = %v, %v; want %v, nil", i+1, ok, err, i < 3)
		}
	}

	// A window written the old way holds 2 of 3: one more fits.
	old, err := encodeRecord(new(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Put(ctx, store.Key(store.KindRateLimit, "token|10.0.0.2|7"), old, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if ok, err := w.Count(ctx, "token|10.0.0.2|7", 3, time.Minute); ok != want || err != nil {
			t.Fatalf("request %d on a window counted by Mutate: Count = %v, %v; want %v, nil", i+1, ok, err, want)
		}
	}

	f.FailWrites(errDown)
	if ok, err := w.Count(ctx, "token|10.0.0.3|7", 3, time.Minute); ok || !errors.Is(err, errDown) {
		t.Fatalf("Count with writes failing = %v, %v; want false and the store's error", ok, err)
	}
}
