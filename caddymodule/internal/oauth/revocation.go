package oauth

// revocation.go is the revocation endpoint (RFC 7009). A client ends its own grant by
// presenting its refresh or access token: the session is revoked at the gateway (the bearer
// check refuses its access tokens on the very next request, cached verifications included,
// since the session is checked after the signature), its refresh tokens die with it, and
// WorkOS is told. An unknown token, or one of another client, gets 200 and changes nothing,
// so the answer reveals nothing about tokens (RFC 7009 §2.2).

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

func (s *Server) serveRevocation(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	form, client, e := s.clientForm(w, r, rt)
	if e != nil {
		return e
	}
	p, e := s.presentedToken(r, rt, form, "revoke")
	if e != nil {
		return e
	}
	if p.kind != tokenUnknown && p.clientID == client.ID {
		if !s.RevokeGrant(p.session.ID, RevokeByClient, rt) {
			return respond.Unavailable(retryAfterStore, "The revocation could not be stored; retry")
		}
		s.logger.Info("grant revoked by its client", zap.String("client_id", client.ID),
			zap.String("session_id", p.session.ID), zap.String("request_id", s.requestID(r)))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	return nil
}
