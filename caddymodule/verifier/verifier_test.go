package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

var bg = context.Background()

func TestNewValidatesConfig(t *testing.T) {
	good := Config{JWKSURL: "https://api.workos.com/sso/jwks/client_1", Issuers: []string{testIssuer}}
	if _, err := New(good); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no-url":          func(c *Config) { c.JWKSURL = "" },
		"relative-url":    func(c *Config) { c.JWKSURL = "/jwks" },
		"file-url":        func(c *Config) { c.JWKSURL = "file:///etc/passwd" },
		"no-issuers":      func(c *Config) { c.Issuers = nil },
		"empty-issuer":    func(c *Config) { c.Issuers = []string{""} },
		"spaced-issuer":   func(c *Config) { c.Issuers = []string{testIssuer + " "} },
		"negative-skew":   func(c *Config) { c.Skew = -time.Second },
		"huge-token-size": func(c *Config) { c.MaxTokenSize = MaxBearerTokenLength + 1 },
		"negative-size":   func(c *Config) { c.MaxJWKSSize = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			c.Issuers = append([]string(nil), good.Issuers...)
			mod(&c)
			if v, err := New(c); err == nil {
				v.Close()
				t.Fatal("bad config accepted")
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		v, err := New(good)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		c := v.cfg
		if c.Skew != 30*time.Second || c.MaxTokenSize != 8192 || c.MinRefetchInterval != 10*time.Second ||
			c.RefreshInterval != time.Hour || c.FetchTimeout != 5*time.Second || c.MaxJWKSSize != 1<<20 ||
			c.CacheSize != 10000 || c.Now == nil || c.Logger == nil || v.cache == nil {
			t.Fatalf("defaults not applied: %+v", c)
		}
		if v.client.Timeout != 5*time.Second || v.client.CheckRedirect == nil {
			t.Fatal("default client has no timeout or follows redirects")
		}
		if s := v.Stats(); s.Fetches != 0 || s.Keys != 0 {
			t.Fatalf("New fetched: %+v", s)
		}
	})
}

// B29: a valid WorkOS-shaped token is accepted and its claims come back.
func TestValidToken(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	t.Run("B29/valid", func(t *testing.T) {
		c, err := e.v.Verify(bg, e.valid(t))
		wantValid(t, c, err)
		want := Claims{
			Subject: "user_01K4TEST", SessionID: "session_01K4TEST", OrganizationID: "org_01K4TEST",
			Role: "member", Issuer: testIssuer, ID: "01K4JTI",
		}
		if c.Subject != want.Subject || c.SessionID != want.SessionID || c.OrganizationID != want.OrganizationID ||
			c.Role != want.Role || c.Issuer != want.Issuer || c.ID != want.ID {
			t.Fatalf("claims = %+v", c)
		}
		if len(c.Permissions) != 2 || c.Permissions[0] != "apps:read" || c.Audience != nil {
			t.Fatalf("permissions/audience = %v / %v", c.Permissions, c.Audience)
		}
		if !c.IssuedAt.Equal(t0) || !c.Expiry.Equal(t0.Add(300*time.Second)) {
			t.Fatalf("times = %v / %v", c.IssuedAt, c.Expiry)
		}
	})
	t.Run("B29/second-issuer-no-org", func(t *testing.T) {
		cl := with(claimsAt(t0), "iss", testIssuer2, "org_id", nil, "role", nil, "permissions", nil, "jti", nil)
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, cl))
		wantValid(t, c, err)
		if c.OrganizationID != "" || c.Permissions != nil || c.Issuer != testIssuer2 {
			t.Fatalf("claims = %+v", c)
		}
	})
	t.Run("B29/fractional-exp", func(t *testing.T) {
		cl := with(claimsAt(t0), "exp", float64(t0.Unix())+299.5)
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, cl))
		wantValid(t, c, err)
		if want := t0.Add(299500 * time.Millisecond); !c.Expiry.Equal(want) {
			t.Fatalf("exp = %v; want %v", c.Expiry, want)
		}
	})
	t.Run("B29/typ-header-ignored", func(t *testing.T) {
		tok := signJWX(t, e.k1, jwa.RS256, kid1, claimsAt(t0), map[string]any{"typ": "JWT"})
		c, err := e.v.Verify(bg, tok)
		wantValid(t, c, err)
	})
}

