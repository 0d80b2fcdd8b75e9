package grants

import (
	stdjson "encoding/json"
	"reflect"
	"testing"
)

// TestRecordsInterchangeableWithEncodingJSON: records written by earlier
// versions (encoding/json) decode to the same values, and records written
// now decode with encoding/json to the same values, so an upgrade keeps
// every session and code and a downgrade reads what the new version wrote.
func TestRecordsInterchangeableWithEncodingJSON(t *testing.T) {
	full := []struct {
		new func() any
		rec any
	}{
		{func() any { return new(Client) }, &Client{ID: "c", Name: "n\u00e9", RedirectURIs: []string{"http://127.0.0.1/cb"}, GrantTypes: []string{"authorization_code"},
			ResponseTypes: []string{"code"}, Scope: "s", ClientURI: "https://x", LogoURI: "https://x/l", PolicyURI: "https://x/p", TosURI: "https://x/t",
			IssuedAt: 1, LastUsed: 2, GrantTypesEnforced: true}},
		{func() any { return new(Pending) }, &Pending{ClientID: "c", RedirectURI: "r", RedirectURIGiven: true, State: "s", HasState: true, CodeChallenge: "cc",
			Resource: "https://api", Scope: "openid", Verifier: "v", BindingHash: "b", Consented: true, CreatedAt: 3,
			SignIn: &SignIn{Provider: "GoogleOAuth", ScreenHint: "sign-up", LoginHint: "a@example.com", DomainHint: "example.com"}}},
		{func() any { return new(Pending) }, &Pending{ClientID: "c", RedirectURI: "r", CodeChallenge: "cc", Verifier: "v", BindingHash: "b", CreatedAt: 3}},
		// A present but empty sign-in: encoding/json writes {} for it, and it must come back
		// present, not as a record stored before sign-in options existed.
		{func() any { return new(Pending) }, &Pending{ClientID: "c", RedirectURI: "r", CodeChallenge: "cc", Verifier: "v", BindingHash: "b", CreatedAt: 3, SignIn: &SignIn{}}},
		{func() any { return new(Code) }, &Code{ClientID: "c", RedirectURI: "r", RedirectURIGiven: true, CodeChallenge: "cc", Resource: "x", Scope: "y",
			SessionID: "s", Sealed: []byte{0, 1, 2, 0xff}, Failures: 2, Redeemed: true, Burned: true, ExpiresAt: 4}},
		{func() any { return new(Session) }, &Session{ID: "s", ClientID: "c", UserID: "u", Email: "e", FirstName: "f", LastName: "l", OrganizationID: "o",
			CreatedAt: 5, Revoked: true, RevokedAt: 6, RevokedReason: "why"}},
		{func() any { return new(Refresh) }, &Refresh{ClientID: "c", SessionID: "s", State: RefreshRotated, LeaseUntil: 7, Lease: "l", RotatedAt: 8,
			NextSealed: []byte("sealed"), Undelivered: true}},
		{func() any { return new(TokenPair) }, &TokenPair{AccessToken: "a", RefreshToken: "r", ExpiresAt: 9}},
		// Nil lists, zero flags and counters: what was absent or null comes back so.
		{func() any { return new(Client) }, &Client{ID: "c", IssuedAt: 1}},
		{func() any { return new(Code) }, &Code{ClientID: "c", RedirectURI: "r", CodeChallenge: "cc", SessionID: "s", ExpiresAt: 4}},
		{func() any { return new(Refresh) }, &Refresh{ClientID: "c", SessionID: "s", State: RefreshActive}},
	}
	for _, tc := range full {
		old, err := stdjson.Marshal(tc.rec)
		if err != nil {
			t.Fatal(err)
		}
		got := tc.new()
		if err := decodeRecord(old, got); err != nil {
			t.Fatalf("decoding %s: %v", old, err)
		}
		if !reflect.DeepEqual(got, tc.rec) {
			t.Fatalf("old record %s decoded to %+v; want %+v", old, got, tc.rec)
		}
		raw, err := encodeRecord(tc.rec)
		if err != nil {
			t.Fatal(err)
		}
		back := tc.new()
		if err := stdjson.Unmarshal(raw, back); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", raw, err)
		}
		if !reflect.DeepEqual(back, tc.rec) {
			t.Fatalf("new record %s decodes with encoding/json to %+v; want %+v", raw, back, tc.rec)
		}
		// What encoding/json left out (omitempty) is left out now too.
		var oldKeys, newKeys map[string]stdjson.RawMessage
		_ = stdjson.Unmarshal(old, &oldKeys)
		_ = stdjson.Unmarshal(raw, &newKeys)
		for k := range newKeys {
			if _, ok := oldKeys[k]; !ok {
				t.Fatalf("new record %s has member %q that encoding/json left out (%s)", raw, k, old)
			}
		}
	}
}

// TestOldRecordShapesDecode pins record texts as earlier versions stored
// them: null lists, absent optional members, a number counter.
func TestOldRecordShapesDecode(t *testing.T) {
	var c Client
	if err := decodeRecord([]byte(`{"id":"c","redirect_uris":["http://127.0.0.1/cb"],"grant_types":null,"response_types":null,"issued_at":1}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.ID != "c" || len(c.RedirectURIs) != 1 || c.GrantTypes != nil || c.IssuedAt != 1 {
		t.Fatalf("client = %+v", c)
	}
	var r Refresh
	if err := decodeRecord([]byte(`{"client_id":"c","session_id":"s","state":"rotating","lease_until":10,"lease":"x"}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.State != RefreshRotating || r.LeaseUntil != 10 || r.Lease != "x" {
		t.Fatalf("refresh = %+v", r)
	}
	var n int
	if err := decodeRecord([]byte(`3`), &n); err != nil || n != 3 {
		t.Fatalf("counter = %d, %v", n, err)
	}
	// A string with invalid UTF-8 neither blocks writing nor reading a record.
	raw, err := encodeRecord(&Client{ID: "c", Name: "bad \xff name"})
	if err != nil {
		t.Fatalf("encoding a name with invalid UTF-8: %v", err)
	}
	if err := decodeRecord(raw, new(Client)); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	if err := decodeRecord([]byte("{\"id\":\"c\",\"name\":\"bad \xff\"}"), new(Client)); err != nil {
		t.Fatalf("decoding a stored name with invalid UTF-8: %v", err)
	}
}
