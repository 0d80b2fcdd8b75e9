package oauth

import (
	"strings"
	"testing"
)

// Redirect URIs that registration must refuse, by row ID.
var refusedRedirectURIs = []struct {
	id, name, uri string
}{
	{"R3", "http-non-loopback", "http://app.example/cb"},
	{"R3", "http-loopback-lookalike", "http://127.0.0.1.nip.io/cb"},
	{"R3", "http-localhost-suffix", "http://localhost.evil.test/cb"},
	{"R5", "fragment", "https://app.example/cb#frag"},
	{"R5", "empty-fragment", "https://app.example/cb#"},
	{"R6", "wildcard-host", "https://*.example.com/cb"},
	{"R6", "wildcard-path", "https://app.example/*"},
	{"R6", "wildcard-suffix", "https://app.example/cb*"},
	{"R7", "javascript", "javascript:alert(1)"},
	{"R7", "javascript-mixed-case", "JaVaScRiPt:alert(1)"},
	{"R7", "javascript-leading-space", " javascript:x"},
	{"R7", "javascript-tab", "java\tscript:x"},
	{"R7", "data", "data:text/html,x"},
	{"R7", "vbscript", "vbscript:x"},
	{"R7", "file", "file:///etc/passwd"},
	{"R7", "blob", "blob:https://x/y"},
	{"R7", "https-upper-scheme", "HTTPS://app.example/cb"},
	{"R8", "userinfo-https", "https://app.example@evil.test/cb"},
	{"R8", "userinfo-loopback", "http://localhost:80@evil.test/cb"},
	{"R8", "backslash", "https://app.example\\@evil.test"},
	{"R8", "nul", "https://app.example/cb\x00"},
	{"R8", "encoded-dot-dot", "https://app.example/%2e%2e/cb"},
	{"R8", "encoded-dot-dot-upper", "https://app.example/%2E%2E/cb"},
	{"R8", "literal-dot-dot", "https://app.example/cb/../cb"},
	{"R8", "literal-dot", "https://app.example/./cb"},
	{"R8", "encoded-slash", "https://app.example/cb%2F..%2Fevil"},
	{"R8", "encoded-backslash", "https://app.example/cb%5c"},
	{"R8", "encoded-nul", "https://app.example/cb%00"},
	{"R8", "encoded-slash-odd-path", "https://app.example/a%2fb{"},
	{"R8", "encoded-dot-odd-path", "https://app.example/x%2e{"},
	{"R8", "non-ascii", "https://app.example/cb\u00e9"},
	{"R8", "del", "https://app.example/cb\x7f"},
	{"R8", "newline", "https://app.example/cb\n"},
	{"R9", "relative", "cb"},
	{"R9", "absolute-path", "/cb"},
	{"R9", "network-path", "//evil.test/cb"},
	{"R9", "empty", ""},
	{"R9", "https-no-host", "https:///cb"},
	{"R9", "https-opaque", "https:app.example/cb"},
	{"R9", "https-port-only", "https://:443/cb"},
	{"R10", "too-long", "https://app.example/" + strings.Repeat("a", maxRedirectURILength)},
}

func TestValidateRedirectURIRefused(t *testing.T) {
	for _, tc := range refusedRedirectURIs {
		t.Run(tc.id+"/"+tc.name, func(t *testing.T) {
			if err := ValidateRedirectURI(tc.uri, nil); err == nil {
				t.Errorf("ValidateRedirectURI(%q) = nil, want an error", tc.uri)
			}
		})
	}
}

func TestValidateRedirectURIAccepted(t *testing.T) {
	for _, tc := range []struct {
		id, name, uri string
	}{
		{"R1", "https", "https://app.example/cb"},
		{"R1", "https-port-query", "https://app.example:8443/cb?x=1"},
		{"R1", "https-no-path", "https://app.example"},
		{"R4", "loopback-v4-port", "http://127.0.0.1:3000/cb"},
		{"R4", "loopback-v6", "http://[::1]/cb"},
		{"R4", "localhost-port", "http://localhost:8080/cb"},
		{"R4", "loopback-v4", "http://127.0.0.1/cb"},
		{"R10", "max-length", "https://app.example/" + strings.Repeat("a", maxRedirectURILength-len("https://app.example/"))},
	} {
		t.Run(tc.id+"/"+tc.name, func(t *testing.T) {
			if err := ValidateRedirectURI(tc.uri, nil); err != nil {
				t.Errorf("ValidateRedirectURI(%q) = %v, want nil", tc.uri, err)
			}
		})
	}
}

func TestValidateRedirectURIPrivateUse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		uri   string
		extra []string
		ok    bool
	}{
		{"reverse-domain", "com.example.app:/cb", nil, true},
		{"reverse-domain-triple-slash", "com.example.app:///cb", nil, true},
		{"reverse-domain-authority", "com.example.app://evil.test/cb", nil, false},
		{"reverse-domain-userinfo", "com.example.app://u@/cb", nil, false},
		{"reverse-domain-upper", "Com.Example.App:/cb", nil, false},
		{"reverse-domain-dot-dot", "com.example.app:/cb/../x", nil, false},
		{"reverse-domain-opaque-dot-dot", "com.example.app:cb/../x", nil, false},
		{"plain-unlisted", "myapp:/cb", nil, false},
		{"plain-listed", "myapp:/cb", []string{"myapp"}, true},
		{"plain-other-listed", "myapp:/cb", []string{"otherapp"}, false},
		{"javascript-listed", "javascript:/cb", []string{"javascript"}, false},
		{"data-listed", "data:/cb", []string{"data"}, false},
		{"file-listed", "file:///cb", []string{"file"}, false},
		{"vbscript-listed", "vbscript:/cb", []string{"vbscript"}, false},
		{"blob-listed", "blob:/cb", []string{"blob"}, false},
		{"ws-listed", "ws://127.0.0.1/cb", []string{"ws"}, false},
		{"http-listed-still-loopback-only", "http://app.example/cb", []string{"http"}, false},
	} {
		t.Run("R7/private-use/"+tc.name, func(t *testing.T) {
			err := ValidateRedirectURI(tc.uri, tc.extra)
			if (err == nil) != tc.ok {
				t.Errorf("ValidateRedirectURI(%q, %q) = %v, want accepted=%v", tc.uri, tc.extra, err, tc.ok)
			}
		})
	}
}

