package caddymodule

// config_consent.go holds the operator's say over what the user sees: the consent page's
// branding or template, and how WorkOS signs the user in (defaults, and what a client may
// choose on /authorize).

import (
	"fmt"

	"go.uber.org/zap"

	"html/template"
	"slices"

	"github.com/caddyserver/caddy/v2"

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