func TestAlgorithms(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	payload := mustJSON(claimsAt(t0))
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		t.Run("B7/alg-"+alg, func(t *testing.T) {
			hdr := mustJSON(map[string]any{"alg": alg, "kid": kid1})
			c, err := e.v.Verify(bg, rawToken(hdr, payload, nil))
			wantInvalid(t, c, err, "unsupported algorithm")
			// Even with a real RS256 signature over the input.
			c, err = e.v.Verify(bg, rawToken(hdr, payload, rs256(e.k1)))
			wantInvalid(t, c, err, "unsupported algorithm")
		})
	}
	t.Run("B7/alg-missing", func(t *testing.T) {
		c, err := e.v.Verify(bg, rawToken(mustJSON(map[string]any{"kid": kid1}), payload, rs256(e.k1)))
		wantInvalid(t, c, err, "malformed header")
	})
	t.Run("B7/alg-not-a-string", func(t *testing.T) {
		c, err := e.v.Verify(bg, rawToken(mustJSON(map[string]any{"alg": []string{"RS256"}, "kid": kid1}), payload, rs256(e.k1)))
		wantInvalid(t, c, err, "malformed header")
	})
	t.Run("B7/alg-case-variant-of-RS256", func(t *testing.T) {
		c, err := e.v.Verify(bg, rawToken(mustJSON(map[string]any{"alg": "rs256", "kid": kid1}), payload, rs256(e.k1)))
		wantInvalid(t, c, err, "unsupported algorithm")
	})

	pubDER, err := x509.MarshalPKIXPublicKey(&e.k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(&e.k1.PublicKey)
	jwkJSON := mustJSON(jwkEntry(&e.k1.PublicKey, kid1, "RS256", "sig"))
	for name, secret := range map[string][]byte{
		"pem-pkix":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		"pem-pkcs1": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"der":       pubDER,
		"jwk-json":  jwkJSON,
	} {
		t.Run("B8/hs256-keyed-with-public-"+name, func(t *testing.T) {
			hdr := mustJSON(map[string]any{"alg": "HS256", "kid": kid1})
			c, err := e.v.Verify(bg, rawToken(hdr, payload, hs256(secret)))
			wantInvalid(t, c, err, "unsupported algorithm")
		})
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"RS384": signJWX(t, e.k1, jwa.RS384, kid1, claimsAt(t0), nil),
		"PS256": signJWX(t, e.k1, jwa.PS256, kid1, claimsAt(t0), nil),
		"ES256": signJWX(t, ec, jwa.ES256, kid1, claimsAt(t0), nil),
	} {
		t.Run("B9/"+name+"-with-K1-kid", func(t *testing.T) {
			c, err := e.v.Verify(bg, tok)
			wantInvalid(t, c, err, "unsupported algorithm")
		})
	}
}

