package verifier

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"math/big"
	"sync"
	"testing"
)

// diffKey is a key for the differential tests, with its private half so
// that tests can sign properly encoded and deliberately malformed messages.
type diffKey struct {
	name string
	priv *rsa.PrivateKey
	fast *verifyKey
}

var (
	diffKeysOnce sync.Once
	diffKeysList []diffKey
)

// diffKeys returns random keys of 2048, 3072 and 4096 bits with e = 65537
// and e = 3, generated once per run.
func diffKeys(tb testing.TB) []diffKey {
	tb.Helper()
	diffKeysOnce.Do(func() {
		for _, c := range []struct{ bits, count int }{{2048, 2}, {3072, 1}, {4096, 1}} {
			for _, e := range []int{65537, 3} {
				for i := range c.count {
					priv := genKey(c.bits, e)
					diffKeysList = append(diffKeysList, diffKey{
						name: fmt.Sprintf("%d-e%d-%d", c.bits, e, i),
						priv: priv,
						fast: newVerifyKey(&priv.PublicKey),
					})
				}
			}
		}
	})
	if len(diffKeysList) == 0 {
		tb.Fatal("no differential keys")
	}
	return diffKeysList
}

// genKey makes an RSA key with public exponent e (rsa.GenerateKey only
// makes e = 65537): two primes of half the size with p-1 prime to e.
func genKey(bits, e int) *rsa.PrivateKey {
	E := big.NewInt(int64(e))
	one := big.NewInt(1)
	for {
		p, err := rand.Prime(rand.Reader, bits/2)
		if err != nil {
			panic(err)
		}
		q, err := rand.Prime(rand.Reader, bits/2)
		if err != nil {
			panic(err)
		}
		n := new(big.Int).Mul(p, q)
		if p.Cmp(q) == 0 || n.BitLen() != bits {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(E, phi)
		if d == nil {
			continue
		}
		priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
		priv.Precompute()
		if err := priv.Validate(); err != nil {
			panic(err)
		}
		return priv
	}
}

// rawSign is textbook RSA, em^d mod N as k bytes: a valid signature over
// whatever em holds, malformed or not.
func rawSign(priv *rsa.PrivateKey, em []byte) []byte {
	m := new(big.Int).SetBytes(em)
	if m.Cmp(priv.N) >= 0 {
		panic("rawSign: em is not below N")
	}
	// CRT, four times faster than m^d mod N, which the fuzz target feels.
	p, q, pc := priv.Primes[0], priv.Primes[1], &priv.Precomputed
	m1 := new(big.Int).Exp(m, pc.Dp, p)
	m2 := new(big.Int).Exp(m, pc.Dq, q)
	h := m1.Sub(m1, m2)
	h.Mul(h, pc.Qinv).Mod(h, p)
	s := h.Mul(h, q).Add(h, m2)
	return s.FillBytes(make([]byte, priv.Size()))
}

// encodeEM is the RFC 8017 section 9.2 encoding with DigestInfo prefix di
// and hash h, padded to k bytes; with garbage, the padding is shortened
// so that garbage follows the hash and the length stays k.
func encodeEM(k int, di, h, garbage []byte) []byte {
	em := make([]byte, 0, k)
	em = append(em, 0x00, 0x01)
	em = append(em, bytes.Repeat([]byte{0xff}, k-3-len(di)-len(h)-len(garbage))...)
	em = append(em, 0x00)
	em = append(em, di...)
	em = append(em, h...)
	return append(em, garbage...)
}

// checkSame fails unless the precomputed path and crypto/rsa give the same
// verdict on (hashed, sig), and that verdict is want.
func checkSame(t *testing.T, k diffKey, what string, hashed, sig []byte, want bool) {
	t.Helper()
	ref := rsa.VerifyPKCS1v15(&k.priv.PublicKey, crypto.SHA256, hashed, sig) == nil
	got := k.fast.verifyPKCS1v15SHA256(hashed, sig)
	if got != ref {
		t.Fatalf("%s: %s: precomputed says %v, crypto/rsa says %v", k.name, what, got, ref)
	}
	if got != want {
		t.Fatalf("%s: %s: both say %v, want %v", k.name, what, got, want)
	}
}

func TestRS256PrecomputedKeys(t *testing.T) {
	for _, k := range diffKeys(t) {
		if k.fast.mod == nil {
			t.Fatalf("%s: key not precomputed", k.name)
		}
	}
	_, _, _, short := keys(t)
	// A 1024-bit key is refused by the JWKS filter, but if it got here it
	// is still too long for the encoding not to fit, so it is precomputed
	// and must agree with crypto/rsa.
	for name, pub := range map[string]*rsa.PublicKey{
		"even modulus":      {N: new(big.Int).Lsh(keyK1.N, 1), E: 65537},
		"exponent 2^31+1":   {N: keyK1.N, E: 1<<31 + 1},
		"even exponent":     {N: keyK1.N, E: 65536},
		"exponent one":      {N: keyK1.N, E: 1},
		"too short for DER": {N: big.NewInt(3 * 5 * 7 * 11 * 13), E: 3},
	} {
		vk := newVerifyKey(pub)
		if vk.mod != nil {
			t.Errorf("%s: precomputed, want crypto/rsa's verdict", name)
		}
		sum := sha256.Sum256([]byte("x"))
		sig := make([]byte, pub.Size())
		sig[len(sig)-1] = 2
		if vk.verifyPKCS1v15SHA256(sum[:], sig) {
			t.Errorf("%s: accepted", name)
		}
	}
	if newVerifyKey(&short.PublicKey).mod == nil {
		t.Error("1024-bit key not precomputed")
	}
	// The key set the verifier installs holds the precomputed form, so
	// Verify takes the precomputed path.
	set, _, err := parseJWKS(jwksBody(jwkEntry(&keyK1.PublicKey, kid1, "RS256", "sig")))
	if err != nil || set[kid1] == nil || set[kid1].mod == nil {
		t.Fatalf("parseJWKS did not precompute the key: %v", err)
	}
}

// TestRS256DifferentialValid checks signatures made by crypto/rsa over
// random messages, and the signature value with leading zero bytes.
func TestRS256DifferentialValid(t *testing.T) {
	for _, k := range diffKeys(t) {
		for i := range 8 {
			msg := make([]byte, 1+i*37)
			rand.Read(msg)
			sum := sha256.Sum256(msg)
			sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, k, "valid", sum[:], sig, true)
			// The same EM signed by textbook RSA is the same signature:
			// the test's own encoder matches crypto/rsa's.
			if !bytes.Equal(rawSign(k.priv, encodeEM(k.priv.Size(), sha256DigestInfo, sum[:], nil)), sig) {
				t.Fatalf("%s: encodeEM differs from crypto/rsa", k.name)
			}
			other := sha256.Sum256(append(msg, 0))
			checkSame(t, k, "other message", other[:], sig, false)
		}
	}
	// A signature whose value starts with zero bytes is still k bytes long
	// and valid; without its leading zero it is one byte short.
	k := diffKeys(t)[0]
	found := false
	for i := 0; i < 4096 && !found; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint("leading zero ", i)))
		em := encodeEM(k.priv.Size(), sha256DigestInfo, sum[:], nil)
		sig := rawSign(k.priv, em)
		if sig[0] != 0 {
			continue
		}
		found = true
		checkSame(t, k, "leading zero byte", sum[:], sig, true)
		checkSame(t, k, "leading zero stripped", sum[:], sig[1:], false)
		checkSame(t, k, "extra leading zero", sum[:], append([]byte{0}, sig...), false)
	}
	if !found {
		t.Fatal("no signature with a leading zero byte in 4096 tries")
	}
}

