// scan.go holds the conformance cases for Scan: which records of which kind
// it reports (each once, with its value), odd ids, stopping early, contexts,
// enough records to cross every backend's batch boundaries, and writes made
// from fn during the scan. Expired records are checked in expiry.go, after
// its one shared sleep.

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// scanAll scans kind k to the end and returns every record it reported,
// failing the test if Scan fails or reports an id twice.
func scanAll(t *testing.T, s store.Store, k store.Kind) map[string][]byte {
	t.Helper()
	got := make(map[string][]byte)
	var dup []string
	err := s.Scan(ctx, k, func(id string, value []byte) bool {
		if _, ok := got[id]; ok {
			dup = append(dup, id)
		}
		got[id] = value
		return true
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", k, err)
	}
	if len(dup) > 0 {
		t.Fatalf("Scan(%q) reported %d ids twice, such as %q", k, len(dup), dup[0])
	}
	return got
}

// wantScan checks that scanning kind k reports exactly the records of want.
func wantScan(t *testing.T, s store.Store, k store.Kind, want map[string][]byte) {
	t.Helper()
	got := scanAll(t, s, k)
	for id, v := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("Scan(%q) missed id %q (got %d of %d records)", k, id, len(got), len(want))
		}
		if !bytes.Equal(g, v) {
			t.Fatalf("Scan(%q) gave id %q the value %q, want %q", k, id, truncate(g), truncate(v))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Fatalf("Scan(%q) reported id %q, which is not a live record of that kind", k, id)
		}
	}
}

func truncate(v []byte) []byte {
	if len(v) > 40 {
		return append(v[:40:40], "..."...)
	}
	return v
}

// putAll stores every record of recs under kind k with ttl.
func putAll(t *testing.T, s store.Store, k store.Kind, recs map[string][]byte, ttl time.Duration) {
	t.Helper()
	for id, v := range recs {
		mustPut(t, s, store.Key(k, id), v, ttl)
	}
}

// records returns n records with distinct ids and values; ids share
// prefixes ("1", "10", "100") and some differ only by trailing NULs, so a
// backend resuming a scan after the last key it saw is put to the test.
func records(n int) map[string][]byte {
	recs := make(map[string][]byte, n)
	for i := range n {
		id := fmt.Sprint(i/3) + strings.Repeat("\x00", i%3)
		recs[id] = fmt.Appendf(nil, "value-%d\x00\xff", i)
	}
	return recs
}

func testScanEmpty(t *testing.T, s store.Store) {
	mustPut(t, s, store.Key(store.KindSession, "s"), []byte("v"), 0)
	mustPut(t, s, store.Key(store.KindClient, ""), []byte("v"), 0) // a kind's prefix alone is a key of that kind
	for _, k := range []store.Kind{store.KindCode, store.KindRefresh, store.KindPending} {
		wantScan(t, s, k, nil)
	}
	wantScan(t, s, store.KindClient, map[string][]byte{"": []byte("v")})
	called := false
	err := s.Scan(ctx, store.Kind("bogus"), func(string, []byte) bool { called = true; return true })
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("Scan(bogus kind) = %v, want a kind error", err)
	}
	if called {
		t.Error("Scan(bogus kind) called fn")
	}
}

