package testkit

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// JWTClaim returns the string claim name of a JWT's payload, without verifying the token;
// the test fails if tok is not a JWT or has no such claim.
func JWTClaim(tb testing.TB, tok, name string) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		tb.Fatalf("JWT payload: %v", err)
	}
	v, ok := claims[name].(string)
	if !ok || v == "" {
		tb.Fatalf("JWT has no string claim %q", name)
	}
	return v
}
