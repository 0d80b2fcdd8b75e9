package oauth

import (
	"net/http"
	"strings"
)

// corsAllowed reports whether path is a route a browser-based client calls with fetch;
// authorize and callback are navigations and never get CORS headers (RFC 9700 §2.6).
func (s *Server) corsAllowed(path string) bool {
	if strings.HasPrefix(path, "/.well-known/") {
		return true
	}
	switch strings.TrimPrefix(path, s.authPrefix) {
	case "register", "token", "refresh", "revoke":
		return true
	}
	return false
}

// handleCORS adds CORS headers where allowed and answers preflights; it reports true when it
// wrote the whole response.
func (s *Server) handleCORS(w http.ResponseWriter, r *http.Request) bool {
	if !s.corsAllowed(r.URL.Path) {
		return false
	}
	if r.Header.Get("Origin") != "" {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, MCP-Protocol-Version")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
