package verifier

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// randomKIDToken is a token whose header names kid; its signature is junk,
// which does not matter because the kid lookup comes first.
func randomKIDToken(kid string) string {
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	return rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": kid}), mustJSON(claimsAt(t0)), func([]byte) []byte { return sig })
}

func TestUnknownKIDStorm(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MinRefetchInterval = time.Hour }).ready(t)
	if h := e.srv.hits.Load(); h != 1 {
		t.Fatalf("hits after ready = %d", h)
	}
	valid := e.valid(t)
	t.Run("B16/200-concurrent-random-kids", func(t *testing.T) {
		e.srv.setDelay(time.Second) // make the storm overlap the fetch
		defer e.srv.setDelay(0)
		toks := make([]string, 200)
		for i := range toks {
			toks[i] = randomKIDToken(fmt.Sprintf("kid-%d-%d", i, time.Now().UnixNano()))
		}
		var wg sync.WaitGroup
		var accepted, other atomic.Int64
		start := make(chan struct{})
		for _, tok := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := e.v.Verify(bg, tok)
				var ite *InvalidTokenError
				switch {
				case err == nil:
					accepted.Add(1)
				case !errors.As(err, &ite) || ite.Reason() != "unknown signing key":
					other.Add(1)
				}
			}()
		}
		// Valid-kid traffic is not blocked while the refetch is slow.
		close(start)
		t0wall := time.Now()
		c, err := e.v.Verify(bg, valid)
		wantValid(t, c, err)
		if d := time.Since(t0wall); d > 500*time.Millisecond {
			t.Errorf("valid token waited %v during the storm", d)
		}
		wg.Wait()
		if accepted.Load() != 0 || other.Load() != 0 {
			t.Fatalf("accepted %d, other errors %d; want all refused as unknown", accepted.Load(), other.Load())
		}
		if h := e.srv.hits.Load(); h > 2 {
			t.Fatalf("JWKS hits = %d; want at most 1 refetch per interval", h)
		}
	})
	t.Run("B16/sequential-storm-after-refetch-is-rate-limited", func(t *testing.T) {
		before := e.srv.hits.Load()
		for i := range 200 {
			_, err := e.v.Verify(bg, randomKIDToken(fmt.Sprintf("seq-%d", i)))
			wantInvalid(t, nil, err, "unknown signing key")
		}
		if h := e.srv.hits.Load(); h != before {
			t.Fatalf("JWKS hits went %d → %d within the interval", before, h)
		}
	})
	t.Run("B16/next-interval-allows-one-more", func(t *testing.T) {
		before := e.srv.hits.Load()
		e.clock.Advance(time.Hour + time.Second)
		for i := range 50 {
			_, err := e.v.Verify(bg, randomKIDToken(fmt.Sprintf("next-%d", i)))
			wantInvalid(t, nil, err, "unknown signing key")
		}
		if h := e.srv.hits.Load(); h != before+1 {
			t.Fatalf("JWKS hits went %d → %d; want exactly one more", before, h)
		}
	})
	t.Run("B16/clock-going-backwards-does-not-block-forever", func(t *testing.T) {
		before := e.srv.hits.Load()
		e.clock.Advance(-48 * time.Hour)
		_, err := e.v.Verify(bg, randomKIDToken("back"))
		wantInvalid(t, nil, err, "unknown signing key")
		if h := e.srv.hits.Load(); h != before+1 {
			t.Fatalf("hits %d → %d", before, h)
		}
	})
}

