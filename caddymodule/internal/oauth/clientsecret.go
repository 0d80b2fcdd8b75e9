package oauth

// clientsecret.go checks a confidential client's secret against its bcrypt hash. bcrypt is
// slow on purpose (Caddy's default cost of 14 takes about a second), which protects the
// secrets if the configuration leaks, but would make every token request of a confidential
// client that slow. So a secret that verified once is remembered, per client, as an HMAC
// under a key that exists only in this process's memory: the next request with the same
// secret costs one HMAC. A wrong secret always pays the full bcrypt cost, and at most half the
// cores (at least one) compare at once, so guessing secrets cannot take every core.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// maxSecretLength bounds a presented secret; bcrypt reads at most 72 bytes anyway.
const maxSecretLength = 256

// secretChecker verifies client secrets and remembers the last good one of each client.
type secretChecker struct {
	key   []byte
	slots chan struct{}

	mu       sync.Mutex
	verified map[string][]byte // client_id → HMAC of the secret that last verified
}

func newSecretChecker() *secretChecker {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return &secretChecker{key: key, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)), verified: map[string][]byte{}}
}

func (c *secretChecker) mac(clientID, secret string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// check reports whether secret is the client's. err is set only when ctx ended while the
// comparison waited for a free slot.
func (c *secretChecker) check(ctx context.Context, clientID string, hash []byte, secret string) (bool, error) {
	if secret == "" || len(secret) > maxSecretLength {
		return false, nil
	}
	sum := c.mac(clientID, secret)
	c.mu.Lock()
	known := c.verified[clientID]
	c.mu.Unlock()
	if known != nil && hmac.Equal(known, sum) {
		return true, nil
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(secret))
	<-c.slots
	if err != nil {
		return false, nil
	}
	c.mu.Lock()
	c.verified[clientID] = sum
	c.mu.Unlock()
	return true, nil
}
