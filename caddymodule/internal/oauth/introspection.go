package oauth

// introspection.go is the introspection endpoint (RFC 7662), for resource servers behind the
// gateway that want to ask whether a token is live. It needs the credential the operator
// configured (Config.IntrospectionSecretSHA256, presented as a bearer token); without it: 401.
// Any token that is not live gets {"active":false}, never a reason.

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// introspection is the RFC 7662 answer for a live token.
type introspection struct {
	Active         bool     `json:"active"`
	Subject        string   `json:"sub,omitempty"`
	ClientID       string   `json:"client_id,omitempty"`
	Expiry         int64    `json:"exp,omitempty"`
	IssuedAt       int64    `json:"iat,omitempty"`
	SessionID      string   `json:"sid,omitempty"`
	OrganizationID string   `json:"org_id,omitempty"`
	Permissions    []string `json:"permissions,omitempty"`
	Role           string   `json:"role,omitempty"`
	TokenType      string   `json:"token_type,omitempty"`
	Issuer         string   `json:"iss,omitempty"`
}

// introspectionAuthorized reports whether r carries the operator's introspection credential,
// compared as a SHA-256 digest in constant time (the configuration holds only the digest).
func (s *Server) introspectionAuthorized(r *http.Request) bool {
	want := s.cfg.IntrospectionSecretSHA256
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if len(want) != sha256.Size || !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > 1024 {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	if !s.introspectionAuthorized(r) {
		// Failed attempts are rate limited per address, so the credential cannot be guessed
		// online; resource servers that present it are never limited.
		if ok, retry := rt.Limiter.Allow(r.Context(), "introspect-refused|"+s.clientIP(r)); !ok {
			return respond.RateLimited(retry)
		}
		e := respond.InvalidClient("Introspection needs the operator's introspection credential as a bearer token")
		e.WWWAuthenticate = `Bearer realm="drio introspection"`
		return e
	}
	form, e := parseForm(w, r)
	if e != nil {
		return e
	}
	p, e := s.presentedToken(r, rt, form, "introspect")
	if e != nil {
		return e
	}
	answer := introspection{}
	switch p.kind {
	case tokenAccess:
		c := p.claims
		answer = introspection{Active: true, Subject: c.Subject, ClientID: p.clientID, Expiry: c.Expiry.Unix(),
			IssuedAt: unixOrZero(c.IssuedAt.Unix(), c.IssuedAt.IsZero()), SessionID: c.SessionID,
			OrganizationID: c.OrganizationID, Permissions: c.Permissions, Role: c.Role, TokenType: "Bearer", Issuer: c.Issuer}
	case tokenRefresh:
		answer = introspection{Active: true, Subject: p.session.UserID, ClientID: p.clientID,
			IssuedAt: p.session.CreatedAt, SessionID: p.session.ID, OrganizationID: p.session.OrganizationID,
			TokenType: "refresh_token"}
	}
	result := "inactive"
	if answer.Active {
		result = "active"
	}
	metrics.Introspections.WithLabelValues(result).Inc()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	respond.JSON(w, http.StatusOK, answer)
	return nil
}

func unixOrZero(v int64, zero bool) int64 {
	if zero {
		return 0
	}
	return v
}