func TestSignature(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	t.Run("B10/signed-by-K2-with-K1-kid", func(t *testing.T) {
		c, err := e.v.Verify(bg, sign(t, e.k2, kid1, claimsAt(t0)))
		wantInvalid(t, c, err, "invalid signature")
	})
	t.Run("B10/signature-bit-flipped", func(t *testing.T) {
		tok := e.valid(t)
		i := strings.LastIndexByte(tok, '.')
		sig, err := rawURL.DecodeString(tok[i+1:])
		if err != nil {
			t.Fatal(err)
		}
		for _, bit := range []int{0, 7, 1000, len(sig)*8 - 1} {
			s := append([]byte(nil), sig...)
			s[bit/8] ^= 1 << (bit % 8)
			c, err := e.v.Verify(bg, tok[:i+1]+b64(s))
			wantInvalid(t, c, err, "invalid signature")
		}
	})
	t.Run("B10/payload-changed-signature-kept", func(t *testing.T) {
		tok := e.valid(t)
		parts := strings.Split(tok, ".")
		parts[1] = b64(mustJSON(with(claimsAt(t0), "sub", "user_ADMIN")))
		c, err := e.v.Verify(bg, strings.Join(parts, "."))
		wantInvalid(t, c, err, "invalid signature")
	})
	t.Run("B10/header-changed-signature-kept", func(t *testing.T) {
		tok := e.valid(t)
		parts := strings.Split(tok, ".")
		parts[0] = b64(mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "x": 1}))
		c, err := e.v.Verify(bg, strings.Join(parts, "."))
		wantInvalid(t, c, err, "invalid signature")
	})
	t.Run("B10/non-canonical-base64-of-valid-token", func(t *testing.T) {
		// Flipping unused low bits of the last character of a segment
		// decodes to the same bytes; such variants must not verify.
		tok := e.valid(t)
		parts := strings.Split(tok, ".")
		flipped := 0
		for i, p := range parts {
			if len(p)%4 == 0 {
				continue
			}
			q := []byte(p)
			q[len(q)-1] = bumpUnusedBits(q[len(q)-1])
			alt := append([]string(nil), parts...)
			alt[i] = string(q)
			c, err := e.v.Verify(bg, strings.Join(alt, "."))
			wantInvalid(t, c, err, "malformed token")
			flipped++
		}
		if flipped == 0 {
			t.Fatal("no segment with unused bits; test proves nothing")
		}
	})
}

// bumpUnusedBits changes a base64url character to the next one, which
// differs only in its lowest bit.
func bumpUnusedBits(c byte) byte {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alpha, c)
	return alpha[i^1]
}

func TestTimeClaims(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	now := t0
	cases := []struct {
		name   string
		claims map[string]any
		reason string // "" means accepted
	}{
		{"B11/exp-past-beyond-skew", with(claimsAt(now), "exp", now.Add(-31*time.Second).Unix()), "token expired"},
		{"B11/exp-missing", with(claimsAt(now), "exp", nil), "missing exp"},
		{"B11/exp-null", with(claimsAt(now), "exp", jsonNull{}), "missing exp"},
		{"B11/exp-string", with(claimsAt(now), "exp", "soon"), "malformed claims"},
		{"B11/exp-numeric-string", with(claimsAt(now), "exp", "1757144604"), "malformed claims"},
		{"B11/exp-negative", with(claimsAt(now), "exp", -1), "malformed claims"},
		{"B11/exp-huge", with(claimsAt(now), "exp", 1e300), "malformed claims"},
		{"B11/exp-bool", with(claimsAt(now), "exp", true), "malformed claims"},
		{"B12/exp-20s-ago-within-30s-skew", with(claimsAt(now), "exp", now.Add(-20*time.Second).Unix()), ""},
		{"B12/exp-exactly-at-skew", with(claimsAt(now), "exp", now.Add(-30*time.Second).Unix()), ""},
		{"B13/nbf-in-10min", with(claimsAt(now), "nbf", now.Add(10*time.Minute).Unix()), "token not yet valid"},
		{"B13/iat-in-10min", with(claimsAt(now), "iat", now.Add(10*time.Minute).Unix()), "token issued in the future"},
		{"B13/nbf-within-skew", with(claimsAt(now), "nbf", now.Add(20*time.Second).Unix()), ""},
		{"B13/iat-within-skew", with(claimsAt(now), "iat", now.Add(20*time.Second).Unix()), ""},
		{"B13/nbf-string", with(claimsAt(now), "nbf", "now"), "malformed claims"},
		{"B13/iat-string", with(claimsAt(now), "iat", "now"), "malformed claims"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.v.Verify(bg, sign(t, e.k1, kid1, tc.claims))
			if tc.reason == "" {
				wantValid(t, c, err)
			} else {
				wantInvalid(t, c, err, tc.reason)
			}
		})
	}
	t.Run("B12/custom-skew", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Skew = time.Second }).ready(t)
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(now), "exp", now.Add(-20*time.Second).Unix())))
		wantInvalid(t, c, err, "token expired")
	})
}

