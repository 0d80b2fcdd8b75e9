package grants

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
)

func newTestSessions(t *testing.T) (*Sessions, *storetest.Faulty) {
	t.Helper()
	b, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := storetest.NewFaulty(b)
	t.Cleanup(func() { _ = f.Close() })
	return newSessions(f, time.Minute), f
}

var errDown = errors.New("store down")

// TestRecordCachesTheNewSession: the protected request that follows a sign-in is answered
// without reading back the session record just written, and a revocation still wins.
func TestRecordCachesTheNewSession(t *testing.T) {
	ctx := context.Background()
	s, f := newTestSessions(t)
	// A stale "not live" answer for the sid is cached first; Record must replace it.
	if live, err := s.Live(ctx, "session_1"); err != nil || live != nil {
		t.Fatalf("Live before Record = %v, %v; want nil, nil", live, err)
	}
	rec := &Session{ID: "session_1", ClientID: "c", UserID: "u", CreatedAt: 1}
	if err := s.Record(ctx, rec, time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.UserID = "changed by the caller"
	f.FailReads(errDown)
	live, err := s.Live(ctx, "session_1")
	if err != nil || live == nil || live.UserID != "u" {
		t.Fatalf("Live after Record with reads failing = %+v, %v; want the recorded session from memory", live, err)
	}
	f.Heal()
	if ok, err := s.Revoke(ctx, "session_1", "test", time.Hour); err != nil || !ok {
		t.Fatalf("Revoke = %v, %v", ok, err)
	}
	if live, err := s.Live(ctx, "session_1"); err != nil || live != nil {
		t.Fatalf("Live after Revoke = %+v, %v; want nil", live, err)
	}
}

// TestRecordFailureCachesNothing: a session whose write failed is not answered as live.
func TestRecordFailureCachesNothing(t *testing.T) {
	ctx := context.Background()
	s, f := newTestSessions(t)
	f.FailWrites(errDown)
	if err := s.Record(ctx, &Session{ID: "session_2", ClientID: "c", UserID: "u"}, time.Hour); err == nil {
		t.Fatal("Record succeeded with writes failing")
	}
	f.Heal()
	if live, err := s.Live(ctx, "session_2"); err != nil || live != nil {
		t.Fatalf("Live = %+v, %v; want nil (nothing was stored)", live, err)
	}
}

// TestRecordLosesToConcurrentEviction: when an eviction happens while Record writes, Record
// does not cache its answer over it.
func TestRecordLosesToConcurrentEviction(t *testing.T) {
	ctx := context.Background()
	s, f := newTestSessions(t)
	// Evict during the write: the store call is the only window, so use a store that evicts.
	s.store = evictingStore{Store: f, evict: func() { s.Evict("session_3") }}
	if err := s.Record(ctx, &Session{ID: "session_3", ClientID: "c", UserID: "u"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.store = f
	f.FailReads(errDown)
	if _, err := s.Live(ctx, "session_3"); !errors.Is(err, errDown) {
		t.Fatalf("Live = %v; want a store read (nothing cached), which fails", err)
	}
}

// evictingStore calls evict inside every Put, before the write.
type evictingStore struct {
	store.Store
	evict func()
}

func (e evictingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	e.evict()
	return e.Store.Put(ctx, key, value, ttl)
}

// TestRecordWinsOverReadInFlight: a Live that read "no such session" before Record wrote it,
// and caches its answer after Record cached the new session, must not leave "not live" in
// the cache: the session's first protected requests would be refused for the cache TTL.
func TestRecordWinsOverReadInFlight(t *testing.T) {
	ctx := context.Background()
	s, f := newTestSessions(t)
	rec := &Session{ID: "session_4", ClientID: "c", UserID: "u", CreatedAt: 1}
	// The read completes (not found), then Record runs to its end, then Live caches.
	s.store = recordingAfterGet{Store: f, after: func() {
		if err := s.Record(ctx, rec, time.Hour); err != nil {
			t.Error(err)
		}
	}}
	if live, err := s.Live(ctx, "session_4"); err != nil || live != nil {
		t.Fatalf("Live racing Record = %+v, %v; want nil, nil (it read before the write)", live, err)
	}
	s.store = f
	live, err := s.Live(ctx, "session_4")
	if err != nil || live == nil || live.UserID != "u" {
		t.Fatalf("Live after Record = %+v, %v; want the recorded session", live, err)
	}
}

// recordingAfterGet calls after once a Get has read the store, before it returns.
type recordingAfterGet struct {
	store.Store
	after func()
}

func (r recordingAfterGet) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := r.Store.Get(ctx, key)
	r.after()
	return v, err
}