func TestMatchRedirectURI(t *testing.T) {
	const c1 = "https://app.example/cb"
	const c2 = "http://127.0.0.1/cb"
	for _, tc := range []struct {
		id, name   string
		registered []string
		requested  string
		want       string // "" means no match
	}{
		{"A3", "exact", []string{c1}, c1, c1},
		{"A3", "host-case", []string{c1}, "https://APP.example/cb", ""},
		{"A3", "path-case", []string{c1}, "https://app.example/CB", ""},
		{"A3", "trailing-slash", []string{c1}, "https://app.example/cb/", ""},
		{"A3", "query-added", []string{c1}, "https://app.example/cb?x=1", ""},
		{"A3", "fragment", []string{c1}, "https://app.example/cb#x", ""},
		{"A3", "encoded-space", []string{c1}, "https://app.example/cb%20", ""},
		{"A3", "default-port", []string{c1}, "https://app.example:443/cb", ""},
		{"A3", "host-suffix", []string{c1}, "https://app.example.evil.test/cb", ""},
		{"A3", "dot-segment", []string{c1}, "https://app.example/cb/../cb", ""},
		{"A3", "encoded-slash", []string{c1}, "https://app.example/cb%2F..%2Fevil", ""},
		{"A3", "http-downgrade", []string{c1}, "http://app.example/cb", ""},
		{"A2", "other-host", []string{c1}, "https://evil.test/cb", ""},
		{"A3", "exact-second-of-two", []string{"https://a.example/cb", c1}, c1, c1},
		{"A4", "loopback-any-port", []string{c2}, "http://127.0.0.1:51004/cb", c2},
		{"A4", "loopback-exact", []string{c2}, c2, c2},
		{"A4", "loopback-registered-port", []string{"http://127.0.0.1:3000/cb"}, "http://127.0.0.1:51004/cb", "http://127.0.0.1:3000/cb"},
		{"A4", "loopback-port-dropped", []string{"http://127.0.0.1:3000/cb"}, "http://127.0.0.1/cb", "http://127.0.0.1:3000/cb"},
		{"A4", "v6-any-port", []string{"http://[::1]/cb"}, "http://[::1]:51004/cb", "http://[::1]/cb"},
		{"A4", "localhost-any-port", []string{"http://localhost/cb"}, "http://localhost:51004/cb", "http://localhost/cb"},
		{"A4", "loopback-with-query", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:9/cb?a=1", "http://127.0.0.1/cb?a=1"},
		{"A5", "query-added", []string{c2}, "http://127.0.0.1:51004/cb?x=1", ""},
		{"A5", "other-path", []string{c2}, "http://127.0.0.1:51004/other", ""},
		{"A5", "localhost-evil", []string{c2}, "http://localhost.evil.test:51004/cb", ""},
		{"A5", "nip-io", []string{c2}, "http://127.0.0.1.nip.io:51004/cb", ""},
		{"A5", "v6-for-v4", []string{c2}, "http://[::1]:51004/cb", ""},
		{"A5", "localhost-for-v4", []string{c2}, "http://localhost:51004/cb", ""},
		{"A5", "v4-for-localhost", []string{"http://localhost/cb"}, "http://127.0.0.1:51004/cb", ""},
		{"A5", "https-for-http", []string{c2}, "https://127.0.0.1:51004/cb", ""},
		{"A5", "fragment", []string{c2}, "http://127.0.0.1:51004/cb#x", ""},
		{"A5", "userinfo", []string{c2}, "http://u@127.0.0.1:51004/cb", ""},
		{"A5", "backslash", []string{c2}, "http://127.0.0.1:51004/cb\\", ""},
		{"A5", "trailing-slash", []string{c2}, "http://127.0.0.1:51004/cb/", ""},
		{"A5", "encoded-path", []string{c2}, "http://127.0.0.1:51004/c%62", ""},
		{"A5", "encoded-odd-char", []string{"http://127.0.0.1/cb{"}, "http://127.0.0.1:51004/cb%7B", ""},
		{"A5", "encoded-letter-odd-char", []string{"http://127.0.0.1/cb{"}, "http://127.0.0.1:51004/c%62{", ""},
		{"A5", "upper-host", []string{"http://localhost/cb"}, "http://LOCALHOST:51004/cb", ""},
		{"A5", "https-loopback-no-port-swap", []string{"https://127.0.0.1/cb"}, "https://127.0.0.1:51004/cb", ""},
		{"A5", "nothing-registered", nil, "http://127.0.0.1:51004/cb", ""},
	} {
		t.Run(tc.id+"/"+tc.name, func(t *testing.T) {
			got, ok := matchRedirectURI(tc.registered, tc.requested, nil)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("matchRedirectURI(%q, %q) = %q, %v, want %q, %v", tc.registered, tc.requested, got, ok, tc.want, tc.want != "")
			}
		})
	}
}