// TestRS256DifferentialBitFlips flips every single bit of a valid
// signature.
func TestRS256DifferentialBitFlips(t *testing.T) {
	for _, k := range diffKeys(t) {
		sum := sha256.Sum256([]byte("bit flips " + k.name))
		sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(sig)
		for i := range len(sig) * 8 {
			bad[i/8] ^= 1 << (i % 8)
			checkSame(t, k, fmt.Sprintf("bit %d flipped", i), sum[:], bad, false)
			bad[i/8] ^= 1 << (i % 8)
		}
		checkSame(t, k, "unflipped", sum[:], bad, true)
	}
}

// TestRS256DifferentialEdges covers signature values at and around 0 and
// N, and signatures one byte short or long.
func TestRS256DifferentialEdges(t *testing.T) {
	for _, k := range diffKeys(t) {
		size := k.priv.Size()
		sum := sha256.Sum256([]byte("edges"))
		n := k.priv.N
		for name, v := range map[string]*big.Int{
			"s=0":   big.NewInt(0),
			"s=1":   big.NewInt(1),
			"s=N-1": new(big.Int).Sub(n, big.NewInt(1)),
			"s=N":   n,
			"s=N+1": new(big.Int).Add(n, big.NewInt(1)),
		} {
			checkSame(t, k, name, sum[:], v.FillBytes(make([]byte, size)), false)
		}
		sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		// s + N is the same value mod N but not below N.
		sN := new(big.Int).Add(new(big.Int).SetBytes(sig), n)
		if sN.BitLen() <= size*8 {
			checkSame(t, k, "s+N", sum[:], sN.FillBytes(make([]byte, size)), false)
		}
		checkSame(t, k, "one byte short", sum[:], sig[:size-1], false)
		checkSame(t, k, "one byte long", sum[:], append(bytes.Clone(sig), 0), false)
		checkSame(t, k, "leading zero added", sum[:], append([]byte{0}, sig...), false)
		checkSame(t, k, "empty", sum[:], nil, false)
		checkSame(t, k, "short digest", sum[:31], sig, false)
	}
}

