package verifier

import (
	"crypto/sha256"
)

// maxSignatureSegment is the base64url length of a signature made with the
// largest key the JWKS may hold (maxRSABits).
const maxSignatureSegment = (maxRSABits/8*4 + 2) / 3

// verifyRS256 reports whether sigSeg, the third segment of a compact JWS,
// is a valid RSASSA-PKCS1-v1_5 SHA-256 signature by key over input, the
// first two segments and the dot between them (RFC 7515 section 5.2).
//
// It calls crypto/rsa directly on the raw signing input instead of going
// through a JOSE library: the header has already been parsed and checked
// (alg pinned to RS256, crit and b64 refused) and the segments checked to
// be canonical base64url, so all that is left is the signature itself, and
// a generic JWS parse would decode and allocate the header and payload a
// second time. The check itself (verifyKey.verifyPKCS1v15SHA256) refuses a
// signature whose length is not the modulus size and a signature value not
// below the modulus, and compares the whole encoded message, not a parsed
// DigestInfo.
func verifyRS256(key *verifyKey, input, sigSeg string) bool {
	if len(sigSeg) > maxSignatureSegment {
		return false
	}
	var buf [maxRSABits / 8]byte
	n, err := rawURL.Decode(buf[:], []byte(sigSeg))
	if err != nil {
		return false
	}
	h := sha256.New()
	h.Write([]byte(input))
	var sum [sha256.Size]byte
	return key.verifyPKCS1v15SHA256(h.Sum(sum[:0]), buf[:n])
}
