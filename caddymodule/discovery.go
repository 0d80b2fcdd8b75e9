// discovery.go serves the authorization-server metadata (RFC 8414) and the protected-resource
// metadata (RFC 9728), both built once from configuration, never from Host or X-Forwarded-*.

package caddymodule

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

const (
	retryAfterStartup = 2 * time.Second
	retryAfterStore   = 2 * time.Second
	retryAfterUpstrm  = 5 * time.Second
)

func (h *OAuth) buildDiscovery() error {
	a := h.app
	as := map[string]any{
		"issuer":                                         a.Issuer,
		"authorization_endpoint":                         a.endpoint("authorize"),
		"token_endpoint":                                 a.endpoint("token"),
		"registration_endpoint":                          a.endpoint("register"),
		"scopes_supported":                               a.Scopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"none"},
		"authorization_response_iss_parameter_supported": true,
	}
	var err error
	if h.asMetadata, err = json.Marshal(as); err != nil {
		return err
	}
	prm := func(resource string) ([]byte, error) {
		return json.Marshal(map[string]any{
			"resource":                 resource,
			"authorization_servers":    []string{a.Issuer},
			"scopes_supported":         a.Scopes,
			"bearer_methods_supported": []string{"header"},
			"resource_name":            "drio API",
		})
	}
	if h.prmRoot, err = prm(a.Issuer); err != nil {
		return err
	}
	h.prmAPI, err = prm(a.Issuer + a.APIBase)
	return err
}

func (h *OAuth) serveASMetadata(w http.ResponseWriter, r *http.Request) error {
	return h.serveDocument(w, r, h.asMetadata)
}

// servePRMetadata serves the document for the origin at the root location, and the one for
// the API base at the path-inserted location (/.well-known/oauth-protected-resource/api/v1).
func (h *OAuth) servePRMetadata(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.URL.Path, h.prmPrefix+"/") {
		return h.serveDocument(w, r, h.prmAPI)
	}
	return h.serveDocument(w, r, h.prmRoot)
}

func (h *OAuth) serveDocument(w http.ResponseWriter, r *http.Request, doc []byte) error {
	if !requireMethod(w, r, http.MethodGet, http.MethodHead) {
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
	return nil
}

// corsEndpoints are the routes a browser-based client calls with fetch; authorize and callback
// are navigations and never get CORS headers (RFC 9700 §2.6).
func (h *OAuth) corsAllowed(path string) bool {
	if strings.HasPrefix(path, "/.well-known/") {
		return true
	}
	switch strings.TrimPrefix(path, h.authPrefix) {
	case "register", "token", "refresh":
		return true
	}
	return false
}

// handleCORS adds CORS headers where allowed and answers preflights; it reports true when it
// wrote the whole response.
func (h *OAuth) handleCORS(w http.ResponseWriter, r *http.Request) bool {
	if !h.corsAllowed(r.URL.Path) {
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
