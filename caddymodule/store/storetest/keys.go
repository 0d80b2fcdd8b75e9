// keys.go holds the conformance cases for keys: ids with slashes and odd
// bytes, kinds that must not collide, and keys every operation must reject.

package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

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
	kinds := []store.Kind{store.KindClient, store.KindPending, store.KindCode, store.KindSession, store.KindRefresh, store.KindSecret, store.KindRateLimit}
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
