// refresh.go rotates refresh tokens through WorkOS (design §5.6). One rotation per token runs
// at a time (in-process single flight, and a leased "rotating" state in the store across
// instances); a retry with the just-rotated token within the grace window gets the same new
// pair; a later reuse revokes the session; WorkOS being down leaves the token usable.

package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// rotationWait bounds how long a request waits for another instance's rotation in flight.
const rotationWait = 5 * time.Second

func (h *OAuth) refreshGrant(r *http.Request, st *runtimeState, client *clientRecord, form url.Values) (*tokenPair, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, errMissingField("refresh_token")
	}
	if len(rt) > maxRefreshTokenLength {
		return nil, errInvalidGrant("The refresh token is invalid")
	}
	if ru := form.Get("redirect_uri"); ru != "" {
		if _, ok := matchRedirectURI(client.RedirectURIs, ru, h.app.RedirectSchemes); !ok {
			return nil, errInvalidGrant("redirect_uri is not registered for this client")
		}
	}
	if oe := h.checkResource(form, ""); oe != nil {
		return nil, oe
	}
	if oe := h.checkScope(form, client.Scope); oe != nil {
		return nil, oe
	}
	key := store.Key(store.KindRefresh, store.HashID(rt))
	// Requests in this process with the same token share one rotation.
	v, err, _ := h.app.run.refreshFlight.Do(key+"|"+client.ID, func() (any, error) {
		pair, oe := h.rotate(context.WithoutCancel(r.Context()), st, client, rt, key)
		if oe != nil {
			return nil, oe
		}
		return pair, nil
	})
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, errServer("Refresh failed")
	}
	return v.(*tokenPair), nil
}

func (h *OAuth) rotate(ctx context.Context, st *runtimeState, client *clientRecord, rt, key string) (*tokenPair, *oauthError) {
	s := st.backend.store
	deadline := time.Now().Add(rotationWait)
	for {
		var rec refreshRecord
		old, err := getJSON(ctx, s, key, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errInvalidGrant("The refresh token is invalid or has expired")
		}
		if err != nil {
			return nil, h.storeError("refresh", err)
		}
		if rec.ClientID != client.ID {
			return nil, errInvalidGrant("The refresh token was issued to another client")
		}
		sess, err := st.backend.sessions.live(ctx, rec.SessionID)
		if err != nil {
			return nil, h.storeError("refresh", err)
		}
		if sess == nil || rec.State == refreshDead {
			return nil, errInvalidGrant("The session of this refresh token has ended; sign in again")
		}
		now := time.Now()
		switch rec.State {
		case refreshRotated:
			if now.Sub(time.Unix(rec.RotatedAt, 0)) <= time.Duration(h.app.RefreshGrace) {
				plain, err := unseal(rt, sealRefreshNext, rec.NextSealed)
				var pair tokenPair
				if err == nil && json.Unmarshal(plain, &pair) == nil {
					return &pair, nil
				}
			}
			h.revokeGrant(rec.SessionID, revokeRefreshReuse, st)
			return nil, errInvalidGrant("The refresh token was already used; the session is revoked")
		case refreshRotating:
			if now.Unix() < rec.LeaseUntil && now.Before(deadline) {
				if !sleepCtx(ctx, 50*time.Millisecond) {
					return nil, errUnavailable(time.Second, "Refresh in progress; retry")
				}
				continue
			}
			if now.Unix() < rec.LeaseUntil {
				return nil, errUnavailable(time.Second, "A refresh with this token is in progress; retry")
			}
			// The lease expired: the rotator died. Take over below.
		}
		lease := rec
		lease.State = refreshRotating
		lease.LeaseUntil = now.Add(time.Duration(h.app.WorkOS.Timeout) + 5*time.Second).Unix()
		ttl := time.Duration(h.app.SessionTTL)
		leased, err := casJSON(ctx, s, key, old, &lease, ttl)
		if err != nil {
			return nil, h.storeError("refresh", err)
		}
		if !leased {
			continue
		}
		leasedBytes, _ := json.Marshal(&lease)
		return h.callWorkOSRefresh(ctx, st, rt, key, &lease, leasedBytes)
	}
}

// callWorkOSRefresh runs the upstream rotation under our lease and records the outcome.
func (h *OAuth) callWorkOSRefresh(ctx context.Context, st *runtimeState, rt, key string, lease *refreshRecord, leased []byte) (*tokenPair, *oauthError) {
	s := st.backend.store
	ttl := time.Duration(h.app.SessionTTL)
	resp, err := h.app.workos.refresh(ctx, rt)
	if err != nil {
		verdict, reason := classifyWorkOSError(err)
		h.logger.Warn("WorkOS refresh failed", zap.String("reason", reason), zap.String("session_id", lease.SessionID))
		next := *lease
		next.LeaseUntil = 0
		if verdict == upstreamUnavailable {
			next.State = refreshActive // the token stays usable
			if _, err := casJSON(ctx, s, key, leased, &next, ttl); err != nil {
				return nil, h.storeError("refresh", err)
			}
			return nil, errUnavailable(retryAfterUpstrm, "The sign-in service is unavailable; retry with the same refresh token")
		}
		next.State = refreshDead
		if _, err := casJSON(ctx, s, key, leased, &next, ttl); err != nil {
			return nil, h.storeError("refresh", err)
		}
		h.revokeGrant(lease.SessionID, revokeUpstreamRefused, st)
		return nil, errInvalidGrant("The session has ended; sign in again")
	}
	exp := time.Now().Add(5 * time.Minute)
	if claims, err := st.verifier.Verify(ctx, resp.AccessToken); err == nil {
		exp = claims.Expiry
		if claims.SessionID != lease.SessionID {
			h.logger.Warn("WorkOS refresh returned a token for another session", zap.String("session_id", lease.SessionID))
		}
	} else {
		h.logger.Warn("refreshed access token does not verify here", zap.Error(err), zap.String("session_id", lease.SessionID))
	}
	pair := &tokenPair{AccessToken: resp.AccessToken, RefreshToken: resp.RefreshToken, ExpiresAt: exp.Unix()}
	fresh := &refreshRecord{ClientID: lease.ClientID, SessionID: lease.SessionID, State: refreshActive}
	if err := putJSON(ctx, s, store.Key(store.KindRefresh, store.HashID(resp.RefreshToken)), fresh, ttl); err != nil {
		return nil, h.storeError("refresh", err)
	}
	plain, _ := json.Marshal(pair)
	sealed, err := seal(rt, sealRefreshNext, plain)
	if err != nil {
		return nil, errServer("Refresh failed")
	}
	done := *lease
	done.State, done.LeaseUntil, done.RotatedAt, done.NextSealed = refreshRotated, 0, time.Now().Unix(), sealed
	if _, err := casJSON(ctx, s, key, leased, &done, ttl); err != nil {
		return nil, h.storeError("refresh", err)
	}
	return pair, nil
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
