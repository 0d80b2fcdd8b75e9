package oauth

// signin.go is how the user signs in at WorkOS: the operator's defaults (which connection
// selector, which AuthKit screen) and what a client may choose for one authorization. A
// selector the operator did not allow is refused, never silently replaced; a hint the operator
// did not pass through is ignored, as OAuth ignores any parameter it does not know.

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
)

// SignInOptions are the WorkOS sign-in defaults and what a client may choose per request.
// The zero value signs everyone in through AuthKit and lets clients choose nothing.
type SignInOptions struct {
	// Provider, OrganizationID and ConnectionID are the default connection selector; WorkOS
	// takes exactly one, so at most one may be set. None: provider authkit.
	Provider       string
	OrganizationID string
	ConnectionID   string
	// ScreenHint is the default AuthKit screen, sign-in or sign-up (only with provider authkit).
	ScreenHint string
	// AllowOrganizations, AllowConnections and AllowProviders are the values a client may send
	// as organization_id, connection_id or provider on /authorize. A client's selector replaces
	// the default; one not listed is refused with invalid_request.
	AllowOrganizations []string
	AllowConnections   []string
	AllowProviders     []string
	// PassThrough names the hints a client may send on /authorize: login_hint, domain_hint,
	// screen_hint. Others are ignored.
	PassThrough []string
}

// Hints a client may send when the operator passes them through.
const (
	hintLogin  = "login_hint"
	hintDomain = "domain_hint"
	hintScreen = "screen_hint"
)

// maxLoginHint bounds login_hint (an email address is at most 254 characters).
const maxLoginHint = 256

