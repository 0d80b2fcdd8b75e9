package caddymodule

// clients.go is the configuration of pre-registered clients (`client <id> { … }`) and of
// dynamic registration (`registration open|off { … }`): their JSON and Caddyfile forms, and
// the checks Provision and Validate run on them. The rules themselves are the OAuth server's
// (oauth.ValidateStaticClients), so a configured client passes the same redirect URI checks as
// a registered one.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

// ClientConfig is a pre-registered client. It lives in the configuration, not in the store:
// a config reload changes it, client_ttl never expires it, and the admin API neither lists
// nor deletes it.
type ClientConfig struct {
	// ClientID is the client_id: 1 to 128 characters from A-Z a-z 0-9 . _ ~ -, not
	// starting with drio_ (registered ids) and so never an https URL (client metadata
	// documents). Required.
	ClientID string `json:"client_id,omitempty"`
	// Name is shown on the consent page.
	Name string `json:"name,omitempty"`
	// RedirectURIs are checked by the same rules as at registration. At least one.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// SecretHash is the bcrypt hash of a confidential client's secret, as `caddy
	// hash-password --algorithm bcrypt` prints it. The secret itself is never configured.
	SecretHash string `json:"secret_hash,omitempty"`
	// Public marks a client without a secret that proves itself with PKCE alone. Exactly
	// one of Public and SecretHash must be set.
	Public bool `json:"public,omitempty"`
	// TokenEndpointAuthMethod is how a confidential client sends its secret:
	// client_secret_basic (default) or client_secret_post. Only that method is accepted.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// GrantTypes the client may use: authorization_code (required) and refresh_token.
	// Default: both.
	GrantTypes []string `json:"grant_types,omitempty"`
	// SkipConsent sends the user straight to sign-in, without the gateway's consent page:
	// for first-party clients.
	SkipConsent bool `json:"skip_consent,omitempty"`
}

// RegistrationConfig configures dynamic client registration (RFC 7591).
type RegistrationConfig struct {
	// Mode is open (default) or off. Off: the registration endpoint answers 403 and is not
	// advertised, and clients registered earlier are refused everywhere; only pre-registered
	// clients (and client metadata documents) sign in.
	Mode string `json:"mode,omitempty"`
	// InitialAccessTokenSHA256 is the hex SHA-256 digest of the initial access token that
	// registration then requires as `Authorization: Bearer <token>`; the token itself never
	// appears in the configuration. Default: none, anyone may register.
	InitialAccessTokenSHA256 string `json:"initial_access_token_sha256,omitempty"`
}

// Registration modes.
const (
	registrationOpen = "open"
	registrationOff  = "off"
)

// staticClients is the OAuth server's view of the configured clients.
func (a *App) staticClients() []oauth.StaticClient {
	out := make([]oauth.StaticClient, 0, len(a.Clients))
	for _, c := range a.Clients {
		sc := oauth.StaticClient{
			ID: c.ClientID, Name: c.Name, RedirectURIs: slices.Clone(c.RedirectURIs),
			SecretHash: c.SecretHash, Public: c.Public, AuthMethod: c.TokenEndpointAuthMethod,
			GrantTypes: slices.Clone(c.GrantTypes), SkipConsent: c.SkipConsent,
		}
		oauth.NormalizeStaticClient(&sc)
		out = append(out, sc)
	}
	return out
}

// provisionRegistration defaults the registration mode and decodes the initial access token's
// digest.
func (a *App) provisionRegistration() error {
	if a.Registration == nil {
		a.Registration = &RegistrationConfig{}
	}
	if a.Registration.Mode == "" {
		a.Registration.Mode = registrationOpen
	}
	if h := a.Registration.InitialAccessTokenSHA256; h != "" {
		sum, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(sum) != sha256.Size {
			return errors.New("drio: registration initial_access_token_sha256 must be 64 hex digits: the output of `printf %s \"$TOKEN\" | sha256sum`")
		}
		a.registrationToken = sum
	}
	return nil
}

