// callback.go is the WorkOS bridge: AuthKit sends the browser here with its code and our
// state. The pending authorization is taken once, the code is exchanged with our PKCE
// verifier, the returned token is verified, the session recorded, and a one-time bridge code
// is sent to the client's redirect URI.

package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// upstreamErrors maps an error AuthKit reports to what the client is told; anything else
// becomes server_error, and the upstream's own text is never passed on.
var upstreamErrors = map[string]string{
	"access_denied":           codeAccessDenied,
	"temporarily_unavailable": codeTemporarilyUnavailable,
	"server_error":            codeServerError,
}

func (h *OAuth) serveCallback(w http.ResponseWriter, r *http.Request) error {
	if !requireMethod(w, r, http.MethodGet) {
		return nil
	}
	st, ok := h.runtime(w, r)
	if !ok {
		return nil
	}
	q, oerr := parseUniqueQuery(r.URL.RawQuery)
	if oerr != nil {
		writeLocalError(w, r, oerr)
		return nil
	}
	upstreamState := q.Get("state")
	if upstreamState == "" || len(upstreamState) > 100 {
		writeLocalError(w, r, errInvalidRequest("The sign-in response has no valid state"))
		return nil
	}
	ctx := r.Context()
	key := store.Key(store.KindPending, store.HashID(upstreamState))
	var pending pendingRecord
	if _, err := getJSON(ctx, st.backend.store, key, &pending); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeLocalError(w, r, errInvalidRequest("This sign-in response is unknown, expired or was already used; start again from the application"))
			return nil
		}
		return h.storeFailed(w, r, "callback", err)
	}
	// The browser that comes back must be the one that started (and consented).
	if !h.app.bindingMatches(r, pending.BindingHash) {
		writeLocalError(w, r, newOAuthError(http.StatusForbidden, codeAccessDenied, "This sign-in was started in another browser; start again from the application"))
		return nil
	}
	if !pending.Consented {
		writeLocalError(w, r, newOAuthError(http.StatusForbidden, codeAccessDenied, "This sign-in was not approved"))
		return nil
	}
	// Single use: exactly one request takes the pending authorization.
	if _, err := st.backend.store.Take(ctx, key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeLocalError(w, r, errInvalidRequest("This sign-in response was already used"))
			return nil
		}
		return h.storeFailed(w, r, "callback", err)
	}
	// Re-read the client: its registration may have changed since /authorize.
	client, err := h.loadClient(r, st, pending.ClientID)
	if err != nil || !loopbackRegistered(client, pending.RedirectURI, h.app.RedirectSchemes) {
		writeLocalError(w, r, errInvalidRequest("The application's registration changed; start again"))
		return nil
	}
	fail := func(code, desc string) error {
		h.redirectToClient(w, r, pending.RedirectURI, pending.State, pending.HasState,
			url.Values{"error": {code}, "error_description": {desc}})
		return nil
	}
	// An answer with both a code and an error is malformed (RFC 6749 §4.1.2 vs §4.1.2.1):
	// neither half is trusted (security matrix C10).
	if q.Has("error") && q.Has("code") {
		return fail(codeServerError, "The sign-in service returned an invalid response")
	}
	if upErr := q.Get("error"); upErr != "" {
		code, ok := upstreamErrors[upErr]
		if !ok {
			code = codeServerError
		}
		h.logger.Debug("sign-in ended with an upstream error", zap.String("upstream_error", sanitizeName(upErr)), zap.String("request_id", requestID(r)))
		return fail(code, "Sign-in did not complete")
	}
	if iss := q.Get("iss"); iss != "" && iss != h.app.WorkOS.Endpoint && !slices.Contains(h.app.TokenIssuers, iss) {
		return fail(codeServerError, "The sign-in response came from an unexpected issuer")
	}
	code := q.Get("code")
	if code == "" || len(code) > 512 {
		return fail(codeServerError, "The sign-in service returned no code")
	}

	resp, err := h.app.workos.exchangeCode(ctx, code, pending.Verifier)
	if err != nil {
		verdict, reason := classifyWorkOSError(err)
		h.logger.Warn("WorkOS code exchange failed", zap.String("reason", reason), zap.String("request_id", requestID(r)))
		if verdict == upstreamUnavailable {
			return fail(codeTemporarilyUnavailable, "The sign-in service is unavailable; try again shortly")
		}
		return fail(codeAccessDenied, "Sign-in could not be completed; start again")
	}
	claims, err := st.verifier.Verify(ctx, resp.AccessToken)
	if err != nil {
		if errors.Is(err, verifier.ErrNoKeys) {
			return fail(codeTemporarilyUnavailable, "The sign-in service's keys are unavailable; try again shortly")
		}
		h.logger.Warn("WorkOS returned an access token that does not verify", zap.Error(err), zap.String("request_id", requestID(r)))
		return fail(codeServerError, "The sign-in service returned an invalid token")
	}
	if resp.RefreshToken == "" || claims.SessionID == "" || (resp.User.ID != "" && resp.User.ID != claims.Subject) {
		h.logger.Warn("WorkOS answer is inconsistent", zap.String("request_id", requestID(r)))
		return fail(codeServerError, "The sign-in service returned an incomplete answer")
	}

	now := time.Now()
	sessionTTL := time.Duration(h.app.SessionTTL)
	org := claims.OrganizationID
	if org == "" {
		org = resp.OrganizationID
	}
	sess := &sessionRecord{
		ID:             claims.SessionID,
		ClientID:       client.ID,
		UserID:         claims.Subject,
		Email:          resp.User.Email,
		FirstName:      resp.User.FirstName,
		LastName:       resp.User.LastName,
		OrganizationID: org,
		CreatedAt:      now.Unix(),
	}
	if err := st.backend.sessions.record(ctx, sess, sessionTTL); err != nil {
		return h.storeFailed(w, r, "callback", err)
	}
	refresh := &refreshRecord{ClientID: client.ID, SessionID: sess.ID, State: refreshActive}
	if err := putJSON(ctx, st.backend.store, store.Key(store.KindRefresh, store.HashID(resp.RefreshToken)), refresh, sessionTTL); err != nil {
		return h.storeFailed(w, r, "callback", err)
	}

	bridge := randomToken(32)
	pair, _ := json.Marshal(tokenPair{AccessToken: resp.AccessToken, RefreshToken: resp.RefreshToken, ExpiresAt: claims.Expiry.Unix()})
	sealed, err := seal(bridge, sealCodePair, pair)
	if err != nil {
		return err
	}
	rec := &codeRecord{
		ClientID:      client.ID,
		RedirectURI:   pending.RedirectURI,
		CodeChallenge: pending.CodeChallenge,
		Resource:      pending.Resource,
		Scope:         pending.Scope,
		SessionID:     sess.ID,
		Sealed:        sealed,
		ExpiresAt:     now.Add(time.Duration(h.app.CodeTTL)).Unix(),
	}
	if err := putJSON(ctx, st.backend.store, store.Key(store.KindCode, store.HashID(bridge)), rec, defaultCodeTombstone); err != nil {
		return h.storeFailed(w, r, "callback", err)
	}
	h.logger.Info("sign-in completed", zap.String("client_id", client.ID), zap.String("user_id", sess.UserID),
		zap.String("session_id", sess.ID), zap.String("request_id", requestID(r)))
	h.redirectToClient(w, r, pending.RedirectURI, pending.State, pending.HasState, url.Values{"code": {bridge}})
	return nil
}
