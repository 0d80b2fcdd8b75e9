package verifier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
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
// matters because jwx re-encodes what it decodes: a non-canonical variant
// of a valid token would otherwise verify too. It does not allocate.
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

// parseHeader decodes and checks the protected JOSE header segment and
// returns its kid. Only alg "RS256" is accepted; crit and b64 are refused;
// jku, x5u, jwk and x5c are ignored, never used.
func parseHeader(seg string) (string, error) {
	if len(seg) > maxHeaderSegment {
		return "", errHeaderTooLarge
	}
	var buf [maxHeaderSegment * 3 / 4]byte
	n, err := rawURL.Decode(buf[:], []byte(seg))
	if err != nil {
		return "", errMalformed
	}
	raw := buf[:n]
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr == nil {
		return "", errMalformedHeader
	}
	alg, ok := jsonString(hdr["alg"])
	if !ok {
		return "", errMalformedHeader
	}
	if alg != "RS256" {
		return "", errAlgorithm
	}
	if _, ok := hdr["crit"]; ok {
		return "", errCritical
	}
	if _, ok := hdr["b64"]; ok {
		return "", errCritical
	}
	// A JWE header (enc, zip) is never acceptable; it cannot verify anyway,
	// but refusing it here keeps it away from any library code.
	if _, ok := hdr["enc"]; ok {
		return "", errAlgorithm
	}
	if _, ok := hdr["zip"]; ok {
		return "", errAlgorithm
	}
	kid, ok := jsonString(hdr["kid"])
	if !ok || kid == "" {
		return "", errMissingKID
	}
	if len(kid) > maxKIDLength {
		return "", errUnknownKey
	}
	return kid, nil
}

// jsonString decodes raw as a JSON string; ok is false when raw is absent
// or not a string.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// parseNumericDate parses a JSON number (RFC 7519 NumericDate, seconds
// since the epoch, possibly fractional). Strings, null, negative and absurd
// values are refused.
func parseNumericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || !(raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, false
	}
	s := string(raw)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(i, 0), true
	}
	// Validate the JSON number grammar before ParseFloat, which also
	// accepts forms JSON does not (hex, underscores, "Inf").
	if !json.Valid(raw) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// parseStringList decodes a JSON array of strings; null counts as absent.
func parseStringList(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, true
	}
	if raw[0] != '[' {
		return nil, false
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, false
	}
	return list, true
}

// optionalString decodes an optional string claim; null counts as absent.
func optionalString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", true
	}
	return jsonString(raw)
}

// tokenClaims are the parsed claims plus the validity window that Verify
// and the cache both enforce.
type tokenClaims struct {
	claims    Claims
	notBefore time.Time // from nbf; zero when absent
}

// parseClaims strictly decodes the JWT claims set. Claim names match
// exactly (not case-insensitively, as encoding/json struct decoding would).
func parseClaims(payload []byte) (*tokenClaims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, errMalformedClaims
	}
	tc := &tokenClaims{}
	c := &tc.claims
	var ok bool

	raw, present := m["exp"]
	if !present || bytes.Equal(raw, []byte("null")) {
		return nil, errMissingExp
	}
	if c.Expiry, ok = parseNumericDate(raw); !ok {
		return nil, errMalformedClaims
	}
	if raw, present := m["nbf"]; present {
		if tc.notBefore, ok = parseNumericDate(raw); !ok {
			return nil, errMalformedClaims
		}
	}
	if raw, present := m["iat"]; present {
		if c.IssuedAt, ok = parseNumericDate(raw); !ok {
			return nil, errMalformedClaims
		}
	}
	if c.Issuer, ok = optionalString(m["iss"]); !ok {
		return nil, errMalformedClaims
	}
	if c.Subject, ok = optionalString(m["sub"]); !ok {
		return nil, errMalformedClaims
	}
	if c.SessionID, ok = optionalString(m["sid"]); !ok {
		return nil, errMalformedClaims
	}
	if c.ID, ok = optionalString(m["jti"]); !ok {
		return nil, errMalformedClaims
	}
	if c.OrganizationID, ok = optionalString(m["org_id"]); !ok {
		return nil, errMalformedClaims
	}
	if c.Role, ok = optionalString(m["role"]); !ok {
		return nil, errMalformedClaims
	}
	if c.Permissions, ok = parseStringList(m["permissions"]); !ok {
		return nil, errMalformedClaims
	}
	if raw := m["aud"]; len(raw) > 0 && raw[0] == '"' {
		aud, ok := jsonString(raw)
		if !ok {
			return nil, errMalformedClaims
		}
		c.Audience = []string{aud}
	} else if c.Audience, ok = parseStringList(raw); !ok {
		return nil, errMalformedClaims
	}
	return tc, nil
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
