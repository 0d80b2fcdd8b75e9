// records.go defines what the gateway persists, one type per store.Kind, and the typed
// accessors that read and write them. Codes, refresh tokens and upstream states are stored
// under their hash (store.HashID); WorkOS tokens at rest are sealed (seal.go).

package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// clientRecord is a dynamically registered public client (RFC 7591).
type clientRecord struct {
	ID            string   `json:"id"`
	Name          string   `json:"name,omitempty"`
	RedirectURIs  []string `json:"redirect_uris"`
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`
	Scope         string   `json:"scope,omitempty"`
	ClientURI     string   `json:"client_uri,omitempty"`
	LogoURI       string   `json:"logo_uri,omitempty"`
	PolicyURI     string   `json:"policy_uri,omitempty"`
	TosURI        string   `json:"tos_uri,omitempty"`
	IssuedAt      int64    `json:"issued_at"`
}

// pendingRecord is an authorization between /authorize and /callback, keyed by the hash of the
// opaque state we send to WorkOS.
type pendingRecord struct {
	ClientID      string `json:"client_id"`
	RedirectURI   string `json:"redirect_uri"`
	State         string `json:"state,omitempty"`
	HasState      bool   `json:"has_state,omitempty"`
	CodeChallenge string `json:"code_challenge"`
	Resource      string `json:"resource,omitempty"`
	Scope         string `json:"scope,omitempty"`
	// Verifier is our own PKCE verifier towards WorkOS; useless without the WorkOS code.
	Verifier string `json:"verifier"`
	// BindingHash is the hash of the browser-binding cookie set at /authorize.
	BindingHash string `json:"binding_hash"`
	Consented   bool   `json:"consented,omitempty"`
	CreatedAt   int64  `json:"created_at"`
}

// codeRecord is a bridge code, keyed by the code's hash. It outlives its redemption as a
// tombstone, so a replay is recognised (and revokes what the first redemption issued).
type codeRecord struct {
	ClientID      string `json:"client_id"`
	RedirectURI   string `json:"redirect_uri"`
	CodeChallenge string `json:"code_challenge"`
	Resource      string `json:"resource,omitempty"`
	Scope         string `json:"scope,omitempty"`
	SessionID     string `json:"session_id"`
	// Sealed is the WorkOS token pair sealed with a key derived from the code; emptied on redemption.
	Sealed    []byte `json:"sealed,omitempty"`
	Failures  int    `json:"failures,omitempty"`
	Redeemed  bool   `json:"redeemed,omitempty"`
	Burned    bool   `json:"burned,omitempty"`
	ExpiresAt int64  `json:"expires_at"`
}

// sessionRecord is a WorkOS session this gateway brokered, keyed by its sid. It is the grant
// and the refresh-token family: revoking it ends both.
type sessionRecord struct {
	ID             string `json:"id"`
	ClientID       string `json:"client_id"`
	UserID         string `json:"user_id"`
	Email          string `json:"email,omitempty"`
	FirstName      string `json:"first_name,omitempty"`
	LastName       string `json:"last_name,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	CreatedAt      int64  `json:"created_at"`
	Revoked        bool   `json:"revoked,omitempty"`
	RevokedAt      int64  `json:"revoked_at,omitempty"`
	RevokedReason  string `json:"revoked_reason,omitempty"`
}

// Refresh record states.
const (
	refreshActive   = "active"
	refreshRotating = "rotating"
	refreshRotated  = "rotated"
	refreshDead     = "dead"
)

// refreshRecord is a refresh token issued to a client, keyed by the token's hash.
type refreshRecord struct {
	ClientID  string `json:"client_id"`
	SessionID string `json:"session_id"`
	State     string `json:"state"`
	// LeaseUntil bounds a rotation in flight, so a crashed rotator does not wedge the token.
	LeaseUntil int64 `json:"lease_until,omitempty"`
	RotatedAt  int64 `json:"rotated_at,omitempty"`
	// NextSealed is the pair that replaced this token, sealed with a key derived from this
	// token, for the grace window (design §5.6).
	NextSealed []byte `json:"next_sealed,omitempty"`
}

// tokenPair is what the token endpoint answers; it is sealed while it waits at rest.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresAt    int64  `json:"expires_at"`
}

// Seal purposes: a key derived for one purpose never opens a value sealed for another.
const (
	sealCodePair    = "bridge-code-pair"
	sealRefreshNext = "refresh-next-pair"
)

// getJSON reads key into v; it returns the raw bytes for a later CompareAndSwap.
func getJSON(ctx context.Context, s store.Store, key string, v any) ([]byte, error) {
	raw, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, errors.New("corrupt record in store")
	}
	return raw, nil
}

func putJSON(ctx context.Context, s store.Store, key string, v any, ttl time.Duration) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, raw, ttl)
}

// casJSON replaces the record whose current bytes are old with v.
func casJSON(ctx context.Context, s store.Store, key string, old []byte, v any, ttl time.Duration) (bool, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	return s.CompareAndSwap(ctx, key, old, raw, ttl)
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics itself instead).
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
