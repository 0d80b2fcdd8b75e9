package oauth

// static.go is the clients the operator configures (pre-registered clients). They live in the
// configuration, not in the store: a config reload changes them, they never expire, and the
// admin API neither lists nor deletes them. loadClient finds them before it asks the store.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

// dynamicIDPrefix starts every client_id the registration endpoint makes.
const dynamicIDPrefix = "drio_"

// maxBcryptCost bounds the cost of a configured secret hash. Each step doubles the work of a
// comparison, which every token request with a wrong secret pays: Caddy's default of 14 takes
// about a second, 16 about four, 20 a minute.
const maxBcryptCost = 16

// maxStaticIDLength bounds a configured client_id.
const maxStaticIDLength = 128

// StaticClient is a client the operator configured.
type StaticClient struct {
	// ID is the client_id: 1 to 128 characters from A-Z a-z 0-9 . _ ~ -, not starting with
	// drio_ (the prefix of registered ids).
	ID string
	// Name is shown on the consent page.
	Name string
	// RedirectURIs follow the rules of registration.
	RedirectURIs []string
	// SecretHash is the bcrypt hash of a confidential client's secret, as `caddy
	// hash-password` prints it (or base64 of that); empty for a public client.
	SecretHash string
	// Public marks a client without a secret (PKCE only). Exactly one of Public and
	// SecretHash is set.
	Public bool
	// AuthMethod is how a confidential client authenticates at the token endpoint:
	// client_secret_basic (default) or client_secret_post. A public client's is none.
	AuthMethod string
	// GrantTypes are authorization_code (required) and refresh_token. Default: both.
	GrantTypes []string
	// SkipConsent sends the user straight to sign-in, without the consent page.
	SkipConsent bool
}

// staticClient is a configured client ready to serve.
type staticClient struct {
	rec         grants.Client
	secretHash  []byte
	method      string
	skipConsent bool
}

// NormalizeStaticClient fills the defaults of c (grant types, auth method) in place.
func NormalizeStaticClient(c *StaticClient) {
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if c.AuthMethod == "" {
		if c.Public {
			c.AuthMethod = AuthNone
		} else {
			c.AuthMethod = AuthClientSecretBasic
		}
	}
}

// ValidateStaticClients reports the first configured client that cannot serve, by the rules
// registration applies to the same fields. extraSchemes are the operator's private-use
// redirect schemes.
func ValidateStaticClients(clients []StaticClient, extraSchemes []string) error {
	seen := map[string]bool{}
	for _, c := range clients {
		if err := validateStaticClient(c, extraSchemes); err != nil {
			return fmt.Errorf("client %q: %v", c.ID, err)
		}
		if seen[c.ID] {
			return fmt.Errorf("client %q is configured twice", c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

func validateStaticClient(c StaticClient, extraSchemes []string) error {
	if err := validStaticID(c.ID); err != nil {
		return err
	}
	if len(c.Name) > maxClientNameLength || !utf8.ValidString(c.Name) || strings.ContainsFunc(c.Name, isControl) {
		return fmt.Errorf("name must be printable UTF-8 of at most %d bytes", maxClientNameLength)
	}
	if len(c.RedirectURIs) == 0 {
		return errors.New("needs at least one redirect_uri")
	}
	if len(c.RedirectURIs) > maxRedirectURIs {
		return fmt.Errorf("at most %d redirect URIs are allowed", maxRedirectURIs)
	}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u, extraSchemes); err != nil {
			return fmt.Errorf("redirect_uri %q: %v", u, err)
		}
	}
	if dup := firstDuplicate(c.RedirectURIs); dup >= 0 {
		return fmt.Errorf("redirect_uri %q is listed twice", c.RedirectURIs[dup])
	}
	for _, g := range c.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return fmt.Errorf("grant type %q is not supported; use authorization_code and refresh_token", g)
		}
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return errors.New("grant_types must include authorization_code")
	}
	switch {
	case c.Public && c.SecretHash != "":
		return errors.New("set either secret_hash (a confidential client) or public, not both")
	case !c.Public && c.SecretHash == "":
		return errors.New("set secret_hash (the output of `caddy hash-password`) for a confidential client, or public for a PKCE-only client")
	case c.Public && c.AuthMethod != AuthNone:
		return fmt.Errorf("a public client authenticates with none, not %q", c.AuthMethod)
	case !c.Public && c.AuthMethod != AuthClientSecretBasic && c.AuthMethod != AuthClientSecretPost:
		return fmt.Errorf("token_endpoint_auth_method must be client_secret_basic or client_secret_post, not %q", c.AuthMethod)
	}
	if !c.Public {
		if _, err := decodeSecretHash(c.SecretHash); err != nil {
			return err
		}
	}
	return nil
}

