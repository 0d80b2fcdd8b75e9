package oauth

import "testing"

// BenchmarkMatchRedirectURI is the redirect matcher at authorize and token: an exact match,
// and a loopback registration requested on another port (RFC 8252 §7.3).
func BenchmarkMatchRedirectURI(b *testing.B) {
	registered := []string{"https://app.example.com/oauth/callback", "http://127.0.0.1:51004/callback"}
	for _, c := range []struct{ name, req string }{
		{"exact", "http://127.0.0.1:51004/callback"},
		{"loopback-other-port", "http://127.0.0.1:60123/callback"},
		{"no-match", "https://evil.example.com/oauth/callback"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				matchRedirectURI(registered, c.req, nil)
			}
		})
	}
}
