package oauth

// callback.go is where WorkOS AuthKit sends the browser back, with its code and our state. The
// pending authorization is taken once, the code is exchanged with our PKCE verifier, the
// returned token is verified, the session recorded, and a one-time bridge code is sent to the
// client's redirect URI.

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// upstreamErrors maps an error AuthKit reports to what the client is told; anything else
// becomes server_error, and the upstream's own text is never passed on.
var upstreamErrors = map[string]string{
	"access_denied":           respond.CodeAccessDenied,
	"temporarily_unavailable": respond.CodeTemporarilyUnavailable,
	"server_error":            respond.CodeServerError,
}

func (s *Server) serveCallback(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	q, e := parseUniqueQuery(r.URL.RawQuery)
	if e != nil {
		return e.Local()
	}
	upstreamState := q.Get("state")
	if upstreamState == "" || len(upstreamState) > 100 {
		return respond.InvalidRequest("The sign-in response has no valid state").Local()
	}
	ctx := r.Context()
	pending, err := rt.Grants.Pending.Get(ctx, upstreamState)
	if errors.Is(err, grants.ErrNotFound) {
		return respond.InvalidRequest("This sign-in response is unknown, expired or was already used; start again from the application").Local()
	}
	if err != nil {
		return s.storeFailed(r, "callback", err)
	}
	// The browser that comes back must be the one that started (and consented).
	if !s.bindingMatches(r, pending.BindingHash) {
		return respond.AccessDenied("This sign-in was started in another browser; start again from the application").Local()
	}
	if !pending.Consented {
		return respond.AccessDenied("This sign-in was not approved").Local()
	}
	// Single use: exactly one request takes the pending authorization.
	if err := rt.Grants.Pending.Take(ctx, upstreamState); err != nil {
		if errors.Is(err, grants.ErrNotFound) {
			return respond.InvalidRequest("This sign-in response was already used").Local()
		}
		return s.storeFailed(r, "callback", err)
	}
	// Re-read the client: its registration may have changed since /authorize.
	client, err := s.loadClient(r, rt, pending.ClientID)
	if err != nil || !s.redirectRegistered(client, pending.RedirectURI) {
		return respond.InvalidRequest("The application's registration changed; start again").Local()
	}
	toClient := s.target(pending.RedirectURI, pending.State, pending.HasState)
	fail := func(code, desc string) *respond.Error {
		return respond.New(http.StatusBadRequest, code, "%s", desc).To(toClient)
	}
	// An answer with both a code and an error is malformed (RFC 6749 §4.1.2 vs §4.1.2.1):
	// neither half is trusted.
	if q.Has("error") && q.Has("code") {
		return fail(respond.CodeServerError, "The sign-in service returned an invalid response")
	}
	if upErr := q.Get("error"); upErr != "" {
		code, ok := upstreamErrors[upErr]
		if !ok {
			code = respond.CodeServerError
		}
		s.logger.Debug("sign-in ended with an upstream error", zap.String("upstream_error", sanitizeName(upErr)), zap.String("request_id", s.requestID(r)))
		return fail(code, "Sign-in did not complete")
	}
	if iss := q.Get("iss"); iss != "" && iss != s.cfg.WorkOSEndpoint && !slices.Contains(s.cfg.TokenIssuers, iss) {
		return fail(respond.CodeServerError, "The sign-in response came from an unexpected issuer")
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCodeLength {
		return fail(respond.CodeServerError, "The sign-in service returned no code")
	}

	resp, err := s.bridge.ExchangeCode(ctx, code, pending.Verifier)
	if err != nil {
		verdict, reason := workos.Classify(err)
		s.logger.Warn("WorkOS code exchange failed", zap.String("reason", reason), zap.String("request_id", s.requestID(r)))
		if verdict == workos.Refused {
			return fail(respond.CodeAccessDenied, "Sign-in could not be completed; start again")
		}
		return fail(respond.CodeTemporarilyUnavailable, "The sign-in service is unavailable; try again shortly")
	}
	claims, err := rt.Verifier.Verify(ctx, resp.AccessToken)
	if err != nil {
		if errors.Is(err, verifier.ErrNoKeys) {
			return fail(respond.CodeTemporarilyUnavailable, "The sign-in service's keys are unavailable; try again shortly")
		}
		s.logger.Warn("WorkOS returned an access token that does not verify", zap.Error(err), zap.String("request_id", s.requestID(r)))
		return fail(respond.CodeServerError, "The sign-in service returned an invalid token")
	}
	if resp.RefreshToken == "" || claims.SessionID == "" || (resp.User.ID != "" && resp.User.ID != claims.Subject) {
		s.logger.Warn("WorkOS answer is inconsistent", zap.String("request_id", s.requestID(r)))
		return fail(respond.CodeServerError, "The sign-in service returned an incomplete answer")
	}

	org := claims.OrganizationID
	if org == "" {
		org = resp.OrganizationID
	}
	if why := signInMismatch(pending.SignIn, org, string(resp.AuthenticationMethod)); why != "" {
		// The session WorkOS opened is not one this gateway asked for: it is never recorded
		// (so its tokens are refused here), and WorkOS is asked to end it.
		s.logger.Warn("sign-in refused: WorkOS signed the user in otherwise than the gateway asked",
			zap.String("reason", why), zap.String("client_id", client.ID), zap.String("request_id", s.requestID(r)))
		if err := s.bridge.RevokeSession(claims.SessionID); err != nil {
			s.logger.Warn("ending the refused WorkOS session failed", zap.Error(err), zap.String("request_id", s.requestID(r)))
		}
		return fail(respond.CodeAccessDenied, "The sign-in did not use the "+why+" this application asked for; start again")
	}

	now := time.Now()
	sess := &grants.Session{
		ID:             claims.SessionID,
		ClientID:       client.ID,
		UserID:         claims.Subject,
		Email:          resp.User.Email,
		FirstName:      resp.User.FirstName,
		LastName:       resp.User.LastName,
		OrganizationID: org,
		CreatedAt:      now.Unix(),
	}
	if err := rt.Grants.Sessions.Record(ctx, sess, s.cfg.SessionTTL); err != nil {
		return s.storeFailed(r, "callback", err)
	}
	refresh := &grants.Refresh{ClientID: client.ID, SessionID: sess.ID, State: grants.RefreshActive}
	if err := rt.Grants.Refresh.Put(ctx, resp.RefreshToken, refresh, s.cfg.SessionTTL); err != nil {
		return s.storeFailed(r, "callback", err)
	}
	bridge := grants.RandomToken(32)
	sealed, err := grants.SealPair(bridge, grants.PurposeCodePair,
		&grants.TokenPair{AccessToken: resp.AccessToken, RefreshToken: resp.RefreshToken, ExpiresAt: claims.Expiry.Unix()})
	if err != nil {
		return respond.Server("The sign-in could not be completed").Local()
	}
	rec := &grants.Code{
		ClientID:         client.ID,
		RedirectURI:      pending.RedirectURI,
		RedirectURIGiven: pending.RedirectURIGiven,
		CodeChallenge:    pending.CodeChallenge,
		Resource:         pending.Resource,
		Scope:            pending.Scope,
		SessionID:        sess.ID,
		Sealed:           sealed,
		ExpiresAt:        now.Add(s.cfg.CodeTTL).Unix(),
	}
	if err := rt.Grants.Codes.Put(ctx, bridge, rec, codeTombstone); err != nil {
		return s.storeFailed(r, "callback", err)
	}
	s.logger.Info("sign-in completed", zap.String("client_id", client.ID), zap.String("user_id", sess.UserID),
		zap.String("session_id", sess.ID), zap.String("request_id", s.requestID(r)))
	respond.Redirect(w, r, toClient, url.Values{"code": {bridge}})
	return nil
}
