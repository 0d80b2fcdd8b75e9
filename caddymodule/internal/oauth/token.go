package oauth

// token.go is the token endpoint and drio's own refresh route: it parses the form,
// authenticates the client, and dispatches to one grant (grant_code.go, grant_refresh.go).

import (
	"net/http"
	"slices"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

const (
	maxCodeLength         = 512
	maxRefreshTokenLength = 4096
)

// tokenResponse is exactly the body drio v1 answers.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	return s.serveTokenRoute(w, r, rt, false)
}

// serveRefresh is /auth/refresh: the refresh grant with drio's fields (client_id,
// redirect_uri, refresh_token); grant_type may be omitted.
func (s *Server) serveRefresh(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	return s.serveTokenRoute(w, r, rt, true)
}

func (s *Server) serveTokenRoute(w http.ResponseWriter, r *http.Request, rt *Runtime, refreshRoute bool) *respond.Error {
	form, client, e := s.clientForm(w, r, rt)
	if e != nil {
		return e
	}
	grant := form.Get("grant_type")
	if refreshRoute && grant == "" {
		grant = "refresh_token"
	}
	var pair *grants.TokenPair
	switch grant {
	case "":
		return respond.MissingField("grant_type")
	case "authorization_code":
		if refreshRoute {
			return respond.New(http.StatusBadRequest, respond.CodeUnsupportedGrantType, "This endpoint only refreshes; use the token endpoint")
		}
		if e := grantRegistered(client, grant); e != nil {
			return e
		}
		pair, e = s.redeemCode(r, rt, client, form)
	case "refresh_token":
		if e := grantRegistered(client, grant); e != nil {
			return e
		}
		pair, e = s.refreshGrant(r, rt, client, form)
	default:
		return respond.New(http.StatusBadRequest, respond.CodeUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
	}
	if e != nil {
		return e
	}
	metrics.Tokens.WithLabelValues(grant).Inc()
	s.renewClient(r, rt, client)
	expiresIn := max(pair.ExpiresAt-time.Now().Unix(), 0)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	respond.JSON(w, http.StatusOK, tokenResponse{
		AccessToken:  pair.AccessToken,
		RefreshToken: pair.RefreshToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
	})
	return nil
}

// grantRegistered refuses a grant the client did not register (RFC 7591 §2: grant_types).
// Registrations made before the gateway enforced it keep every grant it serves, so an upgrade
// does not stop existing clients from refreshing.
func grantRegistered(client *grants.Client, grant string) *respond.Error {
	if !client.GrantTypesEnforced || slices.Contains(client.GrantTypes, grant) {
		return nil
	}
	return respond.New(http.StatusBadRequest, respond.CodeUnauthorizedClient,
		"This client did not register the %s grant; register it in grant_types", grant)
}
