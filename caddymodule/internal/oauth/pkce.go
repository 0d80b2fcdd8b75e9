package oauth

// pkce.go checks PKCE (RFC 7636) values. Only S256 exists here: plain gives no protection
// against a stolen authorization request.

import (
	"crypto/sha256"
	"encoding/base64"
)

// validChallenge reports whether c can be an S256 challenge: base64url without padding of a
// 32-byte digest, so exactly 43 characters of [A-Za-z0-9_-].
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !isBase64URL(c[i]) {
			return false
		}
	}
	return true
}

// validVerifier reports whether v matches the RFC 7636 §4.1 ABNF: 43*128 unreserved.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isBase64URL(c) && c != '.' && c != '~' {
			return false
		}
	}
	return true
}

// verifyPKCE reports whether verifier is well formed and hashes to challenge, in constant time.
func verifyPKCE(verifier, challenge string) bool {
	if !validVerifier(verifier) || !validChallenge(challenge) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return equalConstantTime(want, challenge)
}

// s256Challenge derives the S256 challenge of verifier.
func s256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
