// seal.go encrypts values at rest with a key derived from a secret the store never holds (a
// bridge code or a refresh token), so a copied database yields no usable WorkOS token.

package caddymodule

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

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
