package store

import (
	"strings"
	"testing"
)

func FuzzStoreKey(f *testing.F) {
	ids := []string{"", "/", "//", "a", "a/b", "/a", "a/", "\x00", "\xff\xfe", "client/x", "session/x",
		"code", "../../etc/passwd", "ünï/cødé", strings.Repeat("x", 1000), strings.Repeat("a/", 40000)}
	for i := range kinds {
		for _, id := range ids {
			f.Add(byte(i), id)
		}
	}
	f.Add(byte(255), "client/")
	f.Fuzz(func(t *testing.T, kb byte, id string) {
		k := kinds[int(kb)%len(kinds)]
		key := Key(k, id)
		gotK, gotID, err := ParseKey(key)
		if err != nil || gotK != k || gotID != id {
			t.Fatalf("ParseKey(Key(%q, %q)) = %q, %q, %v", k, id, gotK, gotID, err)
		}
		for _, other := range kinds {
			if other != k && Key(other, id) == key {
				t.Fatalf("kinds %q and %q collide on id %q", k, other, id)
			}
			// Nor can any id of another kind produce this key.
			if other != k && strings.HasPrefix(key, string(other)+"/") {
				t.Fatalf("key %q of kind %q is also in the namespace of %q", key, k, other)
			}
		}
		if checkKey(key) == nil && len(key) > maxKeyLen {
			t.Fatalf("checkKey accepted a %d-byte key", len(key))
		}
		// Arbitrary input: never panics; any accepted key re-encodes to itself.
		for _, raw := range []string{id, string(kb) + id} {
			if pk, pid, err := ParseKey(raw); err == nil {
				if Key(pk, pid) != raw || !pk.known() {
					t.Fatalf("ParseKey(%q) = %q, %q does not re-encode", raw, pk, pid)
				}
			}
		}
	})
}

func TestParseKeyErrors(t *testing.T) {
	for _, key := range []string{"", "client", "x/y", "/client/x", "Client/x", "client\x00/x", "clients/x"} {
		if k, id, err := ParseKey(key); err == nil {
			t.Errorf("ParseKey(%q) = %q, %q, nil; want an error", key, k, id)
		}
	}
}

func TestKeyFormat(t *testing.T) {
	if got := Key(KindSession, "a/b"); got != "session/a/b" {
		t.Fatalf("Key = %q", got)
	}
}

func TestHashID(t *testing.T) {
	// sha256("abc"), FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashID("abc"); got != want {
		t.Fatalf("HashID(abc) = %s, want %s", got, want)
	}
	if HashID("code") == HashID("code ") {
		t.Fatal("HashID collides")
	}
}
