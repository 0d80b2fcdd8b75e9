package workosmock

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// signingKey is one RS256 key pair with its WorkOS-style key id.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("workosmock: generate rsa key: %w", err)
	}
	return &signingKey{kid: "sso_oidc_key_pair_" + newULID(time.Now()), priv: priv}, nil
}

// jwk is one entry of the published key set.
type jwk struct {
	Alg string `json:"alg"`
	Kty string `json:"kty"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Kid string `json:"kid"`
}

func (k *signingKey) public() jwk {
	pub := k.priv.PublicKey
	return jwk{
		Alg: "RS256",
		Kty: "RSA",
		Use: "sig",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Kid: k.kid,
	}
}

// RotateKeys generates a new signing key and returns its kid. Tokens are
// signed with the new key from now on. With keepOld the previously
// published public keys stay in the JWKS (so tokens signed before the
// rotation still verify); without it only the new key is published.
func (s *Server) RotateKeys(keepOld bool) (kid string) {
	k, err := newSigningKey()
	if err != nil {
		panic(err) // crypto/rand failure: nothing sensible to do in a test double
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if keepOld {
		s.keys = append([]*signingKey{k}, s.keys...)
	} else {
		s.keys = []*signingKey{k}
	}
	return k.kid
}

// SigningKey returns the current signing key and its kid, for tests that
// sign or forge tokens themselves.
func (s *Server) SigningKey() (kid string, key *rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0].kid, s.keys[0].priv
}

// MintAccessToken returns an access token exactly like the ones the server
// issues: RS256 with alg and kid (no typ) in the header, and iss, sub, sid,
// jti, iat, exp, plus org_id, role and permissions when u has an
// organization. ttl <= 0 means Config.AccessTokenTTL; iat comes from
// Config.Now. extra claims are added last and override the standard ones;
// an extra claim whose value is nil removes that claim.
func (s *Server) MintAccessToken(u User, sid string, ttl time.Duration, extra map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, err := s.mintLocked(u, sid, ttl, extra)
	if err != nil {
		panic(err)
	}
	return tok
}

func (s *Server) mintLocked(u User, sid string, ttl time.Duration, extra map[string]any) (string, error) {
	if ttl <= 0 {
		ttl = s.cfg.AccessTokenTTL
	}
	now := s.now()
	claims := map[string]any{
		"iss": s.issuerLocked(),
		"sub": u.ID,
		"sid": sid,
		"jti": newULID(now),
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	if u.OrganizationID != "" {
		claims["org_id"] = u.OrganizationID
		if u.Role != "" {
			claims["role"] = u.Role
		}
		perms := u.Permissions
		if perms == nil {
			perms = []string{}
		}
		claims["permissions"] = perms
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("workosmock: marshal claims: %w", err)
	}
	key := s.keys[0]
	hdrs := jws.NewHeaders()
	if err := hdrs.Set(jws.KeyIDKey, key.kid); err != nil {
		return "", fmt.Errorf("workosmock: set kid: %w", err)
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.RS256, key.priv, jws.WithProtectedHeaders(hdrs)))
	if err != nil {
		return "", fmt.Errorf("workosmock: sign token: %w", err)
	}
	return string(signed), nil
}

// jwksBody is the current key set.
func (s *Server) jwksBody() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]jwk, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, k.public())
	}
	return map[string]any{"keys": keys}
}

// handleJWKS serves GET /sso/jwks/{client_id}.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request, clientID string) {
	if s.applyFault(w, r, EndpointJWKS) {
		return
	}
	if clientID != s.cfg.ClientID {
		writeMessageError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	body, _ := json.Marshal(s.jwksBody())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
