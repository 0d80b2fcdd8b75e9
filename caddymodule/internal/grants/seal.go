package grants

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Purpose separates sealing keys: a key derived for one purpose never opens a value sealed
// for another.
type Purpose string

// The purposes the gateway seals token pairs for.
const (
	// PurposeCodePair seals the WorkOS pair that waits for a bridge code's redemption.
	PurposeCodePair Purpose = "bridge-code-pair"
	// PurposeRefreshNext seals the pair that replaced a rotated refresh token.
	PurposeRefreshNext Purpose = "refresh-next-pair"
)

// SealPair encrypts pair under a key derived from secret (a code or refresh token that the
// store never holds) and purpose.
func SealPair(secret string, purpose Purpose, pair *TokenPair) ([]byte, error) {
	plain, err := encodeRecord(pair)
	if err != nil {
		return nil, err
	}
	return seal(secret, string(purpose), plain)
}

// OpenPair reverses SealPair; it fails if secret or purpose differ or the data was altered.
func OpenPair(secret string, purpose Purpose, sealed []byte) (*TokenPair, error) {
	plain, err := unseal(secret, string(purpose), sealed)
	if err != nil {
		return nil, err
	}
	var pair TokenPair
	if err := decodeRecord(plain, &pair); err != nil {
		return nil, errCorrupt
	}
	return &pair, nil
}

// sealKey derives a 256-bit AES key from secret, separated by purpose.
func sealKey(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("drio seal v1\x00" + purpose))
	return m.Sum(nil)
}

// seal encrypts plaintext with AES-256-GCM under a key derived from secret and purpose.
func seal(secret, purpose string, plaintext []byte) ([]byte, error) {
	gcm, err := newGCM(sealKey(secret, purpose))
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, []byte(purpose)), nil
}

// unseal reverses seal; it fails if secret or purpose differ or the data was altered.
func unseal(secret, purpose string, sealed []byte) ([]byte, error) {
	gcm, err := newGCM(sealKey(secret, purpose))
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed value is too short")
	}
	nonce, ct := sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():]
	return gcm.Open(nil, nonce, ct, []byte(purpose))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
