package verifier

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"

	"filippo.io/bigmod"
)

// maxFastExponent is the largest public exponent crypto/rsa accepts; the
// precomputed path takes the same keys so that both give the same verdict.
const maxFastExponent = 1<<31 - 1

// minFastBits is the smallest modulus crypto/rsa accepts (without the
// rsa1024min GODEBUG setting); a smaller key is left to crypto/rsa, which
// refuses it, whatever lets it reach the verifier.
const minFastBits = 1024

// sha256DigestInfo is the DER prefix of the DigestInfo for SHA-256
// (RFC 8017 section 9.2, note 1).
var sha256DigestInfo = []byte{
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
}

// verifyKey is a signing key from the JWKS with what RS256 verification
// needs precomputed once, when the key set is installed: the modulus in
// Montgomery form and the constant part of the expected encoded message.
// crypto/rsa rebuilds the Montgomery constants on every call and its API
// cannot keep them, which is about a quarter of a 2048-bit verification.
type verifyKey struct {
	*rsa.PublicKey

	// mod is nil when the key is outside what the precomputed path
	// handles; such a key is verified by crypto/rsa.
	mod *bigmod.Modulus
	// e is PublicKey.E as the exponent for ExpShortVarTime.
	e uint
	// emPrefix is EM without the hash: 0x00 0x01 FF…FF 0x00 DigestInfo.
	emPrefix []byte
}

// newVerifyKey precomputes pub for RS256. A key crypto/rsa would refuse
// (even modulus, exponent out of range, fewer than minFastBits bits) keeps
// mod nil, so its verdict stays crypto/rsa's.
func newVerifyKey(pub *rsa.PublicKey) *verifyKey {
	k := &verifyKey{PublicKey: pub}
	if pub.N == nil || pub.N.Bit(0) == 0 || pub.E < 3 || pub.E%2 == 0 || pub.E > maxFastExponent ||
		pub.N.BitLen() < minFastBits {
		return k
	}
	size := pub.Size()
	// PKCS #1 v1.5 needs at least eight bytes of 0xFF padding.
	if size < len(sha256DigestInfo)+sha256.Size+11 {
		return k
	}
	mod, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil || mod.Size() != size {
		return k
	}
	prefix := make([]byte, size-sha256.Size)
	prefix[1] = 0x01
	pad := len(prefix) - len(sha256DigestInfo) - 1
	for i := 2; i < pad; i++ {
		prefix[i] = 0xff
	}
	copy(prefix[pad+1:], sha256DigestInfo)
	k.mod, k.e, k.emPrefix = mod, uint(pub.E), prefix
	return k
}

// verifyPKCS1v15SHA256 reports whether sig is an RSASSA-PKCS1-v1_5
// signature by k of the SHA-256 digest hashed (RFC 8017 section 8.2.2).
//
// It encodes the message it expects and compares the whole of it with
// s^e mod N, byte for byte, rather than parsing the recovered message:
// parsing the padding and DigestInfo is where signature-forgery bugs live
// (trailing garbage after the hash, lenient DER lengths). Everything here
// is public, so variable-time exponentiation and comparison are fine.
func (k *verifyKey) verifyPKCS1v15SHA256(hashed, sig []byte) bool {
	if k.mod == nil {
		return rsa.VerifyPKCS1v15(k.PublicKey, crypto.SHA256, hashed, sig) == nil
	}
	if len(hashed) != sha256.Size || len(sig) != k.mod.Size() {
		return false
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.mod)
	if err != nil {
		return false // s ≥ N
	}
	em := bigmod.NewNat().ExpShortVarTime(s, k.e, k.mod).Bytes(k.mod)
	n := len(k.emPrefix)
	return bytes.Equal(em[:n], k.emPrefix) && bytes.Equal(em[n:], hashed)
}
