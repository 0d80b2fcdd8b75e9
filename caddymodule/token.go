// token.go is the token endpoint (authorization_code and refresh_token grants) and drio's own
// refresh route. Public clients only: a client authenticates by nothing but its id and, for
// the code grant, its PKCE verifier.

package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

const (
	maxCodeLength         = 512
	maxRefreshTokenLength = 4096
	maxCodeFailures       = 3
)

// tokenResponse is exactly the body drio v1 answers.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

func (h *OAuth) serveToken(w http.ResponseWriter, r *http.Request) error {
	return h.serveTokenRoute(w, r, false)
}

// serveRefresh is /auth/refresh: the refresh grant with drio's fields (client_id,
// redirect_uri, refresh_token); grant_type may be omitted.
func (h *OAuth) serveRefresh(w http.ResponseWriter, r *http.Request) error {
	return h.serveTokenRoute(w, r, true)
}

func (h *OAuth) serveTokenRoute(w http.ResponseWriter, r *http.Request, refreshRoute bool) error {
	if !requireMethod(w, r, http.MethodPost) {
		return nil
	}
	endpoint := "token"
	if refreshRoute {
		endpoint = "refresh"
	}
	st, ok := h.runtime(w, r)
	if !ok {
		return nil
	}
	if h.limited(w, r, st, endpoint) {
		return nil
	}
	form, oerr := parseForm(w, r)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return nil
	}
	client, oerr := h.authenticateClient(r, st, form)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return nil
	}
	grant := form.Get("grant_type")
	if refreshRoute && grant == "" {
		grant = "refresh_token"
	}
	var pair *tokenPair
	switch grant {
	case "":
		oerr = errMissingField("grant_type")
	case "authorization_code":
		if refreshRoute {
			oerr = newOAuthError(http.StatusBadRequest, codeUnsupportedGrantType, "This endpoint only refreshes; use the token endpoint")
			break
		}
		pair, oerr = h.redeemCode(r, st, client, form)
	case "refresh_token":
		pair, oerr = h.refreshGrant(r, st, client, form)
	default:
		oerr = newOAuthError(http.StatusBadRequest, codeUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return nil
	}
	gatewayMetrics.tokens.WithLabelValues(grant).Inc()
	expiresIn := pair.ExpiresAt - time.Now().Unix()
	if expiresIn < 0 {
		expiresIn = 0
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  pair.AccessToken,
		RefreshToken: pair.RefreshToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
	})
	return nil
}

