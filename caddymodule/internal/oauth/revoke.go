package oauth

// revoke.go ends a grant: the session registry refuses its sid at once, its refresh tokens die
// with it, and WorkOS is told to end the session too.

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
)

// RevocationReason says why a session was revoked: Label is its metric label value, Text is
// what the session record and the log say.
type RevocationReason struct{ Label, Text string }

// Why sessions are revoked.
var (
	RevokeCodeReplay      = RevocationReason{"code_replay", "authorization code replayed"}
	RevokeRefreshReuse    = RevocationReason{"refresh_reuse", "rotated refresh token reused"}
	RevokeUpstreamRefused = RevocationReason{"upstream_refused", "WorkOS refused the refresh"}
	RevokeByClient        = RevocationReason{"client_revoked", "the client revoked its token"}
	RevokeLogout          = RevocationReason{"logout", "the user signed out"}
	RevokeByAdmin         = RevocationReason{"admin", "an operator revoked the session"}
)

// revokeTimeout bounds the store write of a revocation, which runs detached from the request
// that caused it.
const revokeTimeout = 10 * time.Second

// RevokeGrant ends a brokered session. WorkOS is told in the background, bounded by its
// timeout; the gateway refuses the session whatever WorkOS answers.
//
// It reports whether the session is revoked now (by this call or an earlier one); false means
// the store failed and the revocation must be retried.
func (s *Server) RevokeGrant(sid string, why RevocationReason, rt *Runtime) bool {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	revoked, err := rt.Grants.Sessions.Revoke(ctx, sid, why.Text, s.cfg.SessionTTL)
	if err != nil {
		s.logger.Error("revoking session", zap.String("session_id", sid), zap.Error(err))
	}
	if !revoked {
		return err == nil
	}
	metrics.Revocations.WithLabelValues(why.Label).Inc()
	s.logger.Warn("session revoked", zap.String("session_id", sid), zap.String("reason", why.Text))
	go func() {
		if err := s.bridge.RevokeSession(sid); err != nil {
			s.logger.Warn("WorkOS session revoke failed; the gateway refuses the session anyway",
				zap.String("session_id", sid), zap.String("reason", workos.Reason(err)))
		}
	}()
	return true
}
