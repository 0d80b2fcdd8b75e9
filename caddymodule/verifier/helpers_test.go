package verifier

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testIssuer  = "https://api.workos.com/user_management/client_01TEST"
	testIssuer2 = "https://auth.example.com"
	kid1        = "sso_oidc_key_pair_01K1"
	kid2        = "sso_oidc_key_pair_01K2"
	kid3        = "sso_oidc_key_pair_01K3"
)

// Fixture keys: K1 is in the JWKS, K2 is the attacker's, K3 arrives by
// rotation, K1024 is too short to be trusted. Generated once per run.
var (
	fixtureOnce                  sync.Once
	keyK1, keyK2, keyK3, key1024 *rsa.PrivateKey
)

func keys(tb testing.TB) (k1, k2, k3, short *rsa.PrivateKey) {
	tb.Helper()
	fixtureOnce.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		keyK1, keyK2, keyK3, key1024 = gen(2048), gen(2048), gen(2048), gen(1024)
	})
	return keyK1, keyK2, keyK3, key1024
}

// jwkEntry is a JWKS entry built by hand, so that tests can leave out or
// spoil any member.
func jwkEntry(pub *rsa.PublicKey, kid, alg, use string) map[string]any {
	m := map[string]any{
		"kty": "RSA",
		"n":   b64(pub.N.Bytes()),
		"e":   b64(big.NewInt(int64(pub.E)).Bytes()),
	}
	if kid != "" {
		m["kid"] = kid
	}
	if alg != "" {
		m["alg"] = alg
	}
	if use != "" {
		m["use"] = use
	}
	return m
}

// jwksBody returns {"keys":[entries…]}.
func jwksBody(entries ...map[string]any) []byte {
	if entries == nil {
		entries = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": entries})
	if err != nil {
		panic(err)
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// jwksServer is a fake JWKS endpoint whose answer can be swapped and whose
// hits are counted.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu      sync.Mutex
	body    []byte
	status  int
	hang    bool
	delay   time.Duration
	release chan struct{} // closed by close(), ends hanging handlers
}

func newJWKSServer(tb testing.TB, body []byte) *jwksServer {
	tb.Helper()
	s := &jwksServer{body: body, status: http.StatusOK, release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, hang, delay := s.body, s.status, s.hang, s.delay
		s.mu.Unlock()
		if hang {
			select {
			case <-r.Context().Done():
				panic(http.ErrAbortHandler) // hung: never answer, not even an empty 200
			case <-s.release:
			}
			return
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				panic(http.ErrAbortHandler)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	tb.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status, s.hang = body, status, false
	s.mu.Unlock()
}

func (s *jwksServer) setHang(h bool) {
	s.mu.Lock()
	s.hang = h
	s.mu.Unlock()
}

func (s *jwksServer) setDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// fakeClock is an injectable clock.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// t0 is the fixed test time.
var t0 = time.Unix(1757144304, 0)

// claimsAt returns a valid WorkOS-shaped claim set issued at now.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss":         testIssuer,
		"sub":         "user_01K4TEST",
		"sid":         "session_01K4TEST",
		"jti":         "01K4JTI",
		"org_id":      "org_01K4TEST",
		"role":        "member",
		"permissions": []string{"apps:read", "apps:write"},
		"iat":         now.Unix(),
		"exp":         now.Add(300 * time.Second).Unix(),
	}
}

// with returns a copy of m with the changes applied; a nil value deletes.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// signJWX signs claims with jwx (RS256 unless alg says otherwise) and the
// given extra protected headers; like WorkOS, there is no typ.
func signJWX(tb testing.TB, key any, alg jwa.SignatureAlgorithm, kid string, claims any, extra map[string]any) string {
	tb.Helper()
	hdr := jws.NewHeaders()
	if kid != "" {
		if err := hdr.Set("kid", kid); err != nil {
			tb.Fatal(err)
		}
	}
	for k, v := range extra {
		if err := hdr.Set(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	payload := mustJSON(claims)
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

// sign is the common case: RS256 with key and kid.
func sign(tb testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	tb.Helper()
	return signJWX(tb, key, jwa.RS256, kid, claims, nil)
}

// rawToken crafts a token from arbitrary header and payload bytes, signed
// with signFn over the signing input (nil: empty signature).
func rawToken(header, payload []byte, signFn func(input []byte) []byte) string {
	input := b64(header) + "." + b64(payload)
	var sig []byte
	if signFn != nil {
		sig = signFn([]byte(input))
	}
	return input + "." + b64(sig)
}

func rs256(key *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// testEnv is a verifier wired to a fake JWKS holding K1, with a fake clock.
type testEnv struct {
	v     *Verifier
	srv   *jwksServer
	clock *fakeClock
	k1    *rsa.PrivateKey
	k2    *rsa.PrivateKey
	k3    *rsa.PrivateKey
	short *rsa.PrivateKey
}

func newEnv(tb testing.TB, mod func(*Config)) *testEnv {
	tb.Helper()
	k1, k2, k3, short := keys(tb)
	e := &testEnv{k1: k1, k2: k2, k3: k3, short: short, clock: newClock(t0)}
	e.srv = newJWKSServer(tb, jwksBody(jwkEntry(&k1.PublicKey, kid1, "RS256", "sig")))
	cfg := Config{
		JWKSURL:      e.srv.URL + "/sso/jwks/client_01TEST",
		Issuers:      []string{testIssuer, testIssuer2},
		Now:          e.clock.Now,
		FetchTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(v.Close)
	e.v = v
	return e
}

// ready fetches the JWKS once, failing the test on error.
func (e *testEnv) ready(tb testing.TB) *testEnv {
	tb.Helper()
	if err := e.v.Refresh(context.Background()); err != nil {
		tb.Fatalf("initial refresh: %v", err)
	}
	return e
}

// valid returns a valid token signed by K1.
func (e *testEnv) valid(tb testing.TB) string {
	tb.Helper()
	return sign(tb, e.k1, kid1, claimsAt(e.clock.Now()))
}

// wantInvalid asserts err is a refusal, optionally with the given reason.
func wantInvalid(tb testing.TB, c *Claims, err error, reason string) {
	tb.Helper()
	if err == nil || c != nil {
		tb.Fatalf("accepted; want refusal %q", reason)
	}
	var ite *InvalidTokenError
	if !errors.As(err, &ite) || !errors.Is(err, ErrInvalidToken) {
		tb.Fatalf("err = %v; want an InvalidTokenError", err)
	}
	if reason != "" && ite.Reason() != reason {
		tb.Fatalf("reason = %q; want %q", ite.Reason(), reason)
	}
}

func wantValid(tb testing.TB, c *Claims, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("refused: %v", err)
	}
	if c == nil || c.Subject == "" || c.SessionID == "" {
		tb.Fatalf("claims = %+v", c)
	}
}
