package caddymodule

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// checkApp provisions and validates an App built by configure, as Caddy would load it, and
// returns the first error.
func checkApp(t *testing.T, configure func(*App)) error {
	t.Helper()
	a := &App{
		Issuer:    "http://127.0.0.1:8080",
		WorkOS:    &WorkOSConfig{ClientID: tgClientID, APIKey: tgAPIKey, Endpoint: "http://127.0.0.1:9001", Timeout: caddy.Duration(time.Second)},
		Storage:   &StorageConfig{Dir: t.TempDir()},
		RateLimit: &RateLimitConfig{Disabled: true},
	}
	configure(a)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := a.Provision(ctx); err != nil {
		return err
	}
	return a.Validate()
}

// The JSON form of configured clients and of registration is checked when the config loads.
func TestClientsValidate(t *testing.T) {
	hash := bcryptHash(t, "a-secret")
	good := func() *ClientConfig {
		return &ClientConfig{ClientID: "acme", RedirectURIs: []string{"https://app.example.com/cb"}, SecretHash: hash}
	}
	tweak := func(f func(c *ClientConfig)) []*ClientConfig {
		c := good()
		f(c)
		return []*ClientConfig{c}
	}
	cases := []struct {
		name    string
		clients []*ClientConfig
		reg     *RegistrationConfig
		wantErr string
	}{
		{name: "good confidential", clients: tweak(func(*ClientConfig) {})},
		{name: "good public", clients: tweak(func(c *ClientConfig) { c.SecretHash, c.Public = "", true })},
		{name: "hash as older Caddy printed it (base64)", clients: tweak(func(c *ClientConfig) { c.SecretHash = base64.StdEncoding.EncodeToString([]byte(hash)) })},
		{name: "good post", clients: tweak(func(c *ClientConfig) { c.TokenEndpointAuthMethod = "client_secret_post" })},
		{name: "registered id prefix", clients: tweak(func(c *ClientConfig) { c.ClientID = "drio_abc" }), wantErr: "must not start with drio_"},
		{name: "URL id", clients: tweak(func(c *ClientConfig) { c.ClientID = "https://app.example.com/client.json" }), wantErr: "client metadata document"},
		{name: "empty id", clients: tweak(func(c *ClientConfig) { c.ClientID = "" }), wantErr: "client_id must be 1 to 128"},
		{name: "secret and public", clients: tweak(func(c *ClientConfig) { c.Public = true }), wantErr: "either secret_hash"},
		{name: "neither secret nor public", clients: tweak(func(c *ClientConfig) { c.SecretHash = "" }), wantErr: "set secret_hash"},
		{name: "argon2id hash", clients: tweak(func(c *ClientConfig) {
			c.SecretHash = "$argon2id$v=19$m=47104,t=1,p=1$P2nzckEdTZ3bxCiBCkRTyA$xQL3Z32eo5jKl7u5tcIsnEKObYiyNZQQf5/4sAau6Pg"
		}), wantErr: "bcrypt"},
		{name: "bcrypt cost above 16", clients: tweak(func(c *ClientConfig) { c.SecretHash = "$2a$20$" + hash[len("$2a$04$"):] }), wantErr: "bcrypt cost 20"},
		{name: "plain secret as hash", clients: tweak(func(c *ClientConfig) { c.SecretHash = "hunter2" }), wantErr: "bcrypt"},
		{name: "unknown grant", clients: tweak(func(c *ClientConfig) { c.GrantTypes = []string{"authorization_code", "password"} }), wantErr: `grant type "password"`},
		{name: "no code grant", clients: tweak(func(c *ClientConfig) { c.GrantTypes = []string{"refresh_token"} }), wantErr: "must include authorization_code"},
		{name: "no redirect", clients: tweak(func(c *ClientConfig) { c.RedirectURIs = nil }), wantErr: "at least one redirect_uri"},
		{name: "http redirect off loopback", clients: tweak(func(c *ClientConfig) { c.RedirectURIs = []string{"http://app.example.com/cb"} }), wantErr: "only on loopback"},
		{name: "redirect with fragment", clients: tweak(func(c *ClientConfig) { c.RedirectURIs = []string{"https://app.example.com/cb#x"} }), wantErr: "fragment"},
		{name: "duplicate redirect", clients: tweak(func(c *ClientConfig) {
			c.RedirectURIs = []string{"https://app.example.com/cb", "https://app.example.com/cb"}
		}), wantErr: "listed twice"},
		{name: "unknown auth method", clients: tweak(func(c *ClientConfig) { c.TokenEndpointAuthMethod = "private_key_jwt" }), wantErr: "client_secret_basic or client_secret_post"},
		{name: "public with a secret method", clients: tweak(func(c *ClientConfig) {
			c.SecretHash, c.Public, c.TokenEndpointAuthMethod = "", true, "client_secret_post"
		}), wantErr: "public client authenticates with none"},
		{name: "duplicate ids", clients: []*ClientConfig{good(), good()}, wantErr: "configured twice"},
		{name: "registration off", reg: &RegistrationConfig{Mode: "off"}},
		{name: "registration closed", reg: &RegistrationConfig{Mode: "closed"}, wantErr: "registration must be open or off"},
		{name: "token digest not hex", reg: &RegistrationConfig{InitialAccessTokenSHA256: "xyz"}, wantErr: "64 hex digits"},
		{name: "token with registration off", reg: &RegistrationConfig{Mode: "off", InitialAccessTokenSHA256: strings.Repeat("ab", 32)}, wantErr: "takes no initial access token"},
	}
	for _, c := range cases {
		err := checkApp(t, func(a *App) { a.Clients, a.Registration = c.clients, c.reg })
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.wantErr)
		}
	}
}