func TestRotation(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	k1e := jwkEntry(&e.k1.PublicKey, kid1, "RS256", "sig")
	k3e := jwkEntry(&e.k3.PublicKey, kid3, "RS256", "sig")
	t.Run("B17/new-kid-valid-after-one-refetch", func(t *testing.T) {
		e.srv.set(jwksBody(k1e, k3e), http.StatusOK)
		before := e.srv.hits.Load()
		c, err := e.v.Verify(bg, sign(t, e.k3, kid3, claimsAt(t0)))
		wantValid(t, c, err)
		if h := e.srv.hits.Load(); h != before+1 {
			t.Fatalf("hits %d → %d; want one refetch", before, h)
		}
		// K1 still works without another fetch.
		c, err = e.v.Verify(bg, e.valid(t))
		wantValid(t, c, err)
		if h := e.srv.hits.Load(); h != before+1 {
			t.Fatalf("extra fetch for a known kid")
		}
	})
	t.Run("B17/retired-key-dropped-with-its-cached-tokens", func(t *testing.T) {
		tok := e.valid(t)
		c, err := e.v.Verify(bg, tok) // cached now
		wantValid(t, c, err)
		e.srv.set(jwksBody(k3e), http.StatusOK)
		if err := e.v.Refresh(bg); err != nil {
			t.Fatal(err)
		}
		c, err = e.v.Verify(bg, tok)
		wantInvalid(t, c, err, "unknown signing key")
		if s := e.v.Stats(); s.Keys != 1 {
			t.Fatalf("keys = %d", s.Keys)
		}
	})
}

func TestJWKSFailuresKeepKeys(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	tok := e.valid(t)
	for name, set := range map[string]func(){
		"B18/status-500":      func() { e.srv.set([]byte(`{"error":"boom"}`), 500) },
		"B18/garbage-json":    func() { e.srv.set([]byte(`{"keys":[{`), 200) },
		"B18/html":            func() { e.srv.set([]byte(`<html>oops</html>`), 200) },
		"B18/empty-body":      func() { e.srv.set(nil, 200) },
		"B18/keys-not-a-list": func() { e.srv.set([]byte(`{"keys":{}}`), 200) },
		"B18/status-304":      func() { e.srv.set(jwksBody(), 304) },
	} {
		t.Run(name, func(t *testing.T) {
			set()
			errsBefore := e.v.Stats().FetchErrors
			if err := e.v.Refresh(bg); err == nil {
				t.Fatal("refresh succeeded")
			}
			s := e.v.Stats()
			if s.Keys != 1 || s.FetchErrors != errsBefore+1 {
				t.Fatalf("stats = %+v", s)
			}
			c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "jti", name)))
			wantValid(t, c, err)
		})
	}
	t.Run("B18/hang-cached-kid-does-not-wait", func(t *testing.T) {
		e.srv.setHang(true)
		done := make(chan error, 1)
		go func() { done <- e.v.Refresh(bg) }()
		start := time.Now()
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "jti", "hang")))
		wantValid(t, c, err)
		c, err = e.v.Verify(bg, tok)
		wantValid(t, c, err)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("verify waited %v on a hanging JWKS", d)
		}
		if err := <-done; err == nil {
			t.Fatal("hanging refresh reported success")
		}
		if e.v.Stats().Keys != 1 {
			t.Fatal("keys dropped")
		}
	})
}

