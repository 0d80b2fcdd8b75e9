package oauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Fuzz targets for redirect URI matching and validation, PKCE and the JSON shape check. Each
// seed corpus holds the vectors of the matching table tests, so a plain `go test` runs them as
// regression tests.

// refRedirectMatch is the reference oracle for matchRedirectURI with one registered URI: an
// exact match, or both are http on the same loopback host name and equal once the port is cut.
func refRedirectMatch(reg, req string) bool {
	if req == reg {
		return true
	}
	rh, rrest, rok := splitLoopback(reg)
	qh, qrest, qok := splitLoopback(req)
	return rok && qok && rh == qh && rrest == qrest && len(req) <= maxRedirectURILength
}

// splitLoopback splits http://<loopback host>[:<digits>]<rest> into host and rest.
func splitLoopback(s string) (host, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, "http://")
	for _, h := range []string{"127.0.0.1", "[::1]", "localhost"} {
		if r, found := strings.CutPrefix(s, h); ok && found {
			if p, hasPort := strings.CutPrefix(r, ":"); hasPort {
				r = strings.TrimLeft(p, "0123456789")
			}
			if r == "" || r[0] == '/' || r[0] == '?' {
				return h, r, true
			}
		}
	}
	return "", "", false
}

// hasBadByte reports whether s holds whitespace, a control character or a non-ASCII byte.
func hasBadByte(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0
}

func FuzzRedirectMatch(f *testing.F) {
	const c1, c2 = "https://app.example/cb", "http://127.0.0.1/cb"
	for _, req := range []string{
		c1, "https://APP.example/cb", "https://app.example/CB", "https://app.example/cb/", "https://app.example/cb?x=1",
		"https://app.example/cb#x", "https://app.example/cb%20", "https://app.example:443/cb", "https://app.example.evil.test/cb",
		"https://app.example/cb/../cb", "https://app.example/cb%2F..%2Fevil", "https://evil.test/cb", "https://app.example@evil.test/cb",
	} {
		f.Add(c1, req) // A2, A3
	}
	for _, req := range []string{
		c2, "http://127.0.0.1:51004/cb", "http://127.0.0.1:51004/cb?x=1", "http://127.0.0.1:51004/other",
		"http://localhost.evil.test:51004/cb", "http://127.0.0.1.nip.io:51004/cb", "http://[::1]:51004/cb",
		"https://127.0.0.1:51004/cb", "http://127.0.0.1:51004/cb#x", "http://u@127.0.0.1:51004/cb", "http://127.0.0.1:/cb",
		"http://127.0.0.1:51004/c%62", "http://127.0.0.1:80:90/cb", "http://127.0.0.1:51004\\@evil.test/cb",
	} {
		f.Add(c2, req) // A4, A5
	}
	f.Add("http://[::1]/cb", "http://[::1]:8080/cb")
	f.Add("http://localhost:3000/cb?a=1", "http://localhost:9/cb?a=1")
	f.Add("http://127.0.0.1/cb{", "http://127.0.0.1:5/c%62{")
	f.Add("http://127.0.0.1/cb{", "http://127.0.0.1:5/cb%7B")
	f.Add("http://127.0.0.1", "http://127.0.0.1:5")
	f.Add("http://127.0.0.1?x", "http://127.0.0.1:5?x")
	f.Add("com.example.app:/cb", "com.example.app:/cb")
	f.Add("com.example.app:/cb", "com.example.app://evil.test/cb")
	f.Fuzz(func(t *testing.T, reg, req string) {
		if ValidateRedirectURI(reg, nil) != nil {
			return
		}
		got, ok := matchRedirectURI([]string{reg}, req, nil)
		if want := refRedirectMatch(reg, req); ok != want {
			t.Fatalf("matchRedirectURI([%q], %q) = %v, reference says %v", reg, req, ok, want)
		}
		if !ok {
			return
		}
		if got != reg {
			t.Fatalf("matchRedirectURI([%q], %q) = %q, want the registered URI", reg, req, got)
		}
		if strings.ContainsAny(req, "#\\") || hasBadByte(req) {
			t.Fatalf("matchRedirectURI([%q], %q) matched a URI with a fragment, backslash, control character or whitespace", reg, req)
		}
		ru, err1 := url.Parse(reg)
		qu, err2 := url.Parse(req)
		if err1 != nil || err2 != nil {
			t.Fatalf("matchRedirectURI([%q], %q) matched an unparsable URI: %v, %v", reg, req, err1, err2)
		}
		if qu.User != nil {
			t.Fatalf("matchRedirectURI([%q], %q) matched a URI with userinfo", reg, req)
		}
		if ru.Scheme != qu.Scheme || ru.Hostname() != qu.Hostname() {
			t.Fatalf("matchRedirectURI([%q], %q) matched across scheme or host (%s://%s vs %s://%s)", reg, req, ru.Scheme, ru.Hostname(), qu.Scheme, qu.Hostname())
		}
	})
}

