package caddymodule

// consent.go holds the operator's say over what the user sees: the consent page's
// branding or template, and how WorkOS signs the user in (defaults, and what a client may
// choose on /authorize).

import (
	"fmt"
	"html/template"
	"regexp"
	"slices"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

// ConsentConfig brands the consent page, or replaces it with the operator's template.
type ConsentConfig struct {
	// ProductName replaces "drio" in the page's title, heading and brand line; at most 64
	// characters, shown escaped.
	ProductName string `json:"product_name,omitempty"`
	// LogoURL is an image shown above the heading: https (http only on a loopback host). The
	// page's Content-Security-Policy allows images from its origin and nowhere else.
	LogoURL string `json:"logo_url,omitempty"`
	// PrimaryColor colours the brand line and the approve button: #rgb or #rrggbb.
	PrimaryColor string `json:"primary_color,omitempty"`
	// BackgroundColor colours the page behind the card: #rgb or #rrggbb.
	BackgroundColor string `json:"background_color,omitempty"`
	// Template is an html/template file that replaces the built-in page, read and parsed
	// when the config is loaded. It is executed with the data documented in the README
	// (consent page section); the gateway's escaping, CSRF check and security headers apply to
	// it as to the built-in page.
	Template string `json:"template,omitempty"`

	tmpl    *template.Template
	tmplErr error
}

// SignInConfig says how WorkOS signs users in, and what a client may choose per request.
type SignInConfig struct {
	// Provider, OrganizationID and ConnectionID are the default connection selector; set at
	// most one. Default: provider authkit.
	Provider       string `json:"provider,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	ConnectionID   string `json:"connection_id,omitempty"`
	// ScreenHint is the AuthKit screen shown first: sign-in or sign-up (provider authkit only).
	ScreenHint string `json:"screen_hint,omitempty"`
	// AllowOrganizations, AllowConnections and AllowProviders are the values a client may send
	// as organization_id, connection_id or provider on /authorize, replacing the default
	// selector. Any other value is refused with invalid_request. Default: none.
	AllowOrganizations []string `json:"allow_organizations,omitempty"`
	AllowConnections   []string `json:"allow_connections,omitempty"`
	AllowProviders     []string `json:"allow_providers,omitempty"`
	// PassThrough names the hints a client may send on /authorize and the gateway passes on
	// to WorkOS after checking them: login_hint, domain_hint, screen_hint. Hints not named are
	// ignored. Default: none.
	PassThrough []string `json:"pass_through,omitempty"`
}

// provisionConsent resolves placeholders and parses the consent template; a template that
// cannot be read or parsed fails Validate with the file name and the parse error.
func (a *App) provisionConsent(repl *caddy.Replacer) {
	c := a.Consent
	if c == nil || c.Template == "" {
		return
	}
	c.Template = repl.ReplaceKnown(c.Template, "")
	var hasHidden bool
	c.tmpl, hasHidden, c.tmplErr = oauth.ParseConsentTemplate(c.Template)
	if c.tmplErr == nil && !hasHidden {
		a.logger.Warn("the consent template has no hidden txn and csrf fields: every approval will be refused as a forged form; put {{.Hidden}} inside the form",
			zap.String("template", c.Template))
	}
}

// validateConsent checks the consent and sign-in options.
func (a *App) validateConsent() error {
	if c := a.Consent; c != nil {
		if c.tmplErr != nil {
			return fmt.Errorf("drio: %v", c.tmplErr)
		}
		if err := a.consentOptions().Check(); err != nil {
			return fmt.Errorf("drio: %v", err)
		}
	}
	if err := a.signInOptions().Check(); err != nil {
		return fmt.Errorf("drio: %v", err)
	}
	return nil
}

// consentOptions is the OAuth server's form of the consent configuration.
func (a *App) consentOptions() oauth.ConsentOptions {
	c := a.Consent
	if c == nil {
		return oauth.ConsentOptions{}
	}
	return oauth.ConsentOptions{
		ProductName:     c.ProductName,
		LogoURL:         c.LogoURL,
		PrimaryColor:    c.PrimaryColor,
		BackgroundColor: c.BackgroundColor,
		Template:        c.tmpl,
	}
}

// signInOptions is the OAuth server's form of the sign-in configuration.
func (a *App) signInOptions() oauth.SignInOptions { return a.signInOptionsOf(a.SignIn) }

// signInOptionsOf converts s (nil: the defaults).
func (a *App) signInOptionsOf(s *SignInConfig) oauth.SignInOptions {
	if s == nil {
		return oauth.SignInOptions{}
	}
	return oauth.SignInOptions{
		Provider:           s.Provider,
		OrganizationID:     s.OrganizationID,
		ConnectionID:       s.ConnectionID,
		ScreenHint:         s.ScreenHint,
		AllowOrganizations: slices.Clone(s.AllowOrganizations),
		AllowConnections:   slices.Clone(s.AllowConnections),
		AllowProviders:     slices.Clone(s.AllowProviders),
		PassThrough:        slices.Clone(s.PassThrough),
	}
}

// unmarshalConsent and unmarshalSignIn parse the drio option's consent and sign_in blocks:
//
//	consent [on|off] [{
//		product_name     <name>
//		logo_url         <url>
//		primary_color    <"#rgb"|"#rrggbb"|rgb|rrggbb>
//		background_color <"#rgb"|"#rrggbb"|rgb|rrggbb>
//		template         <file>
//	}]
//	sign_in {
//		provider            <provider>      # or organization_id <org_…> or connection_id <conn_…>
//		screen_hint         sign-in|sign-up
//		allow_organizations <org_…...>
//		allow_connections   <conn_…...>
//		allow_providers     <provider...>
//		pass_through        login_hint|domain_hint|screen_hint...
//	}
//
// An unquoted # starts a Caddyfile comment, so a colour is written quoted ("#4f46e5") or
// without its # (4f46e5).
func (a *App) unmarshalConsent(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		switch d.Val() {
		case "on":
			a.DisableConsent = false
		case "off":
			a.DisableConsent = true
		default:
			return d.Errf("consent must be on or off, not %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	c := &ConsentConfig{}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return d.Errf("consent: %s specified more than once", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "product_name":
			c.ProductName, err = oneArg(d)
		case "logo_url":
			c.LogoURL, err = oneArg(d)
		case "primary_color":
			c.PrimaryColor, err = colorArg(d)
		case "background_color":
			c.BackgroundColor, err = colorArg(d)
		case "template":
			c.Template, err = oneArg(d)
		default:
			return d.Errf("unrecognized consent option '%s'", name)
		}
		if err != nil {
			return err
		}
	}
	if len(seen) > 0 {
		if a.DisableConsent {
			return d.Err("consent off has no page to brand: remove the block or turn consent on")
		}
		a.Consent = c
	}
	return nil
}

func (a *App) unmarshalSignIn(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	s := &SignInConfig{}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return d.Errf("sign_in: %s specified more than once", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "provider":
			s.Provider, err = oneArg(d)
		case "organization_id":
			s.OrganizationID, err = oneArg(d)
		case "connection_id":
			s.ConnectionID, err = oneArg(d)
		case "screen_hint":
			s.ScreenHint, err = oneArg(d)
		case "allow_organizations":
			err = appendArgs(d, &s.AllowOrganizations)
		case "allow_connections":
			err = appendArgs(d, &s.AllowConnections)
		case "allow_providers":
			err = appendArgs(d, &s.AllowProviders)
		case "pass_through":
			err = appendArgs(d, &s.PassThrough)
		default:
			return d.Errf("unrecognized sign_in option '%s'", name)
		}
		if err != nil {
			return err
		}
	}
	// The values are checked where the JSON form is too (Validate), with the same messages.
	if err := a.signInOptionsOf(s).Check(); err != nil {
		return d.Err(err.Error())
	}
	a.SignIn = s
	return nil
}

var bareHexColor = regexp.MustCompile(`^(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// colorArg reads a colour, adding the # to one written without it.
func colorArg(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	if !d.NextArg() {
		return "", d.Errf(`%s needs a colour: write it quoted ("#4f46e5") or without the # (4f46e5); an unquoted # starts a comment`, name)
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	if bareHexColor.MatchString(v) {
		v = "#" + v
	}
	return v, nil
}