func TestColdStart(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.set([]byte("down"), http.StatusServiceUnavailable)
	tok := e.valid(t)
	t.Run("B19/no-keys-is-ErrNoKeys", func(t *testing.T) {
		c, err := e.v.Verify(bg, tok)
		if c != nil || !errors.Is(err, ErrNoKeys) || errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify = %v, %v; want ErrNoKeys", c, err)
		}
		if h := e.srv.hits.Load(); h != 1 {
			t.Fatalf("hits = %d; want the one on-demand fetch", h)
		}
		// Within the interval: no new fetch, still ErrNoKeys.
		_, err = e.v.Verify(bg, tok)
		if !errors.Is(err, ErrNoKeys) || e.srv.hits.Load() != 1 {
			t.Fatalf("err = %v, hits = %d", err, e.srv.hits.Load())
		}
	})
	t.Run("B19/recovers-without-restart", func(t *testing.T) {
		e.srv.set(jwksBody(jwkEntry(&e.k1.PublicKey, kid1, "RS256", "")), http.StatusOK)
		e.clock.Advance(11 * time.Second)
		c, err := e.v.Verify(bg, sign(t, e.k1, kid1, claimsAt(e.clock.Now())))
		wantValid(t, c, err)
	})
	t.Run("B19/start-loop-retries-with-backoff", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MinRefetchInterval = time.Millisecond })
		e.srv.set([]byte("down"), http.StatusServiceUnavailable)
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		e.v.Start(ctx)
		e.v.Start(ctx) // second call is a no-op
		waitFor(t, 2*time.Second, func() bool { return e.v.Stats().FetchErrors >= 1 })
		e.srv.set(jwksBody(jwkEntry(&e.k1.PublicKey, kid1, "RS256", "sig")), http.StatusOK)
		waitFor(t, 5*time.Second, func() bool { return e.v.Stats().Keys == 1 })
		c, err := e.v.Verify(bg, e.valid(t))
		wantValid(t, c, err)
	})
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadKeySetsDoNotReplaceGood(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	k3 := &e.k3.PublicKey
	privJWK, err := jwk.FromRaw(e.k3)
	if err != nil {
		t.Fatal(err)
	}
	_ = privJWK.Set(jwk.KeyIDKey, kid3)
	_ = privJWK.Set(jwk.AlgorithmKey, jwa.RS256)
	privMap := map[string]any{}
	if err := jsonRoundTrip(privJWK, &privMap); err != nil {
		t.Fatal(err)
	}
	ecJWK := map[string]any{"kty": "EC", "crv": "P-256", "kid": kid3, "alg": "ES256",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRjm8P2pDVLXD1xTk-Gl3xuaWgqQ9DCxw2u6k7s"}
	cases := map[string][]byte{
		"B20/empty-set":          jwksBody(),
		"B20/no-keys-member":     []byte(`{}`),
		"B20/key-without-alg":    jwksBody(jwkEntry(k3, kid3, "", "sig")),
		"B20/key-use-enc":        jwksBody(jwkEntry(k3, kid3, "RS256", "enc")),
		"B20/key-rsa-1024":       jwksBody(jwkEntry(&e.short.PublicKey, kid3, "RS256", "sig")),
		"B20/key-without-kid":    jwksBody(jwkEntry(k3, "", "RS256", "sig")),
		"B20/key-alg-RS384":      jwksBody(jwkEntry(k3, kid3, "RS384", "sig")),
		"B20/key-alg-HS256":      jwksBody(jwkEntry(k3, kid3, "HS256", "sig")),
		"B20/oct-key":            jwksBody(map[string]any{"kty": "oct", "kid": kid3, "alg": "HS256", "k": "c2VjcmV0"}),
		"B20/ec-key":             jwksBody(ecJWK),
		"B20/private-key":        jwksBody(privMap),
		"B20/key-ops-sign-only":  jwksBody(with(jwkEntry(k3, kid3, "RS256", "sig"), "key_ops", []string{"sign"})),
		"B20/exponent-even":      jwksBody(with(jwkEntry(k3, kid3, "RS256", "sig"), "e", "Ag")),
		"B20/duplicate-kid-only": jwksBody(jwkEntry(k3, kid3, "RS256", "sig"), jwkEntry(&e.k2.PublicKey, kid3, "RS256", "sig")),
		"B20/unknown-kty":        jwksBody(map[string]any{"kty": "XYZ", "kid": kid3, "alg": "RS256"}),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			before := e.v.keys.Load()
			e.srv.set(body, http.StatusOK)
			if err := e.v.Refresh(bg); err == nil {
				t.Fatal("refresh with no usable key succeeded")
			}
			if e.v.keys.Load() != before || e.v.Stats().Keys != 1 {
				t.Fatal("good key set replaced")
			}
			c, err := e.v.Verify(bg, sign(t, e.k1, kid1, with(claimsAt(t0), "jti", name)))
			wantValid(t, c, err)
			c, err = e.v.Verify(bg, sign(t, e.k3, kid3, claimsAt(t0)))
			if err == nil || c != nil {
				t.Fatal("key from a rejected set was trusted")
			}
		})
	}
	t.Run("B20/mixed-set-keeps-only-usable-keys", func(t *testing.T) {
		e.srv.set(jwksBody(
			jwkEntry(k3, kid3, "RS256", ""),
			jwkEntry(&e.k2.PublicKey, kid2, "RS256", "enc"),
			map[string]any{"kty": "XYZ"},
		), http.StatusOK)
		if err := e.v.Refresh(bg); err != nil {
			t.Fatal(err)
		}
		if s := e.v.Stats(); s.Keys != 1 {
			t.Fatalf("keys = %d; want only K3", s.Keys)
		}
		c, err := e.v.Verify(bg, sign(t, e.k3, kid3, claimsAt(t0)))
		wantValid(t, c, err)
		c, err = e.v.Verify(bg, sign(t, e.k2, kid2, claimsAt(t0)))
		wantInvalid(t, c, err, "unknown signing key")
	})
}