// validateClients checks the configured clients and the registration mode.
func (a *App) validateClients() error {
	if reg := a.Registration; reg != nil { // nil only before Provision, which defaults it
		switch reg.Mode {
		case registrationOpen:
		case registrationOff:
			if reg.InitialAccessTokenSHA256 != "" {
				return errors.New("drio: registration off takes no initial access token: registration is refused to everyone")
			}
		default:
			return fmt.Errorf("drio: registration must be open or off, not %q", reg.Mode)
		}
	}
	for _, c := range a.Clients {
		if c == nil {
			return errors.New("drio: clients: an entry is empty")
		}
	}
	if err := oauth.ValidateStaticClients(a.staticClients(), a.RedirectSchemes); err != nil {
		return fmt.Errorf("drio: %v", err)
	}
	return nil
}

// checkClientBlocks runs the clients' checks once a Caddyfile's drio block is read (they
// depend on redirect_schemes, which may come after a client), and names the line of the
// client block that fails. Validate runs them again on the JSON form.
func (a *App) checkClientBlocks() error {
	if err := oauth.ValidateStaticClients(a.staticClients(), a.RedirectSchemes); err != nil {
		if at := a.clientAt[firstQuoted(err.Error())]; at != "" {
			return fmt.Errorf("%v, at %s", err, at)
		}
		return err
	}
	return nil
}

// firstQuoted returns the first "…"-quoted word of s (the client id in a validation error).
func firstQuoted(s string) string {
	_, rest, ok := strings.Cut(s, `"`)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// unmarshalClient parses one client block:
//
//	client <id> {
//		name <name>
//		redirect_uri <uri...>
//		secret_hash <bcrypt hash> | public
//		token_endpoint_auth_method client_secret_basic|client_secret_post
//		grant_types <grant...>
//		skip_consent
//	}
//
// What depends on the rest of the configuration (redirect URIs and the private-use schemes)
// is checked once the whole drio block is read, and reported at the block's line.
func (a *App) unmarshalClient(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.Err("client needs an id, e.g. client acme-cli { … }")
	}
	c := &ClientConfig{ClientID: d.Val()}
	if d.NextArg() {
		return d.ArgErr()
	}
	for _, other := range a.Clients {
		if other.ClientID == c.ClientID {
			return d.Errf("client %q is configured twice", c.ClientID)
		}
	}
	if a.clientAt == nil {
		a.clientAt = map[string]string{}
	}
	a.clientAt[c.ClientID] = fmt.Sprintf("%s:%d", d.File(), d.Line())
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] && name != "redirect_uri" {
			return d.Errf("client %s: %s specified more than once", c.ClientID, name)
		}
		seen[name] = true
		var err error
		switch name {
		case "name":
			c.Name, err = oneArg(d)
		case "redirect_uri", "redirect_uris":
			err = appendArgs(d, &c.RedirectURIs)
		case "secret_hash":
			c.SecretHash, err = oneArg(d)
		case "public":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.Public = true
		case "token_endpoint_auth_method":
			c.TokenEndpointAuthMethod, err = oneArg(d)
		case "grant_types":
			err = appendArgs(d, &c.GrantTypes)
		case "skip_consent":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.SkipConsent = true
		default:
			return d.Errf("unrecognized client option '%s'", name)
		}
		if err != nil {
			return err
		}
		if c.Public && c.SecretHash != "" {
			return d.Errf("client %s: set either secret_hash or public, not both", c.ClientID)
		}
	}
	a.Clients = append(a.Clients, c)
	return nil
}

// unmarshalRegistration parses `registration open|off [{ initial_access_token_sha256 <hex> }]`.
func (a *App) unmarshalRegistration(d *caddyfile.Dispenser) error {
	mode, err := oneArg(d)
	if err != nil {
		return err
	}
	if mode != registrationOpen && mode != registrationOff {
		return d.Errf("registration must be open or off, not %q", mode)
	}
	r := &RegistrationConfig{Mode: mode}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "initial_access_token_sha256":
			if mode == registrationOff {
				return d.Err("registration off takes no initial access token")
			}
			if r.InitialAccessTokenSHA256, err = oneArg(d); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized registration option '%s'", d.Val())
		}
	}
	a.Registration = r
	return nil
}