func FuzzValidateRegistrationURI(f *testing.F) {
	for _, v := range refusedRedirectURIs {
		f.Add(v.uri)
	}
	for _, s := range []string{
		"https://app.example/cb", "http://127.0.0.1:3000/cb", "http://[::1]/cb", "http://localhost:8080/cb",
		"com.example.app:/cb", "myapp:/cb", "com.example.app:cb/../x", "https://app.example/a%2fb{", "http://[::1%25eth0]/cb",
		"https://app.example/cb?x=1&y=%2e", "com.example.app://host/cb", "http://localhost:80:90/cb",
	} {
		f.Add(s)
	}
	extra := []string{"myapp"}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateRedirectURI(s, extra)
		if again := ValidateRedirectURI(s, extra); (again == nil) != (err == nil) {
			t.Fatalf("ValidateRedirectURI(%q) = %v then %v, want the same answer", s, err, again)
		}
		if err != nil {
			return
		}
		u, perr := url.Parse(s)
		switch {
		case perr != nil:
			t.Fatalf("ValidateRedirectURI(%q) = nil, but url.Parse fails: %v", s, perr)
		case !u.IsAbs():
			t.Fatalf("ValidateRedirectURI(%q) = nil, want only absolute URIs", s)
		case len(s) > maxRedirectURILength:
			t.Fatalf("ValidateRedirectURI(%d bytes) = nil, want at most %d", len(s), maxRedirectURILength)
		case u.Fragment != "" || strings.Contains(s, "#"):
			t.Fatalf("ValidateRedirectURI(%q) = nil, but it has a fragment", s)
		case u.User != nil:
			t.Fatalf("ValidateRedirectURI(%q) = nil, but it has userinfo", s)
		case hasBadByte(s) || strings.ContainsAny(s, "\\*"):
			t.Fatalf("ValidateRedirectURI(%q) = nil, but it has a control, space, non-ASCII, backslash or wildcard", s)
		case dangerousSchemes[strings.ToLower(u.Scheme)]:
			t.Fatalf("ValidateRedirectURI(%q) = nil, but its scheme is dangerous", s)
		}
		switch {
		case u.Scheme == "https":
			if u.Hostname() == "" {
				t.Fatalf("ValidateRedirectURI(%q) = nil, but the https URI has no host", s)
			}
		case u.Scheme == "http":
			if h := u.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
				t.Fatalf("ValidateRedirectURI(%q) = nil, but the http host %q is not loopback", s, h)
			}
		case strings.Contains(u.Scheme, ".") || u.Scheme == "myapp":
			if u.Host != "" {
				t.Fatalf("ValidateRedirectURI(%q) = nil, but the private-use URI has an authority", s)
			}
		default:
			t.Fatalf("ValidateRedirectURI(%q) = nil, but scheme %q is not allowed", s, u.Scheme)
		}
		for _, p := range []string{u.Path, u.Opaque} {
			for _, seg := range strings.Split(p, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("ValidateRedirectURI(%q) = nil, but its path has a dot-segment", s)
				}
			}
		}
	})
}

var verifierABNF = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

func FuzzPKCE(f *testing.F) {
	long := strings.Repeat("~", 128)
	f.Add(rfcVerifier, rfcChallenge)
	f.Add(long, s256Challenge(long))
	f.Add(rfcVerifier, rfcVerifier)
	f.Add(rfcVerifier[:42], s256Challenge(rfcVerifier[:42]))
	f.Add(long+"a", s256Challenge(long+"a"))
	f.Add(rfcVerifier[:42]+"+", s256Challenge(rfcVerifier[:42]+"+"))
	f.Add(rfcVerifier[:42]+"/", s256Challenge(rfcVerifier[:42]+"/"))
	f.Add(rfcVerifier[:42]+"=", s256Challenge(rfcVerifier[:42]+"="))
	f.Add(rfcVerifier, rfcChallenge+"=")
	f.Add(rfcVerifier, rfcChallenge[:42])
	f.Add("", "")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		sum := sha256.Sum256([]byte(verifier))
		derived := base64.RawURLEncoding.EncodeToString(sum[:])
		want := verifierABNF.MatchString(verifier) && challenge == derived
		if got := verifyPKCE(verifier, challenge); got != want {
			t.Fatalf("verifyPKCE(%q, %q) = %v, want %v", verifier, challenge, got, want)
		}
		// Also exercise the accepting path for every fuzzed verifier.
		if got, want := verifyPKCE(verifier, derived), verifierABNF.MatchString(verifier); got != want {
			t.Fatalf("verifyPKCE(%q, its own S256) = %v, want %v", verifier, got, want)
		}
	})
}

func FuzzJSONShape(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`,
		`{"a":{"b":[{"c":1},{"c":2}],"d":{"e":null}},"f":[[1,2],[3]]}`,
		`{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.test/cb"]}`,
		`{"a":{"b":1,"b":2}}`, `[{"a":1}]`, `{}{}`, `{"a":1}x`, ``, `{"a":1`, `{"a":[1,{"b":2}`, `{"a":1e400}`,
		`{"a":"\ud800"}`, "{\"\xff\":1,\"\xfe\":2}", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}}`,
		`{"a":` + strings.Repeat("[", 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkJSONShape(body, maxJSONDepth) != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("checkJSONShape(%q) = nil, but json.Valid = false", body)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("checkJSONShape(%q) = nil, but json.Unmarshal into map[string]json.RawMessage: %v", body, err)
		}
		// Numbers are decoded as json.Number: 1e400 is valid JSON that float64 cannot hold.
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m == nil {
			t.Fatalf("checkJSONShape(%q) = nil, but decoding into map[string]any: %v", body, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("checkJSONShape(%q) = nil, but data follows the object (%v)", body, err)
		}
		if got := len(raw); got != countTopLevelKeys(t, body) {
			t.Fatalf("checkJSONShape(%q) = nil, but the object has %d distinct keys out of %d (a duplicate)", body, got, countTopLevelKeys(t, body))
		}
	})
}

// countTopLevelKeys counts the keys of the top-level object, repeats included.
func countTopLevelKeys(t *testing.T, body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
