package verifier

import (
	"errors"
	"net/http"
)

// MaxBearerTokenLength is the longest token [BearerToken] returns; longer
// credentials get [ErrMalformed] without being scanned. [Config.MaxTokenSize]
// cannot exceed it.
const MaxBearerTokenLength = 64 << 10

// Errors returned by [BearerToken]. None of them contains the header value.
var (
	// ErrMultipleHeaders: more than one Authorization header field. Answer
	// 400 with error="invalid_request" (RFC 6750 section 3.1).
	ErrMultipleHeaders = errors.New("verifier: more than one authorization header")
	// ErrUnsupportedScheme: an Authorization header with a scheme other than
	// Bearer (Basic, Token, DPoP, …). Answer 401 with a bare Bearer
	// challenge and no error code (RFC 6750 section 3.1).
	ErrUnsupportedScheme = errors.New("verifier: unsupported authorization scheme")
	// ErrMalformed: a Bearer credential that is not exactly "Bearer" SP
	// token68 (empty, extra spaces, two values, control characters, too
	// long). Answer 401 with error="invalid_token", as for a bad token.
	ErrMalformed = errors.New("verifier: malformed bearer credential")
)

// BearerToken extracts the bearer token from the Authorization header of h.
//
// It returns ("", false, nil) when there is no Authorization header at all:
// answer 401 with a bare challenge. Otherwise present is true, and the
// header must be exactly one field of the form
//
//	Bearer SP token68
//
// where the scheme is matched case-insensitively, there is exactly one
// space and no other whitespace, and token68 is
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750
// section 2.1, RFC 9110 section 11.2), at most [MaxBearerTokenLength]
// bytes. The errors are [ErrMultipleHeaders], [ErrUnsupportedScheme] and
// [ErrMalformed]. Tokens in the query string or the body are never looked
// at.
func BearerToken(h http.Header) (token string, present bool, err error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, ErrMultipleHeaders
	}
	v := vals[0]
	if len(v) > len("Bearer ")+MaxBearerTokenLength {
		return "", true, ErrMalformed
	}
	sp := -1
	for i := 0; i < len(v); i++ {
		if !isTchar(v[i]) {
			sp = i
			break
		}
	}
	scheme := v
	if sp >= 0 {
		scheme = v[:sp]
	}
	if !equalFoldASCII(scheme, "bearer") {
		if scheme != "" && (sp < 0 || v[sp] == ' ') {
			return "", true, ErrUnsupportedScheme
		}
		return "", true, ErrMalformed
	}
	if sp < 0 || v[sp] != ' ' {
		return "", true, ErrMalformed
	}
	token = v[sp+1:]
	if !isToken68(token) {
		return "", true, ErrMalformed
	}
	return token, true, nil
}

// isTchar reports whether c is an RFC 9110 tchar.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// token68Chars marks the bytes allowed in token68 before the padding.
var token68Chars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// isToken68 reports whether s matches RFC 9110 token68.
func isToken68(s string) bool {
	i := 0
	for i < len(s) && token68Chars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// equalFoldASCII compares s with the lowercase ASCII word lower, ignoring
// ASCII case only.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
