// caddyfile.go registers the Caddyfile syntax: the `drio` global option (the app) and the
// `drio_oauth` and `drio_protect` directives, with their order, so operators write no `order`
// lines.

package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("drio", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("drio_oauth", parseOAuth)
	httpcaddyfile.RegisterHandlerDirective("drio_protect", parseProtect)
	// The OAuth routes must answer before the bearer check, and both before any handler
	// that responds (handle, reverse_proxy, …). Anchored to different standard directives so
	// their relative order never depends on registration order; a golden test pins it.
	httpcaddyfile.RegisterDirectiveOrder("drio_oauth", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterDirectiveOrder("drio_protect", httpcaddyfile.After, "basic_auth")
}

func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the drio global option may appear only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "drio", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from Caddyfile tokens. Syntax:
//
//	drio {
//		issuer      <url>
//		api_base    <path>
//		workos {
//			client_id <id>
//			api_key   <key>
//			api_key_file <path>
//			endpoint  <url>
//			timeout   <duration>
//		}
//		storage badger [<dir>] [{
//			sync_writes
//		}]
//		storage redis <url> [{
//			prefix <prefix>
//		}]
//		consent [on|off] [{ … }]   (see consent.go)
//		sign_in { … }
//		token_issuers <iss...>
//		audience <aud>
//		allow_foreign_sessions
//		redirect_schemes <scheme...>
//		scopes <scope...>
//		pending_ttl <duration>
//		code_ttl <duration>
//		session_ttl <duration>
//		refresh_grace <duration>
//		client_ttl <duration>
//		introspection_secret_sha256 <hex>
//		post_logout_redirect_uris <uri...>
//		registration_quota <n>
//		rate_limit off | <per_second> [<burst>] {
//			on_store_error open|closed
//		}
//		client_metadata_documents on|off [{
//			trust_ca <pem file>
//			allow_private_addresses
//		}]
//		registration open|off [{ initial_access_token_sha256 <hex> }]
//		client <id> { … }    (options in unmarshalClient)
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] && name != "token_issuers" && name != "redirect_schemes" && name != "scopes" && name != "post_logout_redirect_uris" && name != "client" {
			return d.Errf("%s specified more than once", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "issuer":
			a.Issuer, err = oneArg(d)
		case "api_base":
			a.APIBase, err = oneArg(d)
		case "workos":
			err = a.unmarshalWorkOS(d)
		case "storage":
			err = a.unmarshalStorage(d)
		case "consent":
			err = a.unmarshalConsent(d)
		case "sign_in":
			err = a.unmarshalSignIn(d)
		case "token_issuers":
			err = appendArgs(d, &a.TokenIssuers)
		case "audience":
			a.Audience, err = oneArg(d)
		case "allow_foreign_sessions":
			if d.NextArg() {
				return d.ArgErr()
			}
			a.AllowForeignSessions = true
		case "redirect_schemes":
			err = appendArgs(d, &a.RedirectSchemes)
		case "scopes":
			err = appendArgs(d, &a.Scopes)
		case "pending_ttl":
			err = durationArg(d, &a.PendingTTL)
		case "code_ttl":
			err = durationArg(d, &a.CodeTTL)
		case "session_ttl":
			err = durationArg(d, &a.SessionTTL)
		case "refresh_grace":
			err = durationArg(d, &a.RefreshGrace)
		case "client_ttl":
			err = durationArg(d, &a.ClientTTL)
		case "introspection_secret_sha256":
			a.IntrospectionSecretSHA256, err = oneArg(d)
		case "post_logout_redirect_uris":
			err = appendArgs(d, &a.LogoutRedirects)
		case "registration_quota":
			var v string
			if v, err = oneArg(d); err == nil {
				if a.RegistrationQuota, err = strconv.Atoi(v); err != nil || a.RegistrationQuota <= 0 {
					err = d.Errf("registration_quota: %q is not a positive whole number of registrations per address and day", v)
				}
			}
		case "rate_limit":
			err = a.unmarshalRateLimit(d)
		case "client_metadata_documents":
			err = a.unmarshalClientDocuments(d)
		case "client":
			err = a.unmarshalClient(d)
		case "registration":
			err = a.unmarshalRegistration(d)
		default:
			return d.Errf("unrecognized drio option '%s'", name)
		}
		if err != nil {
			return err
		}
	}
	return a.checkClientBlocks()
}

func parseOAuth(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	o := new(OAuth)
	err := o.UnmarshalCaddyfile(h.Dispenser)
	return o, err
}

// UnmarshalCaddyfile sets up the handler. It takes no arguments; all of its configuration
// is in the drio global option. Syntax:
//
//	drio_oauth
func (h *OAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Err("drio_oauth takes no block: configure it in the drio global option")
	}
	return nil
}

func parseProtect(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Protect)
	err := p.UnmarshalCaddyfile(h.Dispenser)
	return p, err
}

// UnmarshalCaddyfile sets up the handler. Syntax:
//
//	drio_protect [<matcher>] {
//		public        <path...>
//		forward_token
//		strip_header  <name...>
//		cors_origins  <origin...> | *
//		require       <method[,method...]>|* <path> <permission...>
//		require_role  <method[,method...]>|* <path> <role...>
//	}
//
// Each require line is one permission rule: a request with one of the methods (any case; GET
// covers HEAD; * for every method) whose path matches the pattern (Caddy path-matcher
// patterns, compared without case with the cleaned path; a trailing slash does not matter)
// needs every listed WorkOS permission. A require_role line needs one of the listed roles.
// Every rule that matches a request applies, and a token that fails one gets 403 forbidden.
// For example:
//
//	require      POST,PATCH,DELETE /api/v1/apps* apps:write
//	require_role DELETE            /api/v1/apps/* admin
func (p *Protect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "public":
			if err := appendArgs(d, &p.Public); err != nil {
				return err
			}
		case "forward_token":
			if d.NextArg() {
				return d.ArgErr()
			}
			p.ForwardToken = true
		case "strip_header":
			if err := appendArgs(d, &p.StripHeaders); err != nil {
				return err
			}
		case "cors_origins":
			if err := appendArgs(d, &p.CORSOrigins); err != nil {
				return err
			}
		case "require", "require_role":
			name, roles := d.Val(), d.Val() == "require_role"
			args := d.RemainingArgs()
			if len(args) < 3 {
				if roles {
					return d.Err("require_role needs a method (or *), a path pattern and at least one role, e.g. require_role DELETE /api/v1/apps/* admin")
				}
				return d.Err("require needs a method (or *), a path pattern and at least one permission, e.g. require POST /api/v1/apps* apps:write")
			}
			r, err := permissionRuleFromArgs(args[0], args[1], args[2:], roles)
			if err != nil {
				return d.Errf("%s: %v", name, err)
			}
			p.Rules = append(p.Rules, r)
		default:
			return d.Errf("unrecognized drio_protect option '%s'", d.Val())
		}
	}
	return nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func appendArgs(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	v, err := oneArg(d)
	if err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return d.Errf("bad duration %q: %v", v, err)
	}
	if dur <= 0 {
		return d.Errf("duration %q must be positive", v)
	}
	*dst = caddy.Duration(time.Duration(dur))
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*OAuth)(nil)
	_ caddyfile.Unmarshaler = (*Protect)(nil)
)
