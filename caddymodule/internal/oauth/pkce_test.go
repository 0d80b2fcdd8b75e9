package oauth

import (
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestS256ChallengeRFC7636(t *testing.T) {
	if got := s256Challenge(rfcVerifier); got != rfcChallenge {
		t.Errorf("s256Challenge(%q) = %q, want %q", rfcVerifier, got, rfcChallenge)
	}
}

func TestValidVerifier(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    string
		want bool
	}{
		{"T1/rfc7636-appendix-b", rfcVerifier, true},
		{"T4/len-42", strings.Repeat("a", 42), false},
		{"T4/len-43", strings.Repeat("a", 43), true},
		{"T4/len-128", strings.Repeat("a", 128), true},
		{"T4/len-129", strings.Repeat("a", 129), false},
		{"T4/empty", "", false},
		{"T4/unreserved-punct", strings.Repeat("a", 39) + "-._~", true},
		{"T4/plus", strings.Repeat("a", 42) + "+", false},
		{"T4/slash", strings.Repeat("a", 42) + "/", false},
		{"T4/equals", strings.Repeat("a", 42) + "=", false},
		{"T4/space", strings.Repeat("a", 42) + " ", false},
		{"T4/percent", strings.Repeat("a", 42) + "%", false},
		{"T4/non-ascii", strings.Repeat("a", 41) + "é", false},
		{"T4/nul", strings.Repeat("a", 42) + "\x00", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validVerifier(tc.v); got != tc.want {
				t.Errorf("validVerifier(%q) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

func TestValidChallenge(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    string
		want bool
	}{
		{"A11/rfc7636-appendix-b", rfcChallenge, true},
		{"A11/len-42", rfcChallenge[:42], false},
		{"A11/len-44", rfcChallenge + "A", false},
		{"A11/padded", rfcChallenge + "=", false},
		{"A11/plus", "+" + rfcChallenge[1:], false},
		{"A11/slash", "/" + rfcChallenge[1:], false},
		{"A11/dot", "." + rfcChallenge[1:], false},
		{"A11/tilde", "~" + rfcChallenge[1:], false},
		{"A11/empty", "", false},
		{"A11/plain-verifier-length-128", strings.Repeat("a", 128), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validChallenge(tc.c); got != tc.want {
				t.Errorf("validChallenge(%q) = %v, want %v", tc.c, got, tc.want)
			}
		})
	}
}

func TestVerifyPKCE(t *testing.T) {
	other := strings.Repeat("x", 43)
	long := strings.Repeat("~", 128)
	for _, tc := range []struct {
		name                string
		verifier, challenge string
		want                bool
	}{
		{"T1/rfc7636-appendix-b", rfcVerifier, rfcChallenge, true},
		{"T1/len-128", long, s256Challenge(long), true},
		{"T2/other-verifier", other, rfcChallenge, false},
		{"T3/missing-verifier", "", rfcChallenge, false},
		{"T4/len-42", rfcVerifier[:42], s256Challenge(rfcVerifier[:42]), false},
		{"T4/len-129", long + "a", s256Challenge(long + "a"), false},
		{"T4/plus", rfcVerifier[:42] + "+", s256Challenge(rfcVerifier[:42] + "+"), false},
		{"T4/slash", rfcVerifier[:42] + "/", s256Challenge(rfcVerifier[:42] + "/"), false},
		{"T4/equals", rfcVerifier[:42] + "=", s256Challenge(rfcVerifier[:42] + "="), false},
		{"A9/plain-method-verifier-as-challenge", rfcVerifier, rfcVerifier, false},
		{"A11/challenge-42", rfcVerifier, rfcChallenge[:42], false},
		{"A11/challenge-44", rfcVerifier, rfcChallenge + "A", false},
		{"A11/challenge-padded", rfcVerifier, rfcChallenge + "=", false},
		{"A11/challenge-last-char-flipped", rfcVerifier, rfcChallenge[:42] + "N", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifyPKCE(tc.verifier, tc.challenge); got != tc.want {
				t.Errorf("verifyPKCE(%q, %q) = %v, want %v", tc.verifier, tc.challenge, got, tc.want)
			}
		})
	}
}
