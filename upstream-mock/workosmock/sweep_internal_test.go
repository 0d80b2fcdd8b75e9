package workosmock

import (
	"sync"
	"testing"
	"time"
)

func TestSweepBoundsMemory(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	s, err := New(Config{ClientID: "client_x", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	u := DemoUsers()[0]
	a := authzRequest{ClientID: "client_x", RedirectURI: "http://127.0.0.1/cb", Provider: "authkit"}
	for i := 0; i < 50; i++ {
		s.issueCode(a, u)
	}
	s.mu.Lock()
	s.sessions["session_a"] = &session{id: "session_a", userID: u.ID}
	s.sessions["session_b"] = &session{id: "session_b", userID: u.ID}
	live, _ := s.issuePairLocked(u, "session_a", "Password")
	dead, _ := s.issuePairLocked(u, "session_b", "Password")
	rotated, _ := s.issuePairLocked(u, "session_a", "Password")
	s.refresh[rotated.refresh].rotatedAt = now
	s.mu.Unlock()
	s.ExpireSession("session_b")

	advance(11 * time.Minute)
	s.sweep()

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.codes) != 0 {
		t.Errorf("%d expired codes left", len(s.codes))
	}
	if _, ok := s.refresh[live.refresh]; !ok {
		t.Error("live refresh token swept")
	}
	if _, ok := s.refresh[dead.refresh]; ok {
		t.Error("refresh token of an ended session kept")
	}
	if _, ok := s.refresh[rotated.refresh]; ok {
		t.Error("rotated token kept past the grace window")
	}
}

func TestULID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := newULID(time.Now())
		if len(id) != 26 {
			t.Fatalf("len(%q) = %d", id, len(id))
		}
		for _, r := range id {
			if !containsRune(crockford, r) {
				t.Fatalf("%q has %q", id, r)
			}
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id] = true
	}
	// The time prefix sorts.
	a, b := newULID(time.Unix(1000, 0)), newULID(time.Unix(2000, 0))
	if a[:10] >= b[:10] {
		t.Errorf("time prefix does not sort: %s %s", a, b)
	}
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}