func jsonRoundTrip(in, out any) error {
	return json.Unmarshal(mustJSON(in), out)
}

func TestHeaderKeysNeverFetched(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	var trapHits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapHits.Add(1)
		_, _ = w.Write(jwksBody(jwkEntry(&e.k2.PublicKey, kid1, "RS256", "sig")))
	}))
	defer trap.Close()

	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &e.k2.PublicKey, e.k2)
	if err != nil {
		t.Fatal(err)
	}
	k2jwk := jwkEntry(&e.k2.PublicKey, kid1, "RS256", "sig")
	for name, extra := range map[string]map[string]any{
		"B22/jku":          {"jku": trap.URL + "/jwks"},
		"B22/x5u":          {"x5u": trap.URL + "/cert.pem"},
		"B22/embedded-jwk": {"jwk": k2jwk},
		"B22/x5c":          {"x5c": []string{base64.StdEncoding.EncodeToString(der)}},
	} {
		t.Run(name, func(t *testing.T) {
			// Signed by the attacker's K2, claiming K1's kid.
			tok := rawToken(mustJSON(with(map[string]any{"alg": "RS256", "kid": kid1}, flatten(extra)...)), mustJSON(claimsAt(t0)), rs256(e.k2))
			c, err := e.v.Verify(bg, tok)
			wantInvalid(t, c, err, "invalid signature")
			// With an unknown kid: one JWKS refetch at most, never the header URL.
			tok = rawToken(mustJSON(with(map[string]any{"alg": "RS256", "kid": "attacker"}, flatten(extra)...)), mustJSON(claimsAt(t0)), rs256(e.k2))
			c, err = e.v.Verify(bg, tok)
			wantInvalid(t, c, err, "unknown signing key")
			// Without a kid: refused before any key is looked at.
			tok = rawToken(mustJSON(with(map[string]any{"alg": "RS256"}, flatten(extra)...)), mustJSON(claimsAt(t0)), rs256(e.k2))
			c, err = e.v.Verify(bg, tok)
			wantInvalid(t, c, err, "missing key id")
		})
	}
	t.Run("B22/jku-on-a-K1-token-is-ignored", func(t *testing.T) {
		tok := rawToken(mustJSON(map[string]any{"alg": "RS256", "kid": kid1, "jku": trap.URL}), mustJSON(claimsAt(t0)), rs256(e.k1))
		c, err := e.v.Verify(bg, tok)
		wantValid(t, c, err)
	})
	if n := trapHits.Load(); n != 0 {
		t.Fatalf("trap listener hit %d times", n)
	}
}