// validStaticID keeps configured ids apart from the two other kinds: the ids registration
// makes (drio_…) and https URLs, which name client metadata documents. Only URL-unreserved
// characters are allowed, so an id needs no encoding in a query or a Basic header.
func validStaticID(id string) error {
	if id == "" || len(id) > maxStaticIDLength {
		return fmt.Errorf("client_id must be 1 to %d characters", maxStaticIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return errors.New("client_id may hold only A-Z a-z 0-9 . _ ~ - (a URL id is a client metadata document)")
		}
	}
	if strings.HasPrefix(strings.ToLower(id), dynamicIDPrefix) {
		return fmt.Errorf("client_id must not start with %s: that prefix is for registered clients", dynamicIDPrefix)
	}
	return nil
}

// decodeSecretHash accepts a bcrypt hash as `caddy hash-password` prints it ($2a$14$…), or
// base64 of one (what older Caddy versions printed).
func decodeSecretHash(h string) ([]byte, error) {
	h = strings.TrimSpace(h)
	raw := []byte(h)
	if !strings.HasPrefix(h, "$") {
		dec, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			return nil, errors.New("secret_hash must be a bcrypt hash: the output of `caddy hash-password --algorithm bcrypt`")
		}
		raw = dec
	}
	cost, err := bcrypt.Cost(raw)
	if err != nil {
		return nil, errors.New("secret_hash must be a bcrypt hash ($2a$…, $2b$… or $2y$…): the output of `caddy hash-password --algorithm bcrypt`")
	}
	if cost > maxBcryptCost {
		return nil, fmt.Errorf("secret_hash has bcrypt cost %d; at most %d is accepted, because every wrong secret costs one bcrypt comparison and cost %d would hold a core for minutes: hash the secret again with `caddy hash-password --algorithm bcrypt` (cost 14)", cost, maxBcryptCost, cost)
	}
	return raw, nil
}

// buildStatic indexes the configured clients by id. They were validated before.
func buildStatic(list []StaticClient) (map[string]*staticClient, error) {
	out := make(map[string]*staticClient, len(list))
	for _, c := range list {
		NormalizeStaticClient(&c)
		sc := &staticClient{
			rec: grants.Client{
				ID:                 c.ID,
				Name:               c.Name,
				RedirectURIs:       slices.Clone(c.RedirectURIs),
				GrantTypes:         slices.Compact(slices.Sorted(slices.Values(c.GrantTypes))),
				ResponseTypes:      []string{"code"},
				GrantTypesEnforced: true,
			},
			method:      c.AuthMethod,
			skipConsent: c.SkipConsent,
		}
		if !c.Public {
			h, err := decodeSecretHash(c.SecretHash)
			if err != nil {
				return nil, fmt.Errorf("client %q: %v", c.ID, err)
			}
			sc.secretHash = h
		}
		out[c.ID] = sc
	}
	return out, nil
}

// static returns the configured client of id, or nil.
func (s *Server) static(id string) *staticClient { return s.statics[id] }

// skipsConsent reports whether the operator configured client id to go without consent.
func (s *Server) skipsConsent(id string) bool {
	sc := s.static(id)
	return sc != nil && sc.skipConsent
}