type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func TestIssuerAndSubject(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	cases := []struct {
		name   string
		claims map[string]any
		reason string
	}{
		{"B14/iss-wrong", with(claimsAt(t0), "iss", "https://evil.example"), "issuer not accepted"},
		{"B14/iss-missing", with(claimsAt(t0), "iss", nil), "issuer not accepted"},
		{"B14/iss-trailing-slash", with(claimsAt(t0), "iss", testIssuer+"/"), "issuer not accepted"},
		{"B14/iss-documented-form-not-configured", with(claimsAt(t0), "iss", "https://api.workos.com/"), "issuer not accepted"},
		{"B14/iss-case-differs", with(claimsAt(t0), "iss", strings.ToUpper(testIssuer)), "issuer not accepted"},
		{"B14/iss-number", with(claimsAt(t0), "iss", 1), "malformed claims"},
		{"claims/sub-missing", with(claimsAt(t0), "sub", nil), "missing sub"},
		{"claims/sub-empty", with(claimsAt(t0), "sub", ""), "missing sub"},
		{"claims/sid-missing", with(claimsAt(t0), "sid", nil), "missing sid"},
		{"claims/sub-number", with(claimsAt(t0), "sub", 42), "malformed claims"},
		{"claims/permissions-string", with(claimsAt(t0), "permissions", "admin"), "malformed claims"},
		{"claims/permissions-mixed", with(claimsAt(t0), "permissions", []any{"a", 1}), "malformed claims"},
		{"claims/case-variant-claim-names-ignored", with(claimsAt(t0), "exp", nil, "EXP", t0.Add(time.Hour).Unix()), "missing exp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.v.Verify(bg, sign(t, e.k1, kid1, tc.claims))
			wantInvalid(t, c, err, tc.reason)
		})
	}
}

func TestAudience(t *testing.T) {
	const ours = "https://gw.example/api/v1"
	e := newEnv(t, func(c *Config) { c.Audience = ours }).ready(t)
	for name, aud := range map[string]any{
		"B15/aud-missing":             nil,
		"B15/aud-wrong":               "https://other.example",
		"B15/aud-id-token-client-id":  "client_01TEST",
		"B15/aud-path-prefix-lookali": ours + "-evil",
		"B15/aud-prefix-of-ours":      "https://gw.example/api",
		"B15/aud-empty-list":          []string{},
		"B15/aud-number":              7,
	} {
		t.Run(name, func(t *testing.T) {
			cl := with(claimsAt(t0), "aud", aud)
			reason := "audience not accepted"
			if name == "B15/aud-number" {
				reason = "malformed claims"
			}
			c, err := e.v.Verify(bg, sign(t, e.k1, kid1, cl))
			wantInvalid(t, c, err, reason)
		})
	}
	t.Run("B15/aud-string-ours", func(t *testing.T) {
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "aud", ours)))
		wantValid(t, c, err)
		if len(c.Audience) != 1 || c.Audience[0] != ours {
			t.Fatalf("aud = %v", c.Audience)
		}
	})
	// Policy (brief and RFC 7519 §4.1.3): aud must contain ours; other
	// values alongside are allowed.
	t.Run("B15/aud-list-containing-ours-accepted-by-policy", func(t *testing.T) {
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "aud", []string{"other", ours})))
		wantValid(t, c, err)
	})
	t.Run("B15/aud-not-configured-any-aud-accepted", func(t *testing.T) {
		e := newEnv(t, nil).ready(t)
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "aud", "anything")))
		wantValid(t, c, err)
	})
}