func flatten(m map[string]any) []any {
	var out []any
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

func TestFetchPolicy(t *testing.T) {
	k1, _, _, _ := keys(t)
	good := jwksBody(jwkEntry(&k1.PublicKey, kid1, "RS256", "sig"))
	t.Run("redirect-not-followed", func(t *testing.T) {
		target := newJWKSServer(t, good)
		redir := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
		defer redir.Close()
		custom := &http.Client{Timeout: time.Second}
		for _, client := range []*http.Client{nil, custom} {
			v, err := New(Config{JWKSURL: redir.URL, Issuers: []string{testIssuer}, HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Refresh(bg); err == nil {
				t.Fatal("redirected fetch succeeded")
			}
			v.Close()
		}
		if custom.CheckRedirect != nil {
			t.Fatal("caller's client was modified")
		}
		if n := target.hits.Load(); n != 0 {
			t.Fatalf("redirect target hit %d times", n)
		}
	})
	t.Run("body-size-capped", func(t *testing.T) {
		big := []byte(`{"keys":[` + strings.Repeat(" ", 4096) + string(good[len(`{"keys":[`):]))
		e := newEnv(t, func(c *Config) { c.MaxJWKSSize = 2048 })
		e.srv.set(big, http.StatusOK)
		if err := e.v.Refresh(bg); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err = %v", err)
		}
		e.srv.set(good, http.StatusOK)
		if err := e.v.Refresh(bg); err != nil {
			t.Fatalf("small body: %v", err)
		}
	})
	t.Run("fetch-timeout", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.FetchTimeout = 100 * time.Millisecond })
		e.srv.setHang(true)
		start := time.Now()
		if err := e.v.Refresh(bg); err == nil {
			t.Fatal("hanging fetch succeeded")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("fetch took %v", d)
		}
	})
	t.Run("concurrent-refresh-is-single-flight", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.setDelay(100 * time.Millisecond)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.v.Refresh(bg); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if h := e.srv.hits.Load(); h > 2 {
			t.Fatalf("20 concurrent refreshes made %d fetches", h)
		}
	})
	t.Run("periodic-refresh-and-close", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.RefreshInterval = 30 * time.Millisecond })
		e.v.Start(bg)
		waitFor(t, 3*time.Second, func() bool { return e.srv.hits.Load() >= 3 })
		e.v.Close()
		// Fetches the verifier started, not requests the server saw: a request already
		// sent when Close cancelled it may still reach the handler afterwards.
		h := e.v.Stats().Fetches
		time.Sleep(100 * time.Millisecond)
		if e.v.Stats().Fetches != h {
			t.Fatal("refresh continued after Close")
		}
		if err := e.v.Refresh(bg); err == nil {
			t.Fatal("refresh after Close succeeded")
		}
		e.v.Close() // idempotent
	})
	t.Run("start-stops-with-its-context", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.RefreshInterval = 20 * time.Millisecond })
		ctx, cancel := context.WithCancel(bg)
		e.v.Start(ctx)
		waitFor(t, 3*time.Second, func() bool { return e.srv.hits.Load() >= 2 })
		cancel()
		time.Sleep(50 * time.Millisecond) // a timer that fired with the cancel may start one more
		h := e.v.Stats().Fetches
		time.Sleep(100 * time.Millisecond)
		if e.v.Stats().Fetches != h {
			t.Fatal("refresh continued after its context ended")
		}
	})
}

// Logs carry fetch problems but never a token.
func TestLogsNeverContainTokens(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := newEnv(t, func(c *Config) { c.Logger = zap.New(core) }).ready(t)
	toks := []string{e.valid(t), sign(t, e.k2, kid1, claimsAt(t0)), randomKIDToken("nope")}
	e.srv.set([]byte("garbage"), http.StatusOK)
	e.clock.Advance(time.Minute)
	for _, tok := range toks {
		_, _ = e.v.Verify(bg, tok)
	}
	_ = e.v.Refresh(bg)
	warned := false
	for _, entry := range logs.All() {
		text := entry.Message + fmt.Sprint(entry.ContextMap())
		for _, tok := range toks {
			for _, part := range strings.Split(tok, ".") {
				if strings.Contains(text, part) {
					t.Fatalf("log entry contains a token part: %q", text)
				}
			}
		}
		if entry.Level == zapcore.WarnLevel {
			warned = true
		}
	}
	if !warned {
		t.Fatal("fetch failure not logged at Warn")
	}
}

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		base, ceil time.Duration
		n          int
		want       time.Duration
	}{
		{10 * time.Second, time.Hour, 1, 10 * time.Second},
		{10 * time.Second, time.Hour, 3, 40 * time.Second},
		{10 * time.Second, time.Hour, 100, time.Hour},
		{time.Millisecond, time.Hour, 1, time.Second},
		{time.Second, 500 * time.Millisecond, 1, 500 * time.Millisecond},
	} {
		if got := retryDelay(tc.base, tc.ceil, tc.n); got != tc.want {
			t.Errorf("retryDelay(%v, %v, %d) = %v; want %v", tc.base, tc.ceil, tc.n, got, tc.want)
		}
	}
}
