package verifier

import (
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// The tests below pin what the direct verification path (crypto/rsa on the
// raw signing input, one-pass JSON decoding) could get wrong that a JOSE
// library would have caught: every token here is signed with the trusted
// key K1 unless it says otherwise, so only the check under test refuses it.

func TestHeaderEdgeCases(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	payload := mustJSON(claimsAt(t0))
	pubDER, err := x509.MarshalPKIXPublicKey(&e.k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	k1h := `"kid":"` + kid1 + `"`
	cases := []struct {
		name, header string
		signFn       func([]byte) []byte
		reason       string
	}{
		{"alg-none-unsigned", `{"alg":"none",` + k1h + `}`, nil, "unsupported algorithm"},
		{"alg-none-with-rsa-signature", `{"alg":"none",` + k1h + `}`, rs256(e.k1), "unsupported algorithm"},
		{"alg-HS256-pem-public-key-as-secret", `{"alg":"HS256",` + k1h + `}`, hs256(pubPEM), "unsupported algorithm"},
		{"alg-HS256-der-public-key-as-secret", `{"alg":"HS256",` + k1h + `}`, hs256(pubDER), "unsupported algorithm"},
		{"alg-HS256-modulus-as-secret", `{"alg":"HS256",` + k1h + `}`, hs256(e.k1.N.Bytes()), "unsupported algorithm"},
		{"alg-lowercase", `{"alg":"rs256",` + k1h + `}`, rs256(e.k1), "unsupported algorithm"},
		{"alg-not-a-string", `{"alg":["RS256"],` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"alg-null", `{"alg":null,` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"alg-name-in-other-case", `{"ALG":"RS256",` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"alg-escaped-name", `{"\u0061lg":"RS256",` + k1h + `}`, rs256(e.k1), ""},
		{"duplicate-alg-none-last", `{"alg":"RS256","alg":"none",` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"duplicate-alg-rs256-last", `{"alg":"none","alg":"RS256",` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"duplicate-alg-via-escape", `{"alg":"RS256","\u0061lg":"none",` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"duplicate-kid", `{"alg":"RS256",` + k1h + `,"kid":"other"}`, rs256(e.k1), "malformed header"},
		{"crit-empty", `{"alg":"RS256",` + k1h + `,"crit":[]}`, rs256(e.k1), "unsupported critical header"},
		{"crit-null", `{"alg":"RS256",` + k1h + `,"crit":null}`, rs256(e.k1), "unsupported critical header"},
		{"b64-true", `{"alg":"RS256",` + k1h + `,"b64":true}`, rs256(e.k1), "unsupported critical header"},
		{"enc", `{"alg":"RS256",` + k1h + `,"enc":"A128GCM"}`, rs256(e.k1), "unsupported algorithm"},
		{"zip", `{"alg":"RS256",` + k1h + `,"zip":"DEF"}`, rs256(e.k1), "unsupported algorithm"},
		{"trailing-garbage", `{"alg":"RS256",` + k1h + `}x`, rs256(e.k1), "malformed header"},
		{"trailing-second-object", `{"alg":"RS256",` + k1h + `}{}`, rs256(e.k1), "malformed header"},
		{"trailing-comma", `{"alg":"RS256",` + k1h + `,}`, rs256(e.k1), "malformed header"},
		{"byte-order-mark", "\xef\xbb\xbf" + `{"alg":"RS256",` + k1h + `}`, rs256(e.k1), "malformed header"},
		{"kid-not-a-string", `{"alg":"RS256","kid":{"k":1}}`, rs256(e.k1), "malformed header"},
		{"kid-null", `{"alg":"RS256","kid":null}`, rs256(e.k1), "missing key id"},
		{"kid-other-case", `{"alg":"RS256","KID":"` + kid1 + `"}`, rs256(e.k1), "missing key id"},
		{"kid-escaped-equals-real", `{"alg":"RS256","kid":"sso_oidc_key_pair_01K\u0031"}`, rs256(e.k1), ""},
		{"whitespace-around", " \n{ \"alg\" : \"RS256\" , " + k1h + " }\t", rs256(e.k1), ""},
		{"unknown-members-ignored", `{"alg":"RS256",` + k1h + `,"typ":"JWT","x5u":"http://127.0.0.1:1/"}`, rs256(e.k1), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.v.Verify(bg, rawToken([]byte(tc.header), payload, tc.signFn))
			if tc.reason == "" {
				wantValid(t, c, err)
				return
			}
			wantInvalid(t, c, err, tc.reason)
		})
	}
}

func TestClaimsEdgeCases(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	k1h := mustJSON(map[string]any{"alg": "RS256", "kid": kid1})
	exp := t0.Add(5 * time.Minute).Unix()
	expired := t0.Add(-time.Hour).Unix()
	good := `"iss":"` + testIssuer + `","sub":"user_1","sid":"session_1"`
	num := func(n int64) string { return big.NewInt(n).String() }
	cases := []struct{ name, payload, reason string }{
		{"valid", `{` + good + `,"exp":` + num(exp) + `}`, ""},
		{"duplicate-exp-expired-last", `{` + good + `,"exp":` + num(exp) + `,"exp":` + num(expired) + `}`, "malformed claims"},
		{"duplicate-exp-expired-first", `{` + good + `,"exp":` + num(expired) + `,"exp":` + num(exp) + `}`, "malformed claims"},
		{"duplicate-sub", `{` + good + `,"sub":"user_ADMIN","exp":` + num(exp) + `}`, "malformed claims"},
		{"duplicate-iss-via-escape", `{` + good + `,"\u0069ss":"https://evil","exp":` + num(exp) + `}`, "malformed claims"},
		{"exp-name-in-other-case", `{` + good + `,"EXP":` + num(exp) + `}`, "missing exp"},
		{"sub-name-in-other-case", `{"iss":"` + testIssuer + `","Sub":"user_1","sid":"s","exp":` + num(exp) + `}`, "missing sub"},
		{"sid-name-in-other-case", `{"iss":"` + testIssuer + `","sub":"u","SID":"s","exp":` + num(exp) + `}`, "missing sid"},
		{"iss-name-in-other-case", `{"ISS":"` + testIssuer + `","sub":"u","sid":"s","exp":` + num(exp) + `}`, "issuer not accepted"},
		{"exp-string", `{` + good + `,"exp":"` + num(exp) + `"}`, "malformed claims"},
		{"exp-negative", `{` + good + `,"exp":-1}`, "malformed claims"},
		{"exp-huge", `{` + good + `,"exp":1e300}`, "malformed claims"},
		{"exp-fraction", `{` + good + `,"exp":` + num(exp) + `.5}`, ""},
		{"exp-exponent", `{` + good + `,"exp":1.8e9}`, ""},
		{"exp-null", `{` + good + `,"exp":null}`, "missing exp"},
		{"nbf-null", `{` + good + `,"exp":` + num(exp) + `,"nbf":null}`, "malformed claims"},
		{"iat-bool", `{` + good + `,"exp":` + num(exp) + `,"iat":true}`, "malformed claims"},
		{"sub-number", `{"iss":"` + testIssuer + `","sub":1,"sid":"s","exp":` + num(exp) + `}`, "malformed claims"},
		{"sub-null", `{"iss":"` + testIssuer + `","sub":null,"sid":"s","exp":` + num(exp) + `}`, "missing sub"},
		{"permissions-string", `{` + good + `,"exp":` + num(exp) + `,"permissions":"admin"}`, "malformed claims"},
		{"permissions-number-element", `{` + good + `,"exp":` + num(exp) + `,"permissions":["a",1]}`, "malformed claims"},
		{"aud-object", `{` + good + `,"exp":` + num(exp) + `,"aud":{"a":1}}`, "malformed claims"},
		{"trailing-garbage", `{` + good + `,"exp":` + num(exp) + `}]`, "malformed claims"},
		{"trailing-second-object", `{` + good + `,"exp":` + num(exp) + `}{"sub":"user_ADMIN"}`, "malformed claims"},
		{"invalid-utf8-in-ignored-claim", `{` + good + `,"exp":` + num(exp) + `,"name":"` + "\xff" + `"}`, "malformed claims"},
		{"nesting-in-ignored-claim", `{` + good + `,"exp":` + num(exp) + `,"x":` + strings.Repeat(`{"a":[`, 400) + strings.Repeat("]}", 400) + `}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.v.Verify(bg, rawToken(k1h, []byte(tc.payload), rs256(e.k1)))
			if tc.reason == "" {
				wantValid(t, c, err)
				return
			}
			wantInvalid(t, c, err, tc.reason)
		})
	}
	t.Run("null-lists-stay-nil", func(t *testing.T) {
		c, err := e.v.Verify(bg, rawToken(k1h, []byte(`{`+good+`,"exp":`+num(exp)+`,"aud":null,"permissions":null,"org_id":null}`), rs256(e.k1)))
		wantValid(t, c, err)
		if c.Audience != nil || c.Permissions != nil || c.OrganizationID != "" {
			t.Fatalf("claims = %+v; want nil lists and no org", c)
		}
	})
}

func TestSignatureEncodingEdgeCases(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	tok := e.valid(t)
	d := strings.LastIndexByte(tok, '.')
	sig, err := rawURL.DecodeString(tok[d+1:])
	if err != nil {
		t.Fatal(err)
	}
	input := tok[:d+1]
	n := new(big.Int).SetBytes(sig)
	plusN := new(big.Int).Add(n, e.k1.N).Bytes() // the same value mod N, one byte longer
	cases := map[string]string{
		"padded":                 input + tok[d+1:] + "==",
		"std-alphabet":           input + strings.NewReplacer("-", "+", "_", "/").Replace(tok[d+1:]) + "+",
		"leading-zero-added":     input + b64(append([]byte{0}, sig...)),
		"leading-byte-dropped":   input + b64(sig[1:]),
		"trailing-byte-added":    input + b64(append(append([]byte(nil), sig...), 0)),
		"signature-plus-modulus": input + b64(plusN),
		"signature-zero":         input + b64(make([]byte, len(sig))),
		"signature-one":          input + b64(append(make([]byte, len(sig)-1), 1)),
		"signature-too-long":     input + strings.Repeat("A", maxSignatureSegment+4),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := e.v.Verify(bg, bad)
			wantInvalid(t, c, err, "")
		})
	}
	t.Run("original-still-valid", func(t *testing.T) {
		c, err := e.v.Verify(bg, tok)
		wantValid(t, c, err)
	})
}

// FuzzVerifyAgainstJWX compares the verifier with jwx's jwt.Parse given the
// same key, clock, issuer and leeway: whatever the verifier accepts, jwx
// must accept too, with the same subject, session and expiry. (The other
// direction does not hold by design: the verifier also requires sid, a
// canonical encoding and a kid, and refuses crit and duplicate names.)
func FuzzVerifyAgainstJWX(f *testing.F) {
	e := newEnv(f, func(c *Config) { c.MinRefetchInterval = time.Hour; c.CacheSize = -1 }).ready(f)
	valid, attacks := verifySeeds(f, e)
	for _, tok := range append(valid, attacks...) {
		f.Add(tok)
	}
	pub := &e.k1.PublicKey
	clock := jwt.ClockFunc(e.clock.Now)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := e.v.Verify(bg, tok)
		if err != nil {
			return
		}
		jt, jerr := jwt.Parse([]byte(tok), jwt.WithKey(jwa.RS256, pub), jwt.WithValidate(true), jwt.WithClock(clock),
			jwt.WithAcceptableSkew(DefaultSkew))
		if jerr != nil {
			t.Fatalf("verifier accepted a token jwx refuses (%v): %q", jerr, tok)
		}
		sid, _ := jt.Get("sid")
		if jt.Subject() != c.Subject || sid != c.SessionID || !jt.Expiration().Equal(c.Expiry.Truncate(time.Second)) {
			t.Fatalf("claims differ: verifier %+v, jwx sub=%q sid=%v exp=%v", c, jt.Subject(), sid, jt.Expiration())
		}
	})
}

// TestHeaderCache: a header segment seen before is answered from memory, but only one that
// passed every check, and the cache stays bounded.
func TestHeaderCache(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheSize = -1 }).ready(t)
	payload := mustJSON(claimsAt(t0))
	bad := rawToken([]byte(`{"alg":"none","kid":"`+kid1+`"}`), payload, rs256(e.k1))
	for i := 0; i < 3; i++ {
		c, err := e.v.Verify(bg, bad)
		wantInvalid(t, c, err, "unsupported algorithm")
	}
	if n := len(e.v.headers.kids); n != 0 {
		t.Fatalf("%d refused headers cached; want none", n)
	}
	for i := 0; i < 3*maxCachedHeaders; i++ {
		hdr := mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "n": i})
		tok := rawToken(hdr, payload, rs256(e.k1))
		for j := 0; j < 2; j++ { // the second time from the cache
			c, err := e.v.Verify(bg, tok)
			wantValid(t, c, err)
		}
		if n := len(e.v.headers.kids); n > maxCachedHeaders {
			t.Fatalf("header cache holds %d entries; want at most %d", n, maxCachedHeaders)
		}
	}
	// A cached header does not vouch for anything after it.
	good := rawToken([]byte(`{"alg":"RS256","kid":"`+kid1+`"}`), payload, rs256(e.k1))
	c, err := e.v.Verify(bg, good)
	wantValid(t, c, err)
	parts := strings.Split(good, ".")
	c, err = e.v.Verify(bg, parts[0]+"."+parts[1]+"."+b64(make([]byte, 256)))
	wantInvalid(t, c, err, "invalid signature")
	c, err = e.v.Verify(bg, rawToken([]byte(`{"alg":"RS256","kid":"`+kid1+`"}`), mustJSON(with(claimsAt(t0), "sid", nil)), rs256(e.k1)))
	wantInvalid(t, c, err, "missing sid")
}

// TestHeaderCacheKeepsOnlyTheHeader: a cached header segment does not pin the token it came
// from: a bearer token, valid or not, is not held in memory for as long as its header is cached.
func TestHeaderCacheKeepsOnlyTheHeader(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheSize = -1 }).ready(t)
	tok := rawToken([]byte(`{"alg":"RS256","kid":"`+kid1+`"}`), mustJSON(claimsAt(t0)), rs256(e.k1))
	c, err := e.v.Verify(bg, tok)
	wantValid(t, c, err)
	if len(e.v.headers.kids) != 1 {
		t.Fatalf("header cache holds %d entries; want 1", len(e.v.headers.kids))
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(tok)))
	for seg := range e.v.headers.kids {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(seg))); p >= start && p < start+uintptr(len(tok)) {
			t.Fatal("the header cache key shares the token's memory, keeping the whole token alive")
		}
	}
}