var (
	organizationID = regexp.MustCompile(`^org_[A-Za-z0-9]{1,64}$`)
	connectionID   = regexp.MustCompile(`^conn_[A-Za-z0-9]{1,64}$`)
	hostnameRE     = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*$`)
)

// Check reports the first option that is not acceptable, with what to write instead.
func (o SignInOptions) Check() error {
	set := 0
	for _, v := range []string{o.Provider, o.OrganizationID, o.ConnectionID} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return fmt.Errorf("sign_in: set at most one of provider, organization_id and connection_id: WorkOS takes exactly one selector")
	}
	for _, p := range append([]string{o.Provider}, o.AllowProviders...) {
		if p != "" && !slices.Contains(workos.Providers, p) {
			return fmt.Errorf("sign_in: unknown provider %q: use one of %s", p, strings.Join(workos.Providers, ", "))
		}
	}
	for _, id := range append([]string{o.OrganizationID}, o.AllowOrganizations...) {
		if id != "" && !organizationID.MatchString(id) {
			return fmt.Errorf("sign_in: %q is not a WorkOS organization id (org_…)", id)
		}
	}
	for _, id := range append([]string{o.ConnectionID}, o.AllowConnections...) {
		if id != "" && !connectionID.MatchString(id) {
			return fmt.Errorf("sign_in: %q is not a WorkOS connection id (conn_…)", id)
		}
	}
	if o.ScreenHint != "" {
		if o.ScreenHint != "sign-in" && o.ScreenHint != "sign-up" {
			return fmt.Errorf("sign_in: screen_hint must be sign-in or sign-up, not %q", o.ScreenHint)
		}
		if o.Provider != "" && o.Provider != workos.ProviderAuthKit || o.OrganizationID != "" || o.ConnectionID != "" {
			return fmt.Errorf("sign_in: screen_hint works only with provider authkit")
		}
	}
	for _, name := range o.PassThrough {
		switch name {
		case hintLogin, hintDomain, hintScreen:
		case "organization_id", "connection_id", "provider":
			return fmt.Errorf("sign_in: pass_through %s: list the values clients may choose with allow_organizations, allow_connections or allow_providers instead", name)
		default:
			return fmt.Errorf("sign_in: pass_through %q: only login_hint, domain_hint and screen_hint can be passed through", name)
		}
	}
	return nil
}

// parseSignIn reads a client's sign-in choices from an authorization request and resolves
// them against the operator's options. The error text is the invalid_request description.
func (s *Server) parseSignIn(q url.Values) (*grants.SignIn, string) {
	o := &s.cfg.SignIn
	in := &grants.SignIn{}
	selectors := 0
	for _, sel := range []struct {
		name  string
		allow []string
		dst   *string
	}{
		{"organization_id", o.AllowOrganizations, &in.OrganizationID},
		{"connection_id", o.AllowConnections, &in.ConnectionID},
		{"provider", o.AllowProviders, &in.Provider},
	} {
		v := q.Get(sel.name)
		if v == "" {
			continue
		}
		if !slices.Contains(sel.allow, v) {
			return nil, fmt.Sprintf("%s %q is not one this gateway allows", sel.name, sanitizeName(v))
		}
		*sel.dst = v
		selectors++
	}
	switch {
	case selectors > 1:
		return nil, "Send at most one of organization_id, connection_id and provider"
	case selectors == 0:
		in.Provider, in.OrganizationID, in.ConnectionID = o.Provider, o.OrganizationID, o.ConnectionID
	}
	if in.Provider == "" && in.OrganizationID == "" && in.ConnectionID == "" {
		in.Provider = workos.ProviderAuthKit
	}
	authkit := in.Provider == workos.ProviderAuthKit
	if v := q.Get(hintScreen); v != "" && slices.Contains(o.PassThrough, hintScreen) {
		if v != "sign-in" && v != "sign-up" {
			return nil, "screen_hint must be sign-in or sign-up"
		}
		if !authkit {
			return nil, "screen_hint works only with provider authkit"
		}
		in.ScreenHint = v
	} else if authkit {
		in.ScreenHint = o.ScreenHint
	}
	if v := q.Get(hintLogin); v != "" && slices.Contains(o.PassThrough, hintLogin) {
		if len(v) > maxLoginHint || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool {
			return unicode.IsControl(r) || unicode.IsSpace(r)
		}) >= 0 {
			return nil, fmt.Sprintf("login_hint must be an email address or an opaque value of at most %d characters, without spaces or control characters", maxLoginHint)
		}
		in.LoginHint = v
	}
	if v := q.Get(hintDomain); v != "" && slices.Contains(o.PassThrough, hintDomain) {
		if len(v) > 253 || !hostnameRE.MatchString(v) {
			return nil, "domain_hint must be a domain name such as example.com"
		}
		in.DomainHint = v
	}
	return in, ""
}

// signInMismatch names what of a completed sign-in differs from what the gateway asked WorkOS
// for ("organization", "provider" or "connection"), or returns "" when nothing does. The
// AuthKit URL passes through the user's browser, where its selector can be rewritten, so the
// allow lists checked at /authorize would mean little if WorkOS's answer were not checked too:
// the session must be in the organization asked for, and the user must have authenticated by
// the provider asked for (WorkOS reports GoogleOAuth, GitHubOAuth, … under the provider's own
// name) or, for a connection, by SSO. Which SSO connection WorkOS does not report, so a
// connection rewritten into another SSO connection of the same WorkOS environment is not
// caught here. A sign-in through AuthKit may end in any method and any organization.
func signInMismatch(asked *grants.SignIn, org, method string) string {
	switch {
	case asked == nil:
		return ""
	case asked.OrganizationID != "" && org != asked.OrganizationID:
		return "organization"
	case asked.Provider != "" && asked.Provider != workos.ProviderAuthKit && method != asked.Provider:
		return "provider"
	case asked.ConnectionID != "" && method != authMethodSSO:
		return "connection"
	}
	return ""
}

// authMethodSSO is WorkOS's authentication_method for a sign-in through an SSO connection.
const authMethodSSO = "SSO"

// workosSignIn is the bridge's form of a pending authorization's sign-in choices (nil for one
// stored before they were recorded: AuthKit, no hints).
func workosSignIn(in *grants.SignIn) workos.SignIn {
	if in == nil {
		return workos.SignIn{}
	}
	return workos.SignIn{
		Provider:       in.Provider,
		OrganizationID: in.OrganizationID,
		ConnectionID:   in.ConnectionID,
		ScreenHint:     in.ScreenHint,
		LoginHint:      in.LoginHint,
		DomainHint:     in.DomainHint,
	}
}
