package caddymodule

// caddyfile_consent.go parses the drio option's consent and sign_in blocks:
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

import (
	"regexp"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

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
