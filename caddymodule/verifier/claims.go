package verifier

import (
	"encoding/base64"
	"time"
)

// Claims are the verified claims of a WorkOS access token.
//
// A *Claims returned by [Verifier.Verify] may share its slices with the
// verified-token cache and with other callers: treat it as read-only.
type Claims struct {
	// Subject is the sub claim, the WorkOS user id (user_…). Always set.
	Subject string
	// SessionID is the sid claim, the WorkOS session id (session_…). Always set.
	SessionID string
	// OrganizationID is the org_id claim; empty when no organization is selected.
	OrganizationID string
	// Role is the role claim; empty when no organization is selected.
	Role string
	// Issuer is the iss claim, one of [Config.Issuers].
	Issuer string
	// ID is the jti claim; may be empty.
	ID string
	// Permissions is the permissions claim; nil when absent.
	Permissions []string
	// Audience is the aud claim, normalized to a list; nil when absent.
	Audience []string
	// IssuedAt is the iat claim; the zero time when absent.
	IssuedAt time.Time
	// Expiry is the exp claim. Always set.
	Expiry time.Time
}

// clone returns a shallow copy whose slices cannot be appended to in place.
func (c *Claims) clone() *Claims {
	cp := *c
	cp.Permissions = c.Permissions[:len(c.Permissions):len(c.Permissions)]
	cp.Audience = c.Audience[:len(c.Audience):len(c.Audience)]
	return &cp
}

const (
	// maxHeaderSegment bounds the base64url JOSE header segment. WorkOS
	// headers are about 90 bytes; even one x5c certificate fits.
	maxHeaderSegment = 2048
	// maxKIDLength bounds the kid header value (WorkOS: sso_oidc_key_pair_<ULID>, 44 bytes).
	maxKIDLength = 128
	// maxNumericDate is 9999-12-31T23:59:59Z; larger dates are refused.
	maxNumericDate = 253402300799
)

var rawURL = base64.RawURLEncoding.Strict()

// isBase64URL reports whether s is a non-empty, canonical, unpadded
// base64url string: only the URL-safe alphabet, a length that is not 1
// modulo 4, and zero unused bits in the last character. Canonical encoding
// matters because a non-canonical variant decodes to the same bytes: a
// variant of a valid token would otherwise verify too, and two spellings of
// one token would be two cache entries. It does not allocate.
func isBase64URL(s string) bool {
	if s == "" || len(s)%4 == 1 {
		return false
	}
	var last byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			last = c - 'A'
		case 'a' <= c && c <= 'z':
			last = c - 'a' + 26
		case '0' <= c && c <= '9':
			last = c - '0' + 52
		case c == '-':
			last = 62
		case c == '_':
			last = 63
		default:
			return false
		}
	}
	switch len(s) % 4 {
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

// tokenClaims are the parsed claims plus the validity window that Verify
// and the cache both enforce.
type tokenClaims struct {
	claims    Claims
	notBefore time.Time // from nbf; zero when absent
}

// checkTime enforces exp, nbf and iat against now with the given leeway.
// The cache calls it too, so that a cached token is refused exactly when an
// uncached one would be.
func (tc *tokenClaims) checkTime(now time.Time, skew time.Duration) error {
	if now.After(tc.claims.Expiry.Add(skew)) {
		return errExpired
	}
	if !tc.notBefore.IsZero() && now.Add(skew).Before(tc.notBefore) {
		return errNotYetValid
	}
	if !tc.claims.IssuedAt.IsZero() && now.Add(skew).Before(tc.claims.IssuedAt) {
		return errIssuedInFuture
	}
	return nil
}

// checkClaims enforces the time window, iss, aud, sub and sid.
func (v *Verifier) checkClaims(tc *tokenClaims, now time.Time) error {
	if err := tc.checkTime(now, v.cfg.Skew); err != nil {
		return err
	}
	c := &tc.claims
	if c.Issuer == "" {
		return errIssuer
	}
	if _, ok := v.issuers[c.Issuer]; !ok {
		return errIssuer
	}
	if v.cfg.Audience != "" {
		found := false
		for _, a := range c.Audience {
			if a == v.cfg.Audience {
				found = true
				break
			}
		}
		if !found {
			return errAudience
		}
	}
	if c.Subject == "" {
		return errMissingSubject
	}
	if c.SessionID == "" {
		return errMissingSession
	}
	return nil
}
