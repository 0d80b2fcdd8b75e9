package grants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// LoadOrCreateSecret returns the installation's 32-byte secret (it signs cookies and CSRF
// tokens), creating it once. It lives in the store so restarts and other instances agree on it.
func LoadOrCreateSecret(ctx context.Context, s store.Store) ([]byte, error) {
	key := store.Key(store.KindSecret, "cookie")
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := s.PutIfAbsent(ctx, key, fresh, 0); err != nil {
		return nil, fmt.Errorf("drio: creating the cookie secret: %v", err)
	}
	secret, err := s.Get(ctx, key)
	if err != nil || len(secret) != 32 {
		return nil, errors.New("drio: reading the cookie secret from the store failed; is the store healthy?")
	}
	return secret, nil
}

// RandomToken returns n random bytes, base64url without padding.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics itself instead).
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashString returns base64url(sha256(s)), for values compared later but never kept (the
// browser-binding cookie).
func HashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
