// headers.go removes client-supplied identity headers before the gateway sets its own, in
// every case and underscore variant, and keeps a client from deleting the gateway's headers by
// naming them in Connection.

package caddymodule

import (
	"net/http"
	"strings"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

// Identity headers the gateway sets for the upstream.
const (
	HeaderUserID      = "X-Drio-User-Id"
	HeaderOrgID       = "X-Drio-Org-Id"
	HeaderSessionID   = "X-Drio-Session-Id"
	HeaderUserEmail   = "X-Drio-User-Email"
	HeaderUserRole    = "X-Drio-User-Role"
	HeaderPermissions = "X-Drio-User-Permissions"
	HeaderRequestID   = "X-Request-Id"
)

// identityPrefix: every header whose normalized name starts with it is the gateway's alone.
const identityPrefix = "x-drio-"

// commonIdentityHeaders are identity headers other gateways use, which an upstream might
// trust; they never come from a client. Names are normalized (lower case, '-' for '_').
var commonIdentityHeaders = map[string]bool{
	"x-user-id": true, "x-user-email": true, "x-user": true, "x-email": true,
	"x-auth-user": true, "x-auth-email": true, "x-auth-request-user": true,
	"x-auth-request-email": true, "x-auth-request-preferred-username": true,
	"x-auth-request-groups": true, "x-forwarded-user": true, "x-forwarded-email": true,
	"x-forwarded-preferred-username": true, "x-forwarded-groups": true, "x-remote-user": true,
	"remote-user": true, "x-org-id": true, "x-session-id": true, "x-authenticated-user": true,
}

// normalizeHeaderName folds case and treats '_' as '-', as some upstreams (CGI, nginx with
// underscores_in_headers, Python WSGI) do.
func normalizeHeaderName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// isIdentityHeader reports whether name (any case, any '_'/'-' mix) is one the gateway owns.
func isIdentityHeader(name string, extra map[string]bool) bool {
	// Fast path for the hot loop: every built-in name starts with x or r, so most request
	// headers (Accept, Host, User-Agent, …) are decided without allocating.
	if len(extra) == 0 && name != "" {
		if c := name[0] | 0x20; c != 'x' && c != 'r' {
			return false
		}
	}
	n := normalizeHeaderName(name)
	return strings.HasPrefix(n, identityPrefix) || commonIdentityHeaders[n] || extra[n] || n == "x-request-id"
}

// sanitizeRequestHeaders deletes every client-sent identity header, drops Connection tokens
// that would make the proxy delete the gateway's own headers, and removes the gateway's
// cookies. It also removes Authorization unless keepAuthorization.
func sanitizeRequestHeaders(h http.Header, extra map[string]bool, keepAuthorization bool) {
	for name := range h {
		if isIdentityHeader(name, extra) {
			delete(h, name)
		}
	}
	if !keepAuthorization {
		h.Del("Authorization")
	}
	if conn := h.Values("Connection"); len(conn) > 0 {
		var kept []string
		for _, v := range conn {
			for _, tok := range strings.Split(v, ",") {
				tok = strings.TrimSpace(tok)
				if tok == "" || isIdentityHeader(tok, extra) || strings.EqualFold(tok, "Authorization") {
					continue
				}
				kept = append(kept, tok)
			}
		}
		h.Del("Connection")
		if len(kept) > 0 {
			h.Set("Connection", strings.Join(kept, ", "))
		}
	}
	stripModuleCookies(h)
}

// stripModuleCookies removes the gateway's own cookies from the Cookie header.
func stripModuleCookies(h http.Header) {
	cookies := h.Values("Cookie")
	if len(cookies) == 0 {
		return
	}
	mine := false
	for _, line := range cookies {
		mine = mine || strings.Contains(line, oauth.BindingCookie) || strings.Contains(line, oauth.ConsentCookie)
	}
	if !mine {
		return
	}
	var kept []string
	for _, line := range cookies {
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || oauth.IsGatewayCookie(strings.TrimSpace(name)) {
				continue
			}
			kept = append(kept, part)
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}