// authenticateClient identifies the public client. A secret of any kind is refused with
// invalid_client: these clients have none (RFC 6749 §2.3). HTTP Basic with an empty password
// is accepted as identification only, because golang.org/x/oauth2 sends it by default.
func (h *OAuth) authenticateClient(r *http.Request, st *runtimeState, form url.Values) (*clientRecord, *oauthError) {
	clientID := form.Get("client_id")
	if authz := r.Header.Get("Authorization"); authz != "" {
		id, secret, ok := parseBasic(authz)
		if !ok {
			e := errInvalidClient("Malformed Authorization header; public clients send client_id in the body")
			e.wwwAuthenticate = `Basic realm="drio"`
			return nil, e
		}
		if secret != "" {
			e := errInvalidClient("This client is public (token_endpoint_auth_method none) and has no secret")
			e.wwwAuthenticate = `Basic realm="drio"`
			return nil, e
		}
		if clientID != "" && clientID != id {
			return nil, errInvalidRequest("client_id in the body and in the Authorization header differ")
		}
		clientID = id
	}
	if form.Get("client_secret") != "" || form.Get("client_assertion") != "" {
		return nil, errInvalidClient("This client is public (token_endpoint_auth_method none) and has no secret")
	}
	if clientID == "" {
		return nil, errMissingField("client_id")
	}
	client, err := h.loadClient(r, st, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidClient("Unknown client_id")
	}
	if err != nil {
		h.logger.Error("store failure", zap.String("during", "token"), zap.Error(err))
		return nil, errUnavailable(retryAfterStore, "Storage is unavailable; retry shortly")
	}
	return client, nil
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749 §2.3.1).
func parseBasic(h string) (id, secret string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") || len(rest) > 1024 {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil || id == "" {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// checkResource validates an RFC 8707 resource parameter at the token endpoint.
func (h *OAuth) checkResource(form url.Values, bound string) *oauthError {
	res := form.Get("resource")
	if res == "" {
		return nil
	}
	if !slices.Contains(h.app.resourceURIs(), res) || (bound != "" && res != bound) {
		return errInvalidTarget("resource must be %s", strings.Join(h.app.resourceURIs(), " or "))
	}
	return nil
}

// checkScope refuses a scope broader than the one granted.
func (h *OAuth) checkScope(form url.Values, granted string) *oauthError {
	requested := strings.Fields(form.Get("scope"))
	if len(requested) == 0 {
		return nil
	}
	allowed := strings.Fields(granted)
	if len(allowed) == 0 {
		allowed = append(slices.Clone(h.app.Scopes), "offline_access")
	}
	for _, s := range requested {
		if !slices.Contains(allowed, s) {
			return newOAuthError(http.StatusBadRequest, codeInvalidScope, "scope %q was not granted", sanitizeName(s))
		}
	}
	return nil
}

// redeemCode exchanges a bridge code (design §5.5, §5.10). Checks that a stranger could fail
// (wrong client, redirect, resource, scope, verifier) never consume the code or revoke
// anything; a replay by the holder of the verifier revokes what the first redemption issued.
func (h *OAuth) redeemCode(r *http.Request, st *runtimeState, client *clientRecord, form url.Values) (*tokenPair, *oauthError) {
	ctx := r.Context()
	code := form.Get("code")
	if code == "" {
		return nil, errMissingField("code")
	}
	if len(code) > maxCodeLength {
		return nil, errInvalidGrant("The authorization code is invalid or has expired")
	}
	key := store.Key(store.KindCode, store.HashID(code))
	for attempt := 0; attempt < 10; attempt++ {
		var rec codeRecord
		old, err := getJSON(ctx, st.backend.store, key, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errInvalidGrant("The authorization code is invalid or has expired")
		}
		if err != nil {
			return nil, h.storeError("token", err)
		}
		if rec.ClientID != client.ID {
			return nil, errInvalidGrant("The authorization code was issued to another client")
		}
		if ru := form.Get("redirect_uri"); ru != "" && ru != rec.RedirectURI {
			return nil, errInvalidGrant("redirect_uri differs from the one used at authorization")
		}
		if oe := h.checkResource(form, rec.Resource); oe != nil {
			return nil, oe
		}
		if oe := h.checkScope(form, rec.Scope); oe != nil {
			return nil, oe
		}
		verifier := form.Get("code_verifier")
		if verifier == "" {
			return nil, errInvalidGrant("code_verifier is required (PKCE)")
		}
		if rec.Burned {
			return nil, errInvalidGrant("The authorization code is invalid or has expired")
		}
		if !verifyPKCE(verifier, rec.CodeChallenge) {
			if rec.Redeemed {
				return nil, errInvalidGrant("The authorization code is invalid or has expired")
			}
			rec.Failures++
			if rec.Failures >= maxCodeFailures {
				rec.Burned, rec.Sealed = true, nil
			}
			if ok, err := casJSON(ctx, st.backend.store, key, old, &rec, defaultCodeTombstone); err != nil {
				return nil, h.storeError("token", err)
			} else if !ok {
				continue // changed under us: re-evaluate
			}
			return nil, errInvalidGrant("code_verifier does not match the code_challenge")
		}
		if rec.Redeemed {
			h.revokeGrant(rec.SessionID, revokeCodeReplay, st)
			return nil, errInvalidGrant("The authorization code was already used; the tokens issued with it are revoked")
		}
		if time.Now().Unix() > rec.ExpiresAt {
			return nil, errInvalidGrant("The authorization code is invalid or has expired")
		}
		sealed := rec.Sealed
		rec.Redeemed, rec.Sealed = true, nil
		ok, err := casJSON(ctx, st.backend.store, key, old, &rec, defaultCodeTombstone)
		if err != nil {
			return nil, h.storeError("token", err)
		}
		if !ok {
			continue // another redemption won; the next read sees it and counts this one as a replay
		}
		plain, err := unseal(code, sealCodePair, sealed)
		var pair tokenPair
		if err != nil || json.Unmarshal(plain, &pair) != nil {
			h.logger.Error("bridge code record does not open; was the store altered?", zap.String("request_id", requestID(r)))
			return nil, errServer("The authorization code cannot be redeemed")
		}
		h.logger.Info("authorization code redeemed", zap.String("client_id", client.ID), zap.String("session_id", rec.SessionID), zap.String("request_id", requestID(r)))
		return &pair, nil
	}
	return nil, errUnavailable(time.Second, "Too much contention on this code; retry")
}

// revocationReason says why a session was revoked; its label is a metric label value.
type revocationReason struct{ label, text string }

var (
	revokeCodeReplay      = revocationReason{"code_replay", "authorization code replayed"}
	revokeRefreshReuse    = revocationReason{"refresh_reuse", "rotated refresh token reused"}
	revokeUpstreamRefused = revocationReason{"upstream_refused", "WorkOS refused the refresh"}
)

// revokeGrant ends a brokered session: the registry refuses its sid at once, its refresh
// tokens die with it, and WorkOS is told to end it too (in the background, bounded).
func (h *OAuth) revokeGrant(sid string, why revocationReason, st *runtimeState) {
	reason := why.text
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := st.backend.sessions.revoke(ctx, sid, reason, time.Duration(h.app.SessionTTL))
	if err != nil {
		h.logger.Error("revoking session", zap.String("session_id", sid), zap.Error(err))
	}
	if !revoked {
		return
	}
	gatewayMetrics.revocations.WithLabelValues(why.label).Inc()
	h.logger.Warn("session revoked", zap.String("session_id", sid), zap.String("reason", reason))
	go func() {
		if err := h.app.workos.revokeSession(sid); err != nil {
			h.logger.Warn("WorkOS session revoke failed; the gateway refuses the session anyway",
				zap.String("session_id", sid), zap.String("reason", errorReason(err)))
		}
	}()
}

func (h *OAuth) storeError(during string, err error) *oauthError {
	h.logger.Error("store failure", zap.String("during", during), zap.Error(err))
	return errUnavailable(retryAfterStore, "Storage is unavailable; retry shortly")
}

func errorReason(err error) string {
	_, reason := classifyWorkOSError(err)
	return reason
}
