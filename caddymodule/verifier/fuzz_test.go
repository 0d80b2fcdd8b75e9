package verifier

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// verifySeeds returns the valid tokens (the only ones the oracle may see
// accepted) and the attack vectors of matrix rows B7–B26.
func verifySeeds(tb testing.TB, e *testEnv) (valid, attacks []string) {
	tb.Helper()
	k1, k2 := e.k1, e.k2
	base := claimsAt(t0)
	valid = []string{
		sign(tb, k1, kid1, base),
		sign(tb, k1, kid1, with(base, "iss", testIssuer2, "org_id", nil, "role", nil, "permissions", nil)),
		sign(tb, k1, kid1, with(base, "aud", []string{"a", "b"}, "nbf", t0.Unix())),
		signJWX(tb, k1, jwa.RS256, kid1, base, map[string]any{"typ": "JWT", "jku": "http://127.0.0.1:1/"}),
	}
	payload := mustJSON(base)
	hdr := func(m map[string]any) []byte { return mustJSON(m) }
	k1h := hdr(map[string]any{"alg": "RS256", "kid": kid1})
	good := valid[0]
	parts := strings.Split(good, ".")
	flipped := []byte(parts[2])
	flipped[10] = bumpUnusedBits(flipped[10])
	attacks = []string{
		rawToken(hdr(map[string]any{"alg": "none", "kid": kid1}), payload, nil),
		rawToken(hdr(map[string]any{"alg": "nOnE", "kid": kid1}), payload, nil),
		rawToken(hdr(map[string]any{"alg": "HS256", "kid": kid1}), payload, hs256(mustJSON(jwkEntry(&k1.PublicKey, kid1, "RS256", "sig")))),
		signJWX(tb, k1, jwa.RS384, kid1, base, nil),
		signJWX(tb, k1, jwa.PS256, kid1, base, nil),
		sign(tb, k2, kid1, base),
		parts[0] + "." + parts[1] + "." + string(flipped),
		parts[0] + "." + b64(mustJSON(with(base, "sub", "user_ADMIN"))) + "." + parts[2],
		sign(tb, k1, kid1, with(base, "exp", t0.Add(-time.Hour).Unix())),
		sign(tb, k1, kid1, with(base, "exp", nil)),
		sign(tb, k1, kid1, with(base, "exp", "soon")),
		sign(tb, k1, kid1, with(base, "nbf", t0.Add(10*time.Minute).Unix())),
		sign(tb, k1, kid1, with(base, "iat", t0.Add(10*time.Minute).Unix())),
		sign(tb, k1, kid1, with(base, "iss", testIssuer+"/")),
		sign(tb, k1, kid1, with(base, "sid", nil)),
		rawToken(hdr(map[string]any{"alg": "RS256", "kid": "../../../../dev/null"}), payload, rs256(k1)),
		rawToken(hdr(map[string]any{"alg": "RS256", "kid": "a\x00b"}), payload, rs256(k1)),
		rawToken(hdr(map[string]any{"alg": "RS256", "kid": kid1, "jwk": jwkEntry(&k2.PublicKey, kid1, "RS256", "sig")}), payload, rs256(k2)),
		`{"payload":"` + b64(payload) + `","signatures":[{"protected":"` + b64(k1h) + `","signature":"AAAA"}]}`,
		`{"payload":"a.b","signature":"c.d"}`,
		b64(hdr(map[string]any{"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": 1 << 31, "zip": "DEF"})) + ".AAAA.AAAA.AAAA.AAAA",
		strings.Repeat(".", 9000),
		strings.Repeat("A", 9000),
		parts[0] + "." + parts[1] + "\xff." + parts[2],
		parts[0] + "==." + parts[1] + "." + parts[2],
		rawToken(k1h, []byte(`[1,2]`), rs256(k1)),
		rawToken(hdr(map[string]any{"alg": "RS256", "kid": kid1, "crit": []string{"b64"}, "b64": false}), payload, rs256(k1)),
		"",
		".",
		"..",
	}
	return valid, attacks
}

func FuzzVerifyJWT(f *testing.F) {
	e := newEnv(f, func(c *Config) { c.MinRefetchInterval = time.Hour }).ready(f)
	valid, attacks := verifySeeds(f, e)
	accept := map[string]bool{}
	for _, tok := range valid {
		accept[tok] = true
		f.Add(tok)
	}
	for _, tok := range attacks {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		start := time.Now()
		c, err := e.v.Verify(bg, tok)
		if d := time.Since(start); d > time.Second { // an unknown kid may fetch the JWKS once
			t.Errorf("Verify took %v on a %d-byte input", d, len(tok))
		}
		if err == nil {
			if c == nil || !accept[tok] {
				t.Fatalf("accepted a token that is not a valid seed: %q", tok)
			}
			return
		}
		if c != nil {
			t.Fatal("claims returned with an error")
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refusal is not an invalid-token error: %v", err)
		}
		if len(tok) >= 16 && strings.Contains(err.Error(), tok) {
			t.Fatal("error contains the token")
		}
	})
}

