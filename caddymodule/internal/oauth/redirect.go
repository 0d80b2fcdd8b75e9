package oauth

// redirect.go validates redirect URIs at registration and matches them at authorize and token
// time: an exact string match, except the port of a loopback http URI (RFC 8252 §7.3).

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Limits on registered redirect URIs.
const (
	maxRedirectURIs      = 10
	maxRedirectURILength = 2048
)

// DangerousScheme reports whether scheme is one that is never accepted for a redirect URI,
// even from an operator allowlist.
func DangerousScheme(scheme string) bool { return dangerousSchemes[strings.ToLower(scheme)] }

// dangerousSchemes are never accepted, even from an operator allowlist.
var dangerousSchemes = map[string]bool{
	"javascript": true, "data": true, "vbscript": true, "file": true, "blob": true,
	"about": true, "ftp": true, "ws": true, "wss": true, "view-source": true,
}

// ValidateRedirectURI reports why raw cannot be registered as a redirect URI, or nil. Allowed:
// https with a host; http only on a loopback host (127.0.0.1, [::1], localhost); a private-use
// scheme in reverse-domain form (com.example.app:/cb) or named in extraSchemes. Never: a
// fragment, userinfo, wildcard, backslash, whitespace, control or non-ASCII character, or a
// dot-segment (literal or percent-encoded) in the path.
func ValidateRedirectURI(raw string, extraSchemes []string) error {
	if raw == "" {
		return errors.New("redirect URI is empty")
	}
	if len(raw) > maxRedirectURILength {
		return errors.New("redirect URI is longer than 2048 bytes")
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c <= 0x20 || c >= 0x7f:
			return errors.New("redirect URI contains whitespace, a control character or a non-ASCII byte")
		case c == '\\':
			return errors.New("redirect URI contains a backslash")
		case c == '*':
			return errors.New("redirect URI contains a wildcard")
		case c == '#':
			return errors.New("redirect URI must not contain a fragment")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("redirect URI is not a valid URI")
	}
	if u.Scheme == "" {
		return errors.New("redirect URI must be absolute")
	}
	if u.Scheme != strings.ToLower(u.Scheme) || !strings.HasPrefix(raw, u.Scheme+":") {
		return errors.New("redirect URI scheme must be lower case")
	}
	if dangerousSchemes[u.Scheme] {
		return errors.New("redirect URI scheme " + u.Scheme + " is not allowed")
	}
	// RawPath and Opaque hold the path as sent: EscapedPath re-encodes it when RawPath is not
	// a canonical encoding (for example /a%2fb{), which would hide an encoded slash or dot.
	for _, p := range []string{u.EscapedPath(), u.RawPath, u.Opaque} {
		if err := checkPath(p); err != nil {
			return err
		}
	}
	switch u.Scheme {
	case "https":
		if u.User != nil {
			return errors.New("redirect URI must not contain userinfo")
		}
		if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
			return errors.New("https redirect URI must have a host")
		}
		return nil
	case "http":
		if u.User != nil {
			return errors.New("redirect URI must not contain userinfo")
		}
		if !IsLoopbackHost(u.Hostname()) || u.Opaque != "" {
			return errors.New("http redirect URIs are allowed only on loopback (127.0.0.1, [::1], localhost); use https")
		}
		return nil
	}
	// Private-use scheme (RFC 8252 §7.1): reverse-domain form or operator-allowed.
	if !strings.Contains(u.Scheme, ".") && !slices.Contains(extraSchemes, u.Scheme) {
		return errors.New("private-use redirect URI schemes must be in reverse-domain form (com.example.app:/callback)")
	}
	if u.Host != "" || u.User != nil {
		return errors.New("private-use redirect URIs must not have an authority (use com.example.app:/callback)")
	}
	return nil
}

// checkPath refuses dot-segments, literal or percent-encoded, and encoded slashes.
func checkPath(p string) error {
	lower := strings.ToLower(p)
	for _, bad := range []string{"%2e", "%2f", "%5c", "%00"} {
		if strings.Contains(lower, bad) {
			return errors.New("redirect URI path must not contain encoded dots, slashes or NUL")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return errors.New("redirect URI path must not contain dot-segments")
		}
	}
	return nil
}

// IsLoopbackHost reports whether host (without port or brackets) is one of the three loopback
// names RFC 8252 §7.3 allows for native clients.
func IsLoopbackHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// matchRedirectURI returns the registered URI that requested matches, or false. A match is
// byte-exact, except that a loopback http registration matches the same URI on any port (RFC
// 8252 §7.3); the host name itself never changes (127.0.0.1, [::1] and localhost are distinct).
func matchRedirectURI(registered []string, requested string, extraSchemes []string) (string, bool) {
	for _, reg := range registered {
		if requested == reg {
			return reg, true
		}
	}
	if ValidateRedirectURI(requested, extraSchemes) != nil {
		return "", false
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !IsLoopbackHost(req.Hostname()) {
		return "", false
	}
	for _, reg := range registered {
		if withoutPort(reg) == withoutPort(requested) && withoutPort(reg) != "" {
			return reg, true
		}
	}
	return "", false
}

// withoutPort returns a loopback http URI with its port removed, or "" if raw is not one. It
// cuts the port out of raw's text, so the rest stays byte-exact (re-encoding it with
// url.URL.String would let /c%62{ match /cb{).
func withoutPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || !IsLoopbackHost(u.Hostname()) {
		return ""
	}
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host := rest[:end]
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return "http://" + host + rest[end:]
}
