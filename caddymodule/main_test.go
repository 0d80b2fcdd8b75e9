package caddymodule

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (matrix invariant I7):
// the store, the JWKS verifier, the session revocations sent to WorkOS and every test
// server must all have stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