// TestRS256DifferentialEncodings signs malformed encoded messages with the
// private key, so that s^e mod N is exactly the crafted EM: everything
// but the one exact RS256 encoding must be refused.
func TestRS256DifferentialEncodings(t *testing.T) {
	sha1DI := []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14}
	sha512DI := []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}
	// SHA-256 DigestInfo without the NULL parameters, which some parsers
	// accept as equivalent.
	noNullDI := []byte{0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20}
	msg := []byte("encodings")
	sum := sha256.Sum256(msg)
	s1 := sha1.Sum(msg)
	s512 := sha512.Sum512(msg)
	for _, k := range diffKeys(t) {
		size := k.priv.Size()
		// Other hashes, signed properly by crypto/rsa.
		for _, h := range []struct {
			name string
			hash crypto.Hash
			sum  []byte
		}{{"SHA-1", crypto.SHA1, s1[:]}, {"SHA-512", crypto.SHA512, s512[:]}} {
			sig, err := rsa.SignPKCS1v15(nil, k.priv, h.hash, h.sum)
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, k, h.name+" signature", sum[:], sig, false)
		}
		good := encodeEM(size, sha256DigestInfo, sum[:], nil)
		withByte := func(i int, b byte) []byte { em := bytes.Clone(good); em[i] = b; return em }
		for name, em := range map[string][]byte{
			"SHA-1 DigestInfo, SHA-256-sized hash": encodeEM(size, sha1DI[:len(sha1DI)-1], append([]byte{0x20}, sum[:]...), nil),
			"SHA-512 DigestInfo, hash padded":      encodeEM(size, sha512DI, append(sum[:], sum[:]...), nil),
			"garbage after hash":                   encodeEM(size, sha256DigestInfo, sum[:], bytes.Repeat([]byte{0xAB}, 40)),
			"one garbage byte after hash":          encodeEM(size, sha256DigestInfo, sum[:], []byte{0}),
			"no NULL parameters":                   encodeEM(size, noNullDI, sum[:], nil),
			"block type 2":                         withByte(1, 0x02),
			"padding byte not FF":                  withByte(5, 0xfe),
			"nonzero first byte":                   withByte(0, 0x01),
			"no separator":                         withByte(size-sha256.Size-len(sha256DigestInfo)-1, 0xff),
			"DigestInfo length off":                withByte(size-sha256.Size-len(sha256DigestInfo)+1, 0x32),
		} {
			checkSame(t, k, name, sum[:], rawSign(k.priv, em), false)
		}
		checkSame(t, k, "exact encoding", sum[:], rawSign(k.priv, good), true)
	}
}

// TestRS256Bleichenbacher06 is the e = 3 forgery without the private key:
// EM = 00 01 FF 00 DigestInfo H garbage, where the garbage is long enough
// that the integer cube root of the target, cubed, still starts with
// everything up to H. A verifier that parses EM and ignores what follows
// the hash accepts it.
func TestRS256Bleichenbacher06(t *testing.T) {
	sum := sha256.Sum256([]byte("forged"))
	tried := 0
	for _, k := range diffKeys(t) {
		if k.priv.E != 3 {
			continue
		}
		tried++
		size := k.priv.Size()
		prefix := append([]byte{0x00, 0x01, 0xff, 0x00}, sha256DigestInfo...)
		prefix = append(prefix, sum[:]...)
		target := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, size-len(prefix))...)
		s := cubeRoot(new(big.Int).SetBytes(target))
		cube := new(big.Int).Exp(s, big.NewInt(3), nil)
		if cube.Cmp(k.priv.N) >= 0 {
			t.Fatalf("%s: forgery wraps the modulus", k.name)
		}
		em := cube.FillBytes(make([]byte, size))
		if !bytes.HasPrefix(em, prefix) {
			t.Fatalf("%s: cube root lost the prefix; the forgery is not the classic shape", k.name)
		}
		checkSame(t, k, "Bleichenbacher'06 forgery", sum[:], s.FillBytes(make([]byte, size)), false)
	}
	if tried == 0 {
		t.Fatal("no e=3 key")
	}
}

