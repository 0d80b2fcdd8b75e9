// cors.go lets browser-based clients (SPAs, browser MCP clients) call protected routes from
// origins the operator allows. Bearer tokens travel in a header, never in cookies, so
// credentials are never allowed; a preflight carries no token by definition and is answered
// here, before the bearer check.

package caddymodule

import (
	"net/http"
	"slices"
)

// corsAllowHeaders are the request headers a browser client may send to a protected route.
const corsAllowHeaders = "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID"

// corsExposeHeaders are the response headers a browser client may read: the challenge that
// leads it to the authorization server, and MCP's session id.
const corsExposeHeaders = "WWW-Authenticate, Retry-After, Mcp-Session-Id, X-Request-Id"

// allowOrigin returns the Access-Control-Allow-Origin value for origin, or "" when the
// operator did not allow it.
func (p *Protect) allowOrigin(origin string) string {
	switch {
	case origin == "" || len(p.CORSOrigins) == 0:
		return ""
	case slices.Contains(p.CORSOrigins, "*"):
		return "*"
	case slices.Contains(p.CORSOrigins, origin):
		return origin
	}
	return ""
}

// handleCORS adds the CORS headers of an allowed origin to a protected route's answer, and
// answers a preflight itself (204, with the headers only if the origin is allowed). It
// reports true when it wrote the whole response.
func (p *Protect) handleCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	h := w.Header()
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	if allowed := p.allowOrigin(origin); allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
		h.Add("Vary", "Origin")
	} else if origin == "" || r.Method != http.MethodOptions {
		return false
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	if h.Get("Access-Control-Allow-Origin") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}
