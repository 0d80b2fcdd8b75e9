package verifier

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The header and the claims set are each decoded in one pass into a fixed
// struct with the JSON v2 decoder (github.com/go-json-experiment/json),
// which, unlike encoding/json, matches member names exactly (so "EXP" is
// not exp), refuses duplicate member names (RFC 7515 section 4 and RFC
// 7519 section 4 allow either refusing them or taking the last; refusing
// is the one choice that cannot disagree with another parser about which
// value counts), refuses invalid UTF-8 and anything after the value, and
// hands the fields below their raw value without copying it.

// errNotObject is what a member decoder returns for a value it refuses; any
// decode error ends in errMalformedHeader or errMalformedClaims.
var errNotObject = errors.New("verifier: unexpected json value")

// present records that a member is there at all, whatever its value (null
// included): for header parameters that are refused outright.
type present bool

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (p *present) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*p = true
	return dec.SkipValue()
}

// joseHeader is the part of the protected JOSE header the verifier reads.
type joseHeader struct {
	Alg  *string `json:"alg"`
	Kid  *string `json:"kid"`
	Crit present `json:"crit"`
	B64  present `json:"b64"`
	Enc  present `json:"enc"`
	Zip  present `json:"zip"`
}

// numericDate is an RFC 7519 NumericDate member: seconds since the epoch,
// possibly fractional. set is false when the member is absent, null when
// it is JSON null; strings, negative and absurd values are refused.
type numericDate struct {
	t         time.Time
	set, null bool
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (d *numericDate) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	d.set = true
	if raw.Kind() == 'n' {
		d.null = true
		return nil
	}
	// The decoder has validated raw as one JSON value; a leading digit
	// makes it a non-negative JSON number.
	if len(raw) == 0 || !(raw[0] >= '0' && raw[0] <= '9') {
		return errNotObject
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		if i > maxNumericDate {
			return errNotObject
		}
		d.t = time.Unix(i, 0)
		return nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return errNotObject
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// audience is the aud claim: one string or an array of strings (RFC 7519
// section 4.1.3); null counts as absent.
type audience []string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (a *audience) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		*a = nil
		return err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*a = audience{tok.String()}
		return nil
	case '[':
		var list []string
		if err := json.UnmarshalDecode(dec, &list); err != nil {
			return err
		}
		*a = list
		return nil
	}
	return errNotObject
}

// claimsJSON is the wire form of the claims set. String members decode
// null as absent; any other non-string value is refused.
type claimsJSON struct {
	Exp         numericDate `json:"exp"`
	Nbf         numericDate `json:"nbf"`
	Iat         numericDate `json:"iat"`
	Iss         string      `json:"iss"`
	Sub         string      `json:"sub"`
	Sid         string      `json:"sid"`
	Jti         string      `json:"jti"`
	OrgID       string      `json:"org_id"`
	Role        string      `json:"role"`
	Permissions []string    `json:"permissions"`
	Aud         audience    `json:"aud"`
}

// isObject reports whether raw, after leading JSON whitespace, starts an
// object: the decoder takes a top-level null as an empty struct.
func isObject(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
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
	var hdr joseHeader
	if !isObject(raw) || json.Unmarshal(raw, &hdr) != nil || hdr.Alg == nil {
		return "", errMalformedHeader
	}
	if *hdr.Alg != "RS256" {
		return "", errAlgorithm
	}
	if hdr.Crit || hdr.B64 {
		return "", errCritical
	}
	// A JWE header (enc, zip) is never acceptable; it cannot verify anyway,
	// but refusing it here keeps it away from any library code.
	if hdr.Enc || hdr.Zip {
		return "", errAlgorithm
	}
	if hdr.Kid == nil || *hdr.Kid == "" {
		return "", errMissingKID
	}
	if len(*hdr.Kid) > maxKIDLength {
		return "", errUnknownKey
	}
	return *hdr.Kid, nil
}

// parseClaims strictly decodes the JWT claims set.
func parseClaims(payload []byte) (*tokenClaims, error) {
	var w claimsJSON
	if !isObject(payload) || json.Unmarshal(payload, &w) != nil {
		return nil, errMalformedClaims
	}
	if !w.Exp.set || w.Exp.null {
		return nil, errMissingExp
	}
	if w.Nbf.null || w.Iat.null {
		return nil, errMalformedClaims
	}
	return &tokenClaims{
		notBefore: w.Nbf.t,
		claims: Claims{
			Subject:        w.Sub,
			SessionID:      w.Sid,
			OrganizationID: w.OrgID,
			Role:           w.Role,
			Issuer:         w.Iss,
			ID:             w.Jti,
			Permissions:    w.Permissions,
			Audience:       w.Aud,
			IssuedAt:       w.Iat.t,
			Expiry:         w.Exp.t,
		},
	}, nil
}

// maxCachedHeaders bounds the header cache. An issuer signs every token with the same few
// headers (one per signing key), so a handful of entries is the whole working set.
const maxCachedHeaders = 32

// headerCache maps a header segment that parsed and passed every header check to its kid.
// The answer is a function of the segment's exact bytes, so a hit skips the base64 and JSON
// work without skipping any check. Only accepted headers are kept; when full, it starts over
// (tokens with many distinct headers cost their parse, never a wrong answer).
type headerCache struct {
	mu   sync.Mutex
	kids map[string]string
}

// kid returns the kid of the header segment seg, parsing and checking it unless seen before.
func (c *headerCache) kid(seg string) (string, error) {
	c.mu.Lock()
	kid, ok := c.kids[seg]
	c.mu.Unlock()
	if ok {
		return kid, nil
	}
	kid, err := parseHeader(seg)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.kids == nil || len(c.kids) >= maxCachedHeaders {
		c.kids = make(map[string]string, maxCachedHeaders)
	}
	// seg is a substring of the token: keep a copy of the header alone, so the cache
	// does not hold bearer tokens (or MaxTokenSize bytes per entry) in memory.
	c.kids[strings.Clone(seg)] = kid
	c.mu.Unlock()
	return kid, nil
}