func FuzzJWKSUpdate(f *testing.F) {
	k1, k2, _, short := keys(f)
	goodBody := jwksBody(jwkEntry(&k1.PublicKey, kid1, "RS256", "sig"))
	v, err := New(Config{JWKSURL: "http://127.0.0.1:1/jwks", Issuers: []string{testIssuer}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	if err := v.applyJWKS(goodBody); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		goodBody,
		jwksBody(jwkEntry(&k1.PublicKey, kid1, "RS256", "sig"), jwkEntry(&k2.PublicKey, kid2, "RS256", "")),
		jwksBody(),
		[]byte(`{}`),
		[]byte(`{"keys":null}`),
		[]byte(`{"keys":{}}`),
		[]byte(`[]`),
		[]byte(`null`),
		[]byte(`{"keys":[{`),
		[]byte(`<html>`),
		jwksBody(jwkEntry(&k2.PublicKey, kid2, "", "sig")),
		jwksBody(jwkEntry(&k2.PublicKey, kid2, "RS256", "enc")),
		jwksBody(jwkEntry(&short.PublicKey, kid2, "RS256", "sig")),
		jwksBody(jwkEntry(&k2.PublicKey, "", "RS256", "sig")),
		jwksBody(map[string]any{"kty": "oct", "kid": kid2, "alg": "HS256", "k": "c2VjcmV0"}),
		jwksBody(map[string]any{"kty": "RSA", "kid": kid2, "alg": "RS256", "n": "AQAB", "e": "AQAB"}),
		jwksBody(map[string]any{"kty": "RSA", "kid": kid2, "alg": "RS256", "n": strings.Repeat("_", 3000), "e": "AQAB"}),
		jwksBody(with(jwkEntry(&k2.PublicKey, kid2, "RS256", "sig"), "e", "AAAAAAAAAAAAAAAAAAAAAQ")),
		jwksBody(with(jwkEntry(&k2.PublicKey, kid2, "RS256", "sig"), "d", "AQAB")),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := v.keys.Load()
		err := v.applyJWKS(body)
		after := v.keys.Load()
		if err != nil {
			if after != before {
				t.Fatal("a failed update replaced the key set")
			}
			return
		}
		if len(after.keys) == 0 {
			t.Fatal("an update installed a set with no usable key")
		}
		for kid, k := range after.keys {
			if kid == "" || k == nil || k.N.BitLen() < minRSABits || k.N.BitLen() > maxRSABits || k.E < 3 || k.E%2 == 0 {
				t.Fatalf("unusable key %q installed", kid)
			}
		}
	})
}

// token68Ref is the reference grammar: case-insensitive "bearer", one
// space, token68.
var token68Ref = regexp.MustCompile(`^(?i:bearer) [A-Za-z0-9\-._~+/]+=*$`)

func FuzzAuthzHeader(f *testing.F) {
	for _, s := range []string{
		"Bearer abc.def.ghi", "bearer abc", "BEARER abc==", "Bearer", "Bearer ", "Bearer  abc  ",
		"Bearer a b", "Bearer abc\x00", "Basic dTpw", "Token abc", "DPoP abc", "", " ",
		"Bearer\tabc", "Bearer a=b", "Bearer ==", "bEaReR aZ09-._~+/", "Bearer tök",
		"Bearer " + strings.Repeat("a", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, present, err := BearerToken(http.Header{"Authorization": {h}})
		if !present {
			t.Fatal("a present header reported absent")
		}
		want := token68Ref.MatchString(h) && len(h)-len("Bearer ") <= MaxBearerTokenLength
		if (err == nil) != want {
			t.Fatalf("BearerToken(%q) err = %v; reference accepts = %v", h, err, want)
		}
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedScheme) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if tok != h[len("Bearer "):] || !strings.EqualFold(h[:6], "bearer") || h[6] != ' ' {
			t.Fatalf("BearerToken(%q) = %q", h, tok)
		}
		if len(tok) > MaxBearerTokenLength {
			t.Fatalf("token longer than %d", MaxBearerTokenLength)
		}
	})
}