// cubeRoot is ⌊∛x⌋ by Newton's method.
func cubeRoot(x *big.Int) *big.Int {
	r := new(big.Int).Lsh(big.NewInt(1), uint(x.BitLen()/3+1))
	three, two := big.NewInt(3), big.NewInt(2)
	for {
		// r' = (2r + x/r²) / 3
		next := new(big.Int).Quo(x, new(big.Int).Mul(r, r))
		next.Add(next, new(big.Int).Mul(r, two))
		next.Quo(next, three)
		if next.Cmp(r) >= 0 {
			return r
		}
		r = next
	}
}

// FuzzRS256Precomputed compares the precomputed verdict with crypto/rsa's
// on arbitrary signatures and, with signEM, on arbitrary encoded messages
// signed by the private key (so the fuzzer steers s^e mod N itself).
func FuzzRS256Precomputed(f *testing.F) {
	// Two keys of its own: each fuzz worker is a new process, and the
	// larger differential keys would take most of its time to generate.
	mk := func(e int) diffKey {
		priv := genKey(2048, e)
		return diffKey{name: fmt.Sprint("fuzz-e", e), priv: priv, fast: newVerifyKey(&priv.PublicKey)}
	}
	k, k3 := mk(65537), mk(3)
	size := k.priv.Size()
	msg := []byte("fuzz")
	sum := sha256.Sum256(msg)
	good := encodeEM(size, sha256DigestInfo, sum[:], nil)
	f.Add(good, msg, true, false)
	f.Add(good, msg, true, true)
	f.Add(encodeEM(size, sha256DigestInfo, sum[:], []byte{1, 2, 3}), msg, true, false)
	f.Add(rawSign(k.priv, good), msg, false, false)
	f.Add(rawSign(k3.priv, good), msg, false, true)
	f.Add([]byte{1}, msg, false, false)
	f.Fuzz(func(t *testing.T, data, msg []byte, signEM, e3 bool) {
		key := k
		if e3 {
			key = k3
		}
		sig := data
		if signEM {
			em := make([]byte, size)
			copy(em[max(0, size-len(data)):], data[max(0, len(data)-size):])
			m := new(big.Int).SetBytes(em)
			sig = rawSign(key.priv, m.Mod(m, key.priv.N).FillBytes(em))
		}
		h := sha256.Sum256(msg)
		ref := rsa.VerifyPKCS1v15(&key.priv.PublicKey, crypto.SHA256, h[:], sig) == nil
		if got := key.fast.verifyPKCS1v15SHA256(h[:], sig); got != ref {
			t.Fatalf("precomputed says %v, crypto/rsa says %v", got, ref)
		}
	})
}

// TestRS256RefusesWhatCryptoRSARefusesForSize: a key below crypto/rsa's 1024-bit floor
// (kept out by the JWKS filter, but newVerifyKey must not rely on it) gets crypto/rsa's
// verdict, which refuses it, even for a correctly made signature.
func TestRS256RefusesWhatCryptoRSARefusesForSize(t *testing.T) {
	e := big.NewInt(65537)
	var n, d *big.Int
	for d == nil { // until the primes differ and 65537 is invertible modulo φ(n)
		p, err := rand.Prime(rand.Reader, 384)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, 384)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cmp(q) == 0 {
			continue
		}
		n = new(big.Int).Mul(p, q)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(1)))
		d = new(big.Int).ModInverse(e, phi)
	}
	pub := &rsa.PublicKey{N: n, E: 65537}
	sum := sha256.Sum256([]byte("message"))
	em := make([]byte, pub.Size())
	em[1] = 0x01
	pad := len(em) - len(sha256DigestInfo) - sha256.Size - 1
	for i := 2; i < pad; i++ {
		em[i] = 0xff
	}
	copy(em[pad+1:], sha256DigestInfo)
	copy(em[len(em)-sha256.Size:], sum[:])
	sig := new(big.Int).Exp(new(big.Int).SetBytes(em), d, n).FillBytes(make([]byte, pub.Size()))
	if new(big.Int).Exp(new(big.Int).SetBytes(sig), e, n).Cmp(new(big.Int).SetBytes(em)) != 0 {
		t.Fatal("test signature does not invert")
	}
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil {
		t.Fatal("crypto/rsa accepts a 768-bit key; this test assumes it does not")
	}
	if newVerifyKey(pub).verifyPKCS1v15SHA256(sum[:], sig) {
		t.Fatal("the precomputed path accepts a 768-bit key that crypto/rsa refuses")
	}
}
