package oauth

// tokens.go finds the brokered session a presented token belongs to, for the endpoints that
// act on a token rather than a grant (revocation, introspection, logout).

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// tokenKind says what a presented token turned out to be.
type tokenKind int

const (
	tokenUnknown tokenKind = iota
	tokenAccess
	tokenRefresh
)

// presented is a token the gateway recognised, with the live session it belongs to.
type presented struct {
	kind     tokenKind
	session  *grants.Session
	refresh  *grants.Refresh  // for a refresh token
	claims   *verifier.Claims // for an access token
	clientID string
}

// identify finds what token is: a refresh token this gateway issued, or a WorkOS access token
// that verifies, and in both cases the live session it belongs to. hint
// ("access_token"/"refresh_token") only orders the lookups (RFC 7009 §2.1). Anything else,
// including a token of a revoked or unknown session, is tokenUnknown with a nil error; the
// error is for a store that failed.
func (s *Server) identify(ctx context.Context, rt *Runtime, token, hint string) (*presented, error) {
	if token == "" || len(token) > maxRefreshTokenLength {
		return &presented{}, nil
	}
	asRefresh := func() (*presented, error) {
		rec, err := rt.Grants.Refresh.Get(ctx, token)
		if errors.Is(err, grants.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if rec.State == grants.RefreshDead || rec.State == grants.RefreshRotated {
			return &presented{}, nil
		}
		sess, err := rt.Grants.Sessions.Live(ctx, rec.SessionID)
		if err != nil || sess == nil {
			return &presented{}, err
		}
		return &presented{kind: tokenRefresh, session: sess, refresh: rec, clientID: rec.ClientID}, nil
	}
	asAccess := func() (*presented, error) {
		claims, err := rt.Verifier.Verify(ctx, token)
		if err != nil {
			return nil, nil
		}
		sess, err := rt.Grants.Sessions.Live(ctx, claims.SessionID)
		if err != nil {
			return nil, err
		}
		if sess == nil || sess.UserID != claims.Subject {
			return &presented{}, nil
		}
		return &presented{kind: tokenAccess, session: sess, claims: claims, clientID: sess.ClientID}, nil
	}
	order := []func() (*presented, error){asAccess, asRefresh}
	if hint == "refresh_token" {
		order = []func() (*presented, error){asRefresh, asAccess}
	}
	for _, try := range order {
		p, err := try()
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
	return &presented{}, nil
}

// presentedToken identifies the token a form names (token, token_type_hint), which is
// required; during names the endpoint in a store failure's log line.
func (s *Server) presentedToken(r *http.Request, rt *Runtime, form url.Values, during string) (*presented, *respond.Error) {
	token := form.Get("token")
	if token == "" {
		return nil, respond.MissingField("token")
	}
	p, err := s.identify(r.Context(), rt, token, form.Get("token_type_hint"))
	if err != nil {
		return nil, s.storeFailed(r, during, err)
	}
	return p, nil
}
