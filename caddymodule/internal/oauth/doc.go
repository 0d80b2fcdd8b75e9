// Package oauth is the gateway's authorization server: discovery (RFC 8414, RFC 9728), dynamic
// client registration (RFC 7591), the authorization code flow with PKCE whose sign-in step is
// WorkOS AuthKit, and the token endpoint with its two grants. It knows nothing of Caddy: the
// Caddy handler builds a Server from its configuration and hands it every request.
//
// One file per endpoint (discovery.go, register.go, authorize.go, consent.go, callback.go,
// token.go) and per grant (grant_code.go, grant_refresh.go); revoke.go ends a grant. Every
// handler returns its failure as a *respond.Error, which ServeHTTP writes in one place, in the
// delivery the error names (OAuth JSON, local page or redirect to the client). What is checked
// about a request lives beside it: client.go (lookup and authentication), checks.go (scope and
// resource), redirect.go (redirect URIs), pkce.go, request.go (bounded parsing), cookies.go
// (browser binding, remembered consent, CSRF), ratelimit.go.
//
// The path of one sign-in: authorize.go stores a pending authorization and shows the consent
// page; consent.go sends the browser to WorkOS; callback.go exchanges the WorkOS code, records
// the session and mints a bridge code; token.go dispatches to grant_code.go, which redeems it.
package oauth
