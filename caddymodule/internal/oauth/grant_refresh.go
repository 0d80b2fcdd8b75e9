package oauth

// grant_refresh.go rotates refresh tokens through WorkOS (grant_type=refresh_token, and drio's
// /auth/refresh). One rotation per token runs at a time: in-process through a single flight,
// across instances through a leased "rotating" state in the store. A retry with the
// just-rotated token within the grace window gets the same new pair; a later reuse revokes the
// session. Only WorkOS's own invalid_grant ends a session: WorkOS being unavailable, or
// refusing the gateway's credentials, leaves the token usable. A new access token is
// returned only once it verifies here, as at the callback.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// rotationWait bounds how long a request waits for another instance's rotation in flight.
const rotationWait = 5 * time.Second

func (s *Server) refreshGrant(r *http.Request, rt *Runtime, client *grants.Client, form url.Values) (*grants.TokenPair, *respond.Error) {
	token := form.Get("refresh_token")
	if token == "" {
		return nil, respond.MissingField("refresh_token")
	}
	if len(token) > maxRefreshTokenLength {
		return nil, respond.InvalidGrant("The refresh token is invalid")
	}
	if ru := form.Get("redirect_uri"); ru != "" && !s.redirectRegistered(client, ru) {
		return nil, respond.InvalidGrant("redirect_uri is not registered for this client")
	}
	if e := s.checkResource(form, ""); e != nil {
		return nil, e
	}
	if e := s.checkScope(form, client.Scope); e != nil {
		return nil, e
	}
	// Requests in this process with the same token share one rotation, which runs to its end
	// even if the client that started it hangs up.
	v, err, _ := s.refreshFlight.Do(grants.FlightKey(token, client.ID), func() (any, error) {
		pair, e := s.rotate(context.WithoutCancel(r.Context()), r, rt, client, token)
		if e != nil {
			return nil, e
		}
		return pair, nil
	})
	if err != nil {
		var e *respond.Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, respond.Server("Refresh failed")
	}
	return v.(*grants.TokenPair), nil
}

// rotate takes the rotation lease on token, or answers from the grace window, or waits for
// another instance's rotation in flight; with the lease it calls WorkOS.
func (s *Server) rotate(ctx context.Context, r *http.Request, rt *Runtime, client *grants.Client, token string) (*grants.TokenPair, *respond.Error) {
	deadline := time.Now().Add(rotationWait)
	for {
		var lease grants.Refresh
		var replayed *grants.TokenPair
		var sessionID, reuseOf string
		wait, undelivered := false, false
		err := rt.Grants.Refresh.Mutate(ctx, token, s.cfg.SessionTTL, func(rec *grants.Refresh, found bool) (grants.Decision, error) {
			replayed, reuseOf, wait, undelivered, sessionID = nil, "", false, rec.Undelivered, rec.SessionID
			if !found {
				return grants.Keep, respond.InvalidGrant("The refresh token is invalid or has expired")
			}
			if rec.ClientID != client.ID {
				return grants.Keep, respond.InvalidGrant("The refresh token was issued to another client")
			}
			sess, err := rt.Grants.Sessions.Live(ctx, rec.SessionID)
			if err != nil {
				return grants.Keep, err
			}
			if sess == nil || rec.State == grants.RefreshDead {
				return grants.Keep, respond.InvalidGrant("The session of this refresh token has ended; sign in again")
			}
			now := time.Now()
			switch rec.State {
			case grants.RefreshRotated:
				if rec.Undelivered || now.Sub(time.Unix(rec.RotatedAt, 0)) <= s.cfg.RefreshGrace {
					if pair, err := grants.OpenPair(token, grants.PurposeRefreshNext, rec.NextSealed); err == nil {
						replayed = pair
						return grants.Keep, nil
					}
				}
				reuseOf = rec.SessionID
				return grants.Keep, respond.InvalidGrant("The refresh token was already used; the session is revoked")
			case grants.RefreshRotating:
				if now.Unix() < rec.LeaseUntil {
					if now.Before(deadline) {
						wait = true
						return grants.Keep, nil
					}
					return grants.Keep, respond.Unavailable(time.Second, "A refresh with this token is in progress; retry")
				}
				// The lease expired: the rotator died. Take over below.
			}
			rec.State = grants.RefreshRotating
			rec.LeaseUntil = now.Add(s.cfg.RotationLease).Unix()
			rec.Lease = grants.RandomToken(9)
			lease = *rec
			return grants.Write, nil
		})
		if reuseOf != "" {
			s.RevokeGrant(reuseOf, RevokeRefreshReuse, rt)
		}
		if e := s.mutateFailed(r, "refresh", err); e != nil {
			return nil, e
		}
		switch {
		case replayed != nil:
			// The pair a lost answer carried: the client gets it only if it verifies now.
			if e := s.verifyRefreshed(ctx, r, rt, replayed, sessionID); e != nil {
				return nil, e
			}
			if undelivered {
				s.markDelivered(ctx, rt, token)
			}
			return replayed, nil
		case wait:
			if !sleepCtx(ctx, 50*time.Millisecond) {
				return nil, respond.Unavailable(time.Second, "Refresh in progress; retry")
			}
			continue
		}
		return s.callWorkOSRefresh(ctx, r, rt, token, &lease)
	}
}

