package grants

import (
	"testing"
)

// benchRecords are records shaped like the ones one sign-in writes.
var benchRecords = []struct {
	name string
	new  func() any
	rec  any
}{
	{"client", func() any { return new(Client) }, &Client{ID: "client_01K4TESTCLIENTID0000000000", Name: "Claude Code", RedirectURIs: []string{"http://127.0.0.1:33418/callback"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, IssuedAt: 1757144304}},
	{"pending", func() any { return new(Pending) }, &Pending{ClientID: "client_01K4TESTCLIENTID0000000000", RedirectURI: "http://127.0.0.1:33418/callback",
		State: "f0c5a1e2", HasState: true, CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
		BindingHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Consented: true, CreatedAt: 1757144304}},
	{"code", func() any { return new(Code) }, &Code{ClientID: "client_01K4TESTCLIENTID0000000000", RedirectURI: "http://127.0.0.1:33418/callback",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", SessionID: "session_01K4TEST", Sealed: make([]byte, 1400), ExpiresAt: 1757144304}},
	{"refresh", func() any { return new(Refresh) }, &Refresh{ClientID: "client_01K4TESTCLIENTID0000000000", SessionID: "session_01K4TEST", State: RefreshActive}},
}

// BenchmarkRecordCodec encodes and decodes each kind of record once per
// iteration, as a Mutate does.
func BenchmarkRecordCodec(b *testing.B) {
	for _, r := range benchRecords {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw, err := encodeRecord(r.rec)
				if err != nil {
					b.Fatal(err)
				}
				if err := decodeRecord(raw, r.new()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