func testScanKinds(t *testing.T, s store.Store) {
	clients := records(40)
	sessions := map[string][]byte{"a": []byte("sa"), "b": []byte("sb"), "c": {}}
	codes := map[string][]byte{"x": []byte("cx")}
	putAll(t, s, store.KindClient, clients, 0)
	putAll(t, s, store.KindSession, sessions, time.Hour)
	putAll(t, s, store.KindCode, codes, time.Hour)
	// The same ids under other kinds must not leak into the scanned kind.
	putAll(t, s, store.KindRefresh, clients, 0)

	wantScan(t, s, store.KindClient, clients)
	wantScan(t, s, store.KindSession, sessions)
	wantScan(t, s, store.KindCode, codes)
	wantScan(t, s, store.KindPending, nil)

	// Deleted, taken and overwritten records are seen as they are now.
	if err := s.Delete(ctx, store.Key(store.KindSession, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, store.Key(store.KindSession, "b")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, store.Key(store.KindSession, "c"), []byte("new"), 0)
	wantScan(t, s, store.KindSession, map[string][]byte{"c": []byte("new")})

	// The values handed to fn are the caller's: changing one changes nothing stored.
	err := s.Scan(ctx, store.KindSession, func(id string, v []byte) bool {
		for i := range v {
			v[i] = 'X'
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, store.Key(store.KindSession, "c"), []byte("new"))
}

func testScanOddIDs(t *testing.T, s store.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	ids := []string{
		"a/b", "/", "//", "a/", "/a", "client/x", "session/y", "", "\x00", "\x00\x00", "a\x00b",
		"\xff", "\xff\xfe", "ünï/cødé", "*", "?", "[a-z]", "\\", "\\*", "a*b?c[d]", "\r\n", " ",
		"%s", string(all), strings.Repeat("/x", 500),
	}
	recs := make(map[string][]byte, len(ids))
	for i, id := range ids {
		recs[id] = append([]byte{byte(i), 0, 0xff}, id...)
	}
	putAll(t, s, store.KindPending, recs, 0)
	mustPut(t, s, store.Key(store.KindClient, "*"), []byte("other kind"), 0)
	wantScan(t, s, store.KindPending, recs)
}

// testScanLargeValues stores values large enough that a batch of a backend
// that bounds its batches by bytes holds only a few of them.
func testScanLargeValues(t *testing.T, s store.Store) {
	recs := make(map[string][]byte)
	for i := range 10 {
		recs[fmt.Sprint("big-", i)] = bytes.Repeat([]byte{byte(i), 0, 0xff}, 100_000) // 300 KB
		recs[fmt.Sprint("small-", i)] = []byte{byte(i)}
	}
	putAll(t, s, store.KindSession, recs, 0)
	wantScan(t, s, store.KindSession, recs)
}

func testScanMany(t *testing.T, s store.Store) {
	recs := records(2500)
	putAll(t, s, store.KindSession, recs, time.Hour)
	putAll(t, s, store.KindClient, records(300), 0)
	wantScan(t, s, store.KindSession, recs)
}

func testScanStopsEarly(t *testing.T, s store.Store) {
	putAll(t, s, store.KindClient, records(600), 0)
	for _, stopAt := range []int{1, 7, 256, 257, 599} {
		calls := 0
		err := s.Scan(ctx, store.KindClient, func(string, []byte) bool {
			calls++
			return calls < stopAt
		})
		if err != nil {
			t.Fatalf("Scan stopped by fn at %d: %v, want nil", stopAt, err)
		}
		if calls != stopAt {
			t.Fatalf("fn returned false on call %d but was called %d times", stopAt, calls)
		}
	}
	// Stopping on the last record ends the scan normally too.
	calls := 0
	if err := s.Scan(ctx, store.KindClient, func(string, []byte) bool { calls++; return calls < 600 }); err != nil || calls != 600 {
		t.Fatalf("Scan = %v after %d calls, want nil after 600", err, calls)
	}
}

func testScanCanceledContext(t *testing.T, s store.Store) {
	putAll(t, s, store.KindClient, records(600), 0)
	c, cancel := context.WithCancel(ctx)
	cancel()
	calls := 0
	err := s.Scan(c, store.KindClient, func(string, []byte) bool { calls++; return true })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("Scan(canceled) = %v after %d calls, want context.Canceled and no call", err, calls)
	}
	err = s.Scan(c, store.KindCode, func(string, []byte) bool { calls++; return true })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("Scan(canceled, empty kind) = %v after %d calls, want context.Canceled and no call", err, calls)
	}

	// Canceled by fn mid-scan: the context is checked between records, so
	// fn is not called again.
	for _, cancelAt := range []int{1, 10, 256, 300} {
		c, cancel := context.WithCancel(ctx)
		calls := 0
		err := s.Scan(c, store.KindClient, func(string, []byte) bool {
			calls++
			if calls == cancelAt {
				cancel()
			}
			return true
		})
		cancel()
		if !errors.Is(err, context.Canceled) || calls != cancelAt {
			t.Fatalf("Scan canceled by fn on call %d = %v after %d calls, want context.Canceled after %d", cancelAt, err, calls, cancelAt)
		}
	}

	c, cancel = context.WithTimeout(ctx, -time.Second)
	defer cancel()
	if err := s.Scan(c, store.KindClient, func(string, []byte) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Scan(expired deadline) = %v, want context.DeadlineExceeded", err)
	}
}

// testScanWritesFromFn has fn delete each record it is given and write a new
// one of the same kind, as a maintenance job might: the store must not
// deadlock, every record present before the scan is seen once, and no id is
// reported twice (the new records may or may not be seen).
func testScanWritesFromFn(t *testing.T, s store.Store) {
	const n = 600
	old := records(n)
	putAll(t, s, store.KindRefresh, old, 0)
	seen := make(map[string]int)
	err := s.Scan(ctx, store.KindRefresh, func(id string, v []byte) bool {
		seen[id]++
		if strings.HasPrefix(id, "new/") {
			return true
		}
		if want, ok := old[id]; !ok || !bytes.Equal(v, want) {
			t.Errorf("Scan reported %q = %q, want %q", id, truncate(v), truncate(want))
		}
		if err := s.Delete(ctx, store.Key(store.KindRefresh, id)); err != nil {
			t.Errorf("Delete from fn: %v", err)
			return false
		}
		if err := s.Put(ctx, store.Key(store.KindRefresh, "new/"+id), v, 0); err != nil {
			t.Errorf("Put from fn: %v", err)
			return false
		}
		return true
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	for id := range old {
		if seen[id] != 1 {
			t.Fatalf("record %q, present for the whole scan, was seen %d times, want once", id, seen[id])
		}
	}
	for id, c := range seen {
		if c > 1 {
			t.Fatalf("id %q was reported %d times", id, c)
		}
	}
	news := make(map[string][]byte, n)
	for id, v := range old {
		news["new/"+id] = v
	}
	wantScan(t, s, store.KindRefresh, news)
}