func TestClientsUnmarshalCaddyfile(t *testing.T) {
	const hash = "$2a$14$X3ulqf/iGxnf1k6oMZ.RZeJUoqI9PX2PM4rS5lkIKJXduLGXGPrt6" // Caddy's own example
	var a App
	err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`drio {
		registration open {
			initial_access_token_sha256 ` + strings.Repeat("ab", 32) + `
		}
		client acme-cli {
			name "Acme CLI"
			redirect_uri https://app.example.com/cb myapp:/cb
			redirect_uri http://127.0.0.1/callback
			secret_hash ` + hash + `
			token_endpoint_auth_method client_secret_post
			grant_types authorization_code
			skip_consent
		}
		client spa {
			redirect_uri https://spa.example.com/cb
			public
		}
		redirect_schemes myapp
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []*ClientConfig{
		{ClientID: "acme-cli", Name: "Acme CLI", RedirectURIs: []string{"https://app.example.com/cb", "myapp:/cb", "http://127.0.0.1/callback"},
			SecretHash: hash, TokenEndpointAuthMethod: "client_secret_post", GrantTypes: []string{"authorization_code"}, SkipConsent: true},
		{ClientID: "spa", RedirectURIs: []string{"https://spa.example.com/cb"}, Public: true},
	}
	if !reflect.DeepEqual(a.Clients, want) {
		t.Errorf("clients = %+v, want %+v", a.Clients, want)
	}
	if wantReg := (&RegistrationConfig{Mode: "open", InitialAccessTokenSHA256: strings.Repeat("ab", 32)}); !reflect.DeepEqual(a.Registration, wantReg) {
		t.Errorf("registration = %+v, want %+v", a.Registration, wantReg)
	}

	for _, c := range []struct{ name, input, wantErr string }{
		{"unknown client option", "drio {\n client a {\n  public\n  secret s\n }\n}", "unrecognized client option 'secret', at Testfile:4"},
		{"client without id", "drio {\n client {\n  public\n }\n}", "client needs an id, e.g. client acme-cli { … }, at Testfile:2"},
		{"secret and public", "drio {\n client a {\n  redirect_uri https://a.example/cb\n  public\n  secret_hash " + hash + "\n }\n}", "set either secret_hash or public, not both, at Testfile:5"},
		{"client twice", "drio {\n client a {\n  public\n }\n client a {\n  public\n }\n}", `client "a" is configured twice, at Testfile:5`},
		{"bad redirect, reported at its block", "drio {\n issuer https://x\n client a {\n  public\n  redirect_uri http://evil.example/cb\n }\n}", "only on loopback (127.0.0.1, [::1], localhost); use https, at Testfile:3"},
		{"private-use scheme not allowed", "drio {\n client a {\n  public\n  redirect_uri myapp:/cb\n }\n}", "reverse-domain form"},
		{"bad id", "drio {\n client drio_x {\n  public\n  redirect_uri https://a.example/cb\n }\n}", "that prefix is for registered clients, at Testfile:2"},
		{"option repeated", "drio {\n client a {\n  public\n  name x\n  name y\n }\n}", "name specified more than once, at Testfile:5"},
		{"bad registration", "drio {\n registration closed\n}", `registration must be open or off, not "closed", at Testfile:2`},
		{"token with off", "drio {\n registration off {\n  initial_access_token_sha256 ab\n }\n}", "registration off takes no initial access token, at Testfile:3"},
		{"registration twice", "drio {\n registration open\n registration off\n}", "registration specified more than once"},
	} {
		var a App
		err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.wantErr)
		}
	}
}
