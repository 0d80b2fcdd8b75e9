// basic.go holds the conformance cases for the plain operations: missing
// keys, Put and Get (binary values too), Delete, Count, copies of returned
// slices, canceled contexts and Close (Scan's cases are in scan.go).

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

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

func testDelete(t *testing.T, s store.Store) {
	key := store.Key(store.KindSecret, "c")
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
	if err := s.Scan(ctx, store.KindClient, func(string, []byte) bool { return true }); err == nil {
		t.Fatal("Scan after Close = nil, want a closed-store error")
	}
}