func TestKIDAndHeader(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	payload := mustJSON(claimsAt(t0))
	for name, kid := range map[string]string{
		"B21/kid-path-traversal": "../../../../dev/null",
		"B21/kid-sql":            "' OR '1'='1",
		"B21/kid-nul":            "sso\x00key",
		"B21/kid-newline-log":    "x\nlevel=error msg=forged",
		"B21/kid-200-bytes":      strings.Repeat("k", 200),
	} {
		t.Run(name, func(t *testing.T) {
			hdr := mustJSON(map[string]any{"alg": "RS256", "kid": kid})
			c, err := e.v.Verify(bg, rawToken(hdr, payload, rs256(e.k1)))
			wantInvalid(t, c, err, "unknown signing key")
		})
	}
	t.Run("B21/kid-10KiB", func(t *testing.T) {
		hdr := mustJSON(map[string]any{"alg": "RS256", "kid": strings.Repeat("k", 10<<10)})
		c, err := e.v.Verify(bg, rawToken(hdr, payload, rs256(e.k1)))
		wantInvalid(t, c, err, "token too large")
	})
	t.Run("B21/kid-missing", func(t *testing.T) {
		c, err := e.v.Verify(bg, rawToken(mustJSON(map[string]any{"alg": "RS256"}), payload, rs256(e.k1)))
		wantInvalid(t, c, err, "missing key id")
	})
	t.Run("B21/kid-empty", func(t *testing.T) {
		c, err := e.v.Verify(bg, rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": ""}), payload, rs256(e.k1)))
		wantInvalid(t, c, err, "missing key id")
	})
	t.Run("B21/kid-number", func(t *testing.T) {
		// A kid that is not a string makes the header fail to decode.
		c, err := e.v.Verify(bg, rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": 1}), payload, rs256(e.k1)))
		wantInvalid(t, c, err, "malformed header")
	})
	if h := e.srv.hits.Load(); h > 2 {
		t.Fatalf("odd kids caused %d JWKS fetches; want at most 1 beyond the initial one", h)
	}
}

func TestMalformed(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	valid := e.valid(t)
	parts := strings.Split(valid, ".")
	payload := mustJSON(claimsAt(t0))
	k1hdr := mustJSON(map[string]any{"alg": "RS256", "kid": kid1})
	cases := []struct{ name, tok, reason string }{
		{"B26/empty", "", "empty token"},
		{"B26/one-segment", parts[0], "not a compact JWS"},
		{"B26/two-segments", parts[0] + "." + parts[1], "not a compact JWS"},
		{"B26/four-segments", valid + ".x", "not a compact JWS"},
		{"B26/empty-signature", parts[0] + "." + parts[1] + ".", "malformed token"},
		{"B26/empty-payload", parts[0] + ".." + parts[2], "malformed token"},
		{"B26/empty-header", "." + parts[1] + "." + parts[2], "malformed token"},
		{"B26/base64-std-alphabet", parts[0] + "." + parts[1] + "+/." + parts[2], "malformed token"},
		{"B26/base64-padding", parts[0] + "==." + parts[1] + "." + parts[2], "malformed token"},
		{"B26/invalid-char-in-header", "!" + valid[1:], "malformed token"},
		{"B26/space-in-token", parts[0] + ". " + parts[1] + "." + parts[2], "malformed token"},
		{"B26/invalid-utf8-in-token", parts[0] + "." + parts[1] + "\xff." + parts[2], "malformed token"},
		{"B26/header-not-json", b64([]byte("not json")) + "." + parts[1] + "." + parts[2], "malformed header"},
		{"B26/header-json-array", b64([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2], "malformed header"},
		{"B26/header-null", b64([]byte(`null`)) + "." + parts[1] + "." + parts[2], "malformed header"},
		{"B26/header-invalid-utf8-kid", rawToken([]byte("{\"alg\":\"RS256\",\"kid\":\"\xff\xfe\"}"), payload, rs256(e.k1)), "malformed header"},
		{"B26/payload-json-array", rawToken(k1hdr, []byte(`[1,2,3]`), rs256(e.k1)), "malformed claims"},
		{"B26/payload-not-json", rawToken(k1hdr, []byte(`hello`), rs256(e.k1)), "malformed claims"},
		{"B26/payload-null", rawToken(k1hdr, []byte(`null`), rs256(e.k1)), "malformed claims"},
		{"B26/payload-invalid-utf8", rawToken(k1hdr, []byte("{\"sub\":\"\xff\"}"), rs256(e.k1)), "malformed claims"},
		{"B26/crit-b64", rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "crit": []string{"b64"}, "b64": false}), payload, rs256(e.k1)), "unsupported critical header"},
		{"B26/crit-exp", rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "crit": []string{"exp"}, "exp": 1}), payload, rs256(e.k1)), "unsupported critical header"},
		{"B26/b64-false-without-crit", rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "b64": false}), payload, rs256(e.k1)), "unsupported critical header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.v.Verify(bg, tc.tok)
			wantInvalid(t, c, err, tc.reason)
		})
	}
}

