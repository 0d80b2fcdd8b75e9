package oauth

// logout.go signs a user out. A client POSTs (as a top-level form navigation of the browser)
// its client_id, the user's access or refresh token, and where the browser should land
// afterwards. The session ends at the gateway and at WorkOS, the browser goes through WorkOS's
// logout URL to end its AuthKit session, and comes back to the gateway's logout/done route,
// which sends it on to the return address. The return address must be one of the client's
// registered redirect URIs or one the operator allowed; anything else gets a local page, never
// a redirect. Only the gateway's own logout/done URL needs allowing as a sign-out redirect at
// WorkOS.

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	form, client, e := s.clientForm(w, r, rt)
	if e != nil {
		return e.Local()
	}
	returnTo := form.Get("post_logout_redirect_uri")
	if returnTo != "" && !s.redirectRegistered(client, returnTo) && !slices.Contains(s.cfg.LogoutRedirects, returnTo) {
		return respond.InvalidRequest("post_logout_redirect_uri is neither a registered redirect URI of this client nor an allowed logout address").Local()
	}
	p, err := s.identify(r.Context(), rt, form.Get("token"), form.Get("token_type_hint"))
	if err != nil {
		return s.storeFailed(r, "logout", err).Local()
	}
	final := s.logoutDone(client.ID, returnTo, form.Get("state"), rt.Secret)
	if p.kind == tokenUnknown || p.clientID != client.ID {
		// Nothing of this client's to end: the browser goes straight back.
		http.Redirect(w, r, final, http.StatusSeeOther)
		return nil
	}
	if !s.RevokeGrant(p.session.ID, RevokeLogout, rt) {
		return respond.Unavailable(retryAfterStore, "The sign-out could not be stored; retry").Local()
	}
	s.logger.Info("user signed out", zap.String("client_id", client.ID), zap.String("session_id", p.session.ID),
		zap.String("request_id", s.requestID(r)))
	target, err := s.bridge.LogoutURL(p.session.ID, final)
	if err != nil {
		http.Redirect(w, r, final, http.StatusSeeOther)
		return nil
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// logoutReturnTTL bounds the life of a logout's return leg: long enough to pass through
// WorkOS's logout, too short to serve as a standing redirect link.
const logoutReturnTTL = 10 * time.Minute

// logoutDone is the gateway's logout/done URL that carries the browser's final destination,
// the client it belongs to and an expiry, signed so that it can only send the browser where
// serveLogout allowed, and only for a while.
func (s *Server) logoutDone(clientID, returnTo, state string, secret []byte) string {
	if returnTo == "" {
		return s.endpoint("logout/done")
	}
	exp := strconv.FormatInt(time.Now().Add(logoutReturnTTL).Unix(), 10)
	q := url.Values{"to": {returnTo}, "client_id": {clientID}, "exp": {exp},
		"sig": {mac(secret, "logout", clientID, returnTo, state, exp)}}
	if state != "" {
		q.Set("state", state)
	}
	return s.endpoint("logout/done") + "?" + q.Encode()
}

// serveLogoutDone is where WorkOS sends the browser after its logout: on to the client's
// return address (with its state and our iss) if the signature holds, else a page saying the
// user is signed out.
func (s *Server) serveLogoutDone(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	q, e := parseUniqueQuery(r.URL.RawQuery)
	if e != nil {
		return e.Local()
	}
	to, state, clientID, exp := q.Get("to"), q.Get("state"), q.Get("client_id"), q.Get("exp")
	if to == "" || !equalConstantTime(q.Get("sig"), mac(rt.Secret, "logout", clientID, to, state, exp)) ||
		!s.logoutReturnAllowed(r, rt, clientID, to, exp) {
		respond.PageHeaders(w, "")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(signedOutPage))
		return nil
	}
	respond.Redirect(w, r, s.target(to, state, state != ""), url.Values{})
	return nil
}

// logoutReturnAllowed re-checks a signed return leg when the browser comes back: it has not
// expired, and the address is still one the client has registered (the client may have been
// deleted meanwhile) or one the operator allows.
func (s *Server) logoutReturnAllowed(r *http.Request, rt *Runtime, clientID, to, exp string) bool {
	until, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > until {
		return false
	}
	if slices.Contains(s.cfg.LogoutRedirects, to) {
		return true
	}
	client, err := s.loadClient(r, rt, clientID)
	return err == nil && s.redirectRegistered(client, to)
}

// signedOutPage is shown when there is no return address to go back to.
const signedOutPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Signed out – drio</title><style>` + respond.PageStyle + `</style></head>
<body><main><div class="brand">drio</div><h1>You are signed out</h1>
<p>You can close this window.</p></main></body></html>
`