// callWorkOSRefresh runs the upstream rotation under our lease and records the outcome.
func (s *Server) callWorkOSRefresh(ctx context.Context, r *http.Request, rt *Runtime, token string, lease *grants.Refresh) (*grants.TokenPair, *respond.Error) {
	ttl := s.cfg.SessionTTL
	// settle records the rotation's outcome, unless another rotation took the lease over.
	settle := func(change func(*grants.Refresh)) *respond.Error {
		err := rt.Grants.Refresh.Mutate(ctx, token, ttl, func(rec *grants.Refresh, found bool) (grants.Decision, error) {
			if !found || rec.State != grants.RefreshRotating || rec.Lease != lease.Lease {
				return grants.Keep, nil
			}
			rec.LeaseUntil, rec.Lease = 0, ""
			change(rec)
			return grants.Write, nil
		})
		return s.mutateFailed(r, "refresh", err)
	}
	resp, err := s.bridge.Refresh(ctx, token)
	if err != nil {
		verdict, reason := workos.Classify(err)
		s.logger.Warn("WorkOS refresh failed", zap.String("reason", reason), zap.String("session_id", lease.SessionID))
		if verdict != workos.Refused {
			if e := settle(func(rec *grants.Refresh) { rec.State = grants.RefreshActive }); e != nil {
				return nil, e
			}
			return nil, respond.Unavailable(retryAfterUpstream, "The sign-in service is unavailable; retry with the same refresh token")
		}
		if e := settle(func(rec *grants.Refresh) { rec.State = grants.RefreshDead }); e != nil {
			return nil, e
		}
		s.RevokeGrant(lease.SessionID, RevokeUpstreamRefused, rt)
		return nil, respond.InvalidGrant("The session has ended; sign in again")
	}
	// WorkOS has rotated the token: whatever the new access token's fate here, the new refresh
	// token is recorded and the rotation settled, so nothing is lost if the client retries.
	pair := &grants.TokenPair{AccessToken: resp.AccessToken, RefreshToken: resp.RefreshToken}
	fresh := &grants.Refresh{ClientID: lease.ClientID, SessionID: lease.SessionID, State: grants.RefreshActive}
	if err := rt.Grants.Refresh.Put(ctx, resp.RefreshToken, fresh, ttl); err != nil {
		return nil, s.storeFailed(r, "refresh", err)
	}
	sealed, err := grants.SealPair(token, grants.PurposeRefreshNext, pair)
	if err != nil {
		return nil, respond.Server("Refresh failed")
	}
	verified := s.verifyRefreshed(ctx, r, rt, pair, lease.SessionID)
	now := time.Now().Unix()
	if e := settle(func(rec *grants.Refresh) {
		rec.State, rec.RotatedAt, rec.NextSealed = grants.RefreshRotated, now, sealed
		rec.Undelivered = verified != nil
	}); e != nil {
		return nil, e
	}
	if verified != nil {
		return nil, verified
	}
	return pair, nil
}

// markDelivered records that the pair of an undelivered rotation has now been handed out, so
// from here on the grace window, and reuse detection after it, apply as for any rotation.
// Best effort: if it fails, the next retry gets the same pair again.
func (s *Server) markDelivered(ctx context.Context, rt *Runtime, token string) {
	now := time.Now().Unix()
	_ = rt.Grants.Refresh.Mutate(ctx, token, s.cfg.SessionTTL, func(rec *grants.Refresh, found bool) (grants.Decision, error) {
		if !found || rec.State != grants.RefreshRotated || !rec.Undelivered {
			return grants.Keep, nil
		}
		rec.Undelivered, rec.RotatedAt = false, now
		return grants.Write, nil
	})
}

// verifyRefreshed verifies the access token of a refreshed pair as the callback does, and
// sets the pair's expiry from it. A token that does not verify is never handed out: without
// keys the client is told to retry (within the grace window its retry gets this pair again,
// verified then), otherwise it gets server_error.
func (s *Server) verifyRefreshed(ctx context.Context, r *http.Request, rt *Runtime, pair *grants.TokenPair, sid string) *respond.Error {
	claims, err := rt.Verifier.Verify(ctx, pair.AccessToken)
	if errors.Is(err, verifier.ErrNoKeys) {
		return respond.Unavailable(retryAfterUpstream, "The sign-in service's keys are unavailable; retry with the same refresh token")
	}
	if err != nil || (sid != "" && claims.SessionID != sid) {
		s.logger.Warn("WorkOS returned a refreshed access token that does not verify here",
			zap.NamedError("reason", err), zap.String("session_id", sid), zap.String("request_id", s.requestID(r)))
		return respond.Server("The sign-in service returned an invalid token")
	}
	pair.ExpiresAt = claims.Expiry.Unix()
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