func TestSerializations(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	t.Run("B23/json-serialized-jws", func(t *testing.T) {
		tok, err := jws.Sign(mustJSON(claimsAt(t0)), jws.WithJSON(), jws.WithKey(jwa.RS256, e.k1,
			jws.WithProtectedHeaders(mustHeaders(t, map[string]any{"kid": kid1}))))
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.v.Verify(bg, string(tok))
		wantInvalid(t, c, err, "not a compact JWS")
	})
	t.Run("B23/json-jws-signature-without-protected", func(t *testing.T) {
		tok := `{"payload":"` + b64(mustJSON(claimsAt(t0))) + `","signatures":[{"header":{"alg":"RS256","kid":"` + kid1 + `"},"signature":"AAAA"}]}`
		c, err := e.v.Verify(bg, tok)
		wantInvalid(t, c, err, "not a compact JWS")
	})
	t.Run("B23/json-jws-with-two-dots", func(t *testing.T) {
		c, err := e.v.Verify(bg, `{"payload":"a.b","signature":"c.d"}`)
		wantInvalid(t, c, err, "malformed token")
	})
	t.Run("B24/jwe-pbes2-p2c-huge-zip", func(t *testing.T) {
		hdr := mustJSON(map[string]any{"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": 1 << 31, "p2s": "c2FsdHNhbHQ", "zip": "DEF", "kid": kid1})
		tok := b64(hdr) + "." + b64(make([]byte, 24)) + "." + b64(make([]byte, 12)) + "." + b64(make([]byte, 64)) + "." + b64(make([]byte, 16))
		start := time.Now()
		c, err := e.v.Verify(bg, tok)
		wantInvalid(t, c, err, "not a compact JWS")
		// Processing p2c = 2^31 would take minutes; the bound leaves room for a loaded
		// machine's scheduling, not for any key derivation.
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("B24/real-jwe-rsa-oaep", func(t *testing.T) {
		tok, err := jwe.Encrypt(mustJSON(claimsAt(t0)), jwe.WithKey(jwa.RSA_OAEP, &e.k1.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.v.Verify(bg, string(tok))
		wantInvalid(t, c, err, "not a compact JWS")
	})
	t.Run("B24/three-segment-with-jwe-header", func(t *testing.T) {
		hdr := mustJSON(map[string]any{"alg": "RS256", "enc": "A128GCM", "zip": "DEF", "kid": kid1})
		c, err := e.v.Verify(bg, rawToken(hdr, mustJSON(claimsAt(t0)), rs256(e.k1)))
		wantInvalid(t, c, err, "unsupported algorithm")
	})
}

func mustHeaders(tb testing.TB, m map[string]any) jws.Headers {
	tb.Helper()
	h := jws.NewHeaders()
	for k, v := range m {
		if err := h.Set(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	return h
}

func TestOversized(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	hdr8k := b64(mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "pad": strings.Repeat("p", 8<<10)}))
	cases := []struct{ name, tok, reason string }{
		{"B25/64KiB-base64", strings.Repeat("A", 64<<10), "token too large"},
		{"B25/1MiB-dots", strings.Repeat(".", 1<<20), "token too large"},
		{"B25/8KiB-header", hdr8k + "." + b64(mustJSON(claimsAt(t0))) + ".AAAA", "token too large"},
		{"B25/8000-dots-under-limit", strings.Repeat(".", 8000), "not a compact JWS"},
		{"B25/4KiB-header-under-limit", b64(make([]byte, 3000)) + ".AAAA.AAAA", "header too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := e.v.Verify(bg, tc.tok)
			wantInvalid(t, c, err, tc.reason)
			// A generous bound (a loaded machine under -race stalls for tens of ms); that
			// the refusal does no work on the input is what the allocation check pins.
			if d := time.Since(start); d > 250*time.Millisecond {
				t.Fatalf("took %v", d)
			}
			allocs := testing.AllocsPerRun(50, func() { _, _ = e.v.Verify(bg, tc.tok) })
			if allocs > 0 {
				t.Fatalf("refusal allocates %v times per call; want 0", allocs)
			}
		})
	}
	t.Run("B25/1MiB-bearer-header", func(t *testing.T) {
		h := map[string][]string{"Authorization": {"Bearer " + strings.Repeat(".", 1<<20)}}
		allocs := testing.AllocsPerRun(50, func() {
			if _, _, err := BearerToken(h); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
		if allocs > 0 {
			t.Fatalf("BearerToken allocates %v times on a 1 MiB header", allocs)
		}
	})
	t.Run("B25/max-size-config", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MaxTokenSize = 100 }).ready(t)
		c, err := e.v.Verify(bg, e.valid(t))
		wantInvalid(t, c, err, "token too large")
	})
}

// An unknown kid waits for the fetch only as long as ctx allows.
func TestVerifyContextBoundsWait(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	e.srv.setHang(true)
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.v.Verify(ctx, sign(t, e.k3, kid3, claimsAt(t0)))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v; want a wrapped deadline error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %v", d)
	}
}

// The returned claims are copies: changing them does not change what the
// cache serves next.
func TestClaimsAreIsolated(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	tok := e.valid(t)
	c, err := e.v.Verify(bg, tok)
	wantValid(t, c, err)
	c.Subject = "user_EVIL"
	_ = append(c.Permissions, "admin")
	c2, err := e.v.Verify(bg, tok)
	wantValid(t, c2, err)
	if c2.Subject != "user_01K4TEST" || len(c2.Permissions) != 2 {
		t.Fatalf("cache corrupted by caller: %+v", c2)
	}
	if e.v.Stats().CacheHits != 1 {
		t.Fatalf("stats = %+v; want one cache hit", e.v.Stats())
	}
}

func TestJWKFromJWXRoundTrip(t *testing.T) {
	// A JWKS built by jwx itself (as WorkOS-like servers would) parses.
	k1, _, _, _ := keys(t)
	key, err := jwk.FromRaw(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, kid1)
	_ = key.Set(jwk.AlgorithmKey, jwa.RS256)
	set := jwk.NewSet()
	_ = set.AddKey(key)
	body := mustJSON(set)
	keys, _, err := parseJWKS(body)
	if err != nil || keys[kid1] == nil || !keys[kid1].Equal(&k1.PublicKey) {
		t.Fatalf("parseJWKS(jwx set) = %v, %v", keys, err)
	}
}
