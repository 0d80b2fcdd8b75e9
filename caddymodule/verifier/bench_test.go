package verifier

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// BenchmarkVerifyFirstSight is the full path: parse, RSA verification,
// claims checks (cache disabled, so every iteration does the work).
func BenchmarkVerifyFirstSight(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.CacheSize = -1 }).ready(b)
	tok := e.valid(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := e.v.Verify(bg, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds the process's CPU time per operation (user+system, from getrusage) as the
// metric cpu-ns/op: unlike ns/op, it does not grow when other processes share the cores. Call
// as defer reportCPU(b)() right before the loop.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyCached is a token seen before.
func BenchmarkVerifyCached(b *testing.B) {
	e := newEnv(b, nil).ready(b)
	tok := e.valid(b)
	if _, err := e.v.Verify(bg, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.v.Verify(bg, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is the cached path under contention.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	e := newEnv(b, nil).ready(b)
	tok := e.valid(b)
	if _, err := e.v.Verify(bg, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.v.Verify(bg, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkJWXParse is the baseline: jwx's own jwt.Parse with the same key
// and validation.
func BenchmarkJWXParse(b *testing.B) {
	e := newEnv(b, nil).ready(b)
	tok := []byte(e.valid(b))
	pub := &e.k1.PublicKey
	clock := jwt.ClockFunc(e.clock.Now)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := jwt.Parse(tok, jwt.WithKey(jwa.RS256, pub), jwt.WithValidate(true),
			jwt.WithClock(clock), jwt.WithIssuer(testIssuer), jwt.WithAcceptableSkew(DefaultSkew)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRefusedNotCompact is a cheap refusal (not a JWS).
func BenchmarkVerifyRefusedNotCompact(b *testing.B) {
	e := newEnv(b, nil).ready(b)
	tok := "not-a-jwt"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.v.Verify(bg, tok); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkBearerToken(b *testing.B) {
	e := newEnv(b, nil)
	h := http.Header{"Authorization": {"Bearer " + e.valid(b)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := BearerToken(h); err != nil {
			b.Fatal(err)
		}
	}
}

// signedDigest splits a compact JWS into the SHA-256 digest of its signing
// input and its raw signature, the two inputs of an RS256 check.
func signedDigest(b *testing.B, tok string) ([sha256.Size]byte, []byte) {
	b.Helper()
	d := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[d+1:])
	if err != nil {
		b.Fatal(err)
	}
	return sha256.Sum256([]byte(tok[:d])), sig
}

// BenchmarkRSAVerifyFloor is crypto/rsa's PKCS #1 v1.5 verification of a
// 2048-bit signature over a precomputed SHA-256 digest, alone: the floor
// under any first-sight verify.
func BenchmarkRSAVerifyFloor(b *testing.B) {
	e := newEnv(b, nil)
	sum, sig := signedDigest(b, e.valid(b))
	pub := &e.k1.PublicKey
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRS256Precomputed is the same check as BenchmarkRSAVerifyFloor
// with the key's Montgomery constants and expected-message prefix
// precomputed, as the verifier keeps them per key.
func BenchmarkRS256Precomputed(b *testing.B) {
	e := newEnv(b, nil)
	sum, sig := signedDigest(b, e.valid(b))
	k := newVerifyKey(&e.k1.PublicKey)
	if k.mod == nil {
		b.Fatal("key not precomputed")
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if !k.verifyPKCS1v15SHA256(sum[:], sig) {
			b.Fatal("refused")
		}
	}
}
