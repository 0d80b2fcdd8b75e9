package oauth

// checks.go holds the scope and resource rules shared by authorize, registration and the
// token endpoint.

import (
	"net/url"
	"slices"
	"strings"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// scopeSupported reports whether s is advertised (offline_access is accepted too, since
// refresh tokens are always issued).
func (s *Server) scopeSupported(scope string) bool {
	return scope == "offline_access" || slices.Contains(s.cfg.Scopes, scope)
}

// checkResource validates an RFC 8707 resource parameter at the token endpoint: one of ours,
// and the one bound at authorize if there was one.
func (s *Server) checkResource(form url.Values, bound string) *respond.Error {
	res := form.Get("resource")
	if res == "" {
		return nil
	}
	if !s.validResource(res) || (bound != "" && res != bound) {
		return respond.InvalidTarget("resource must be the one named at authorization, or %s or a path on it", s.cfg.Issuer)
	}
	return nil
}

// checkScope refuses a scope broader than the one granted.
func (s *Server) checkScope(form url.Values, granted string) *respond.Error {
	requested := strings.Fields(form.Get("scope"))
	if len(requested) == 0 {
		return nil
	}
	allowed := strings.Fields(granted)
	if len(allowed) == 0 {
		allowed = append(slices.Clone(s.cfg.Scopes), "offline_access")
	}
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return respond.InvalidScope("scope %q was not granted", sanitizeName(sc))
		}
	}
	return nil
}
