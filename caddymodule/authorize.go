// authorize.go is the authorization endpoint: it validates the client's request, stores a
// pending authorization under a fresh opaque state, and either shows the consent page or sends
// the browser to WorkOS AuthKit. POST is the consent form's answer.

package caddymodule

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

func (h *OAuth) serveAuthorize(w http.ResponseWriter, r *http.Request) error {
	if !requireMethod(w, r, http.MethodGet, http.MethodPost) {
		return nil
	}
	st, ok := h.runtime(w, r)
	if !ok {
		return nil
	}
	if h.limited(w, r, st, "authorize") {
		return nil
	}
	if r.Method == http.MethodPost {
		return h.serveConsentDecision(w, r, st)
	}
	return h.startAuthorization(w, r, st)
}

// authzRequest is a validated authorization request.
type authzRequest struct {
	client      *clientRecord
	redirectURI string
	state       string
	hasState    bool
	challenge   string
	resource    string
	scope       string
}

func (h *OAuth) startAuthorization(w http.ResponseWriter, r *http.Request, st *runtimeState) error {
	req, local, redirectErr := h.parseAuthorization(r, st)
	if local != nil {
		writeLocalError(w, r, local)
		return nil
	}
	if redirectErr != nil {
		h.redirectError(w, r, req, redirectErr)
		return nil
	}
	upstreamState := randomToken(32)
	binding := h.app.bindingValue(w, r)
	consented := h.app.DisableConsent || h.consentRemembered(r, st, req.client.ID)
	pending := &pendingRecord{
		ClientID:      req.client.ID,
		RedirectURI:   req.redirectURI,
		State:         req.state,
		HasState:      req.hasState,
		CodeChallenge: req.challenge,
		Resource:      req.resource,
		Scope:         req.scope,
		Verifier:      randomToken(32),
		BindingHash:   hashString(binding),
		Consented:     consented,
		CreatedAt:     time.Now().Unix(),
	}
	key := store.Key(store.KindPending, store.HashID(upstreamState))
	if err := putJSON(r.Context(), st.backend.store, key, pending, time.Duration(h.app.PendingTTL)); err != nil {
		return h.storeFailed(w, r, "authorize", err)
	}
	if consented {
		return h.redirectToWorkOS(w, r, upstreamState, pending, http.StatusFound)
	}
	return h.renderConsent(w, r, st, req, upstreamState, binding)
}

// parseAuthorization validates in the order RFC 6749 §4.1.2.1 requires: first what decides
// whether a redirect is safe (client, redirect URI), whose failures stay local; then the rest,
// whose failures go back to the client's redirect URI.
func (h *OAuth) parseAuthorization(r *http.Request, st *runtimeState) (*authzRequest, *oauthError, *oauthError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(r.URL.RawQuery) > maxQueryLength {
		return nil, errInvalidRequest("The authorization request is not valid URL encoding"), nil
	}
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(q[name]) > 1 {
			return nil, errInvalidRequest("Duplicate parameter: %s", name), nil
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, errMissingField("client_id"), nil
	}
	client, err := h.loadClient(r, st, clientID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errInvalidRequest("Unknown client_id; register the client first"), nil
		}
		return nil, errUnavailable(retryAfterStore, "Storage is unavailable; retry shortly"), nil
	}
	req := &authzRequest{client: client}
	switch requested := q.Get("redirect_uri"); {
	case requested == "" && len(client.RedirectURIs) == 1:
		req.redirectURI = client.RedirectURIs[0]
	case requested == "":
		return nil, errInvalidRequest("redirect_uri is required: this client registered several"), nil
	default:
		if _, ok := matchRedirectURI(client.RedirectURIs, requested, h.app.RedirectSchemes); !ok {
			return nil, errInvalidRequest("redirect_uri is not registered for this client"), nil
		}
		req.redirectURI = requested
	}
	// From here on, errors are redirected to the client with its state.
	if vs, ok := q["state"]; ok && len(vs) == 1 && vs[0] != "" {
		req.state, req.hasState = vs[0], true
	}
	for name, vs := range q {
		if len(vs) > 1 {
			return req, nil, errInvalidRequest("Duplicate parameter: %s", sanitizeName(name))
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return req, nil, errMissingField("response_type")
	case rt != "code":
		return req, nil, newOAuthError(http.StatusBadRequest, codeUnsupportedResponseType, "response_type must be code")
	}
	req.challenge = q.Get("code_challenge")
	switch method := q.Get("code_challenge_method"); {
	case req.challenge == "":
		return req, nil, errInvalidRequest("code_challenge is required (PKCE with S256)")
	case method != "S256":
		return req, nil, errInvalidRequest("code_challenge_method must be S256")
	case !validChallenge(req.challenge):
		return req, nil, errInvalidRequest("code_challenge must be 43 base64url characters (S256)")
	}
	if res := q.Get("resource"); res != "" {
		if !slices.Contains(h.app.resourceURIs(), res) {
			return req, nil, errInvalidTarget("resource must be one of %s", strings.Join(h.app.resourceURIs(), ", "))
		}
		req.resource = res
	}
	if scope := q.Get("scope"); scope != "" {
		for _, s := range strings.Fields(scope) {
			if !h.scopeSupported(s) {
				return req, nil, newOAuthError(http.StatusBadRequest, codeInvalidScope, "scope %q is not supported", sanitizeName(s))
			}
		}
		req.scope = strings.Join(strings.Fields(scope), " ")
	}
	return req, nil, nil
}

func (h *OAuth) loadClient(r *http.Request, st *runtimeState, id string) (*clientRecord, error) {
	if len(id) > 100 {
		return nil, store.ErrNotFound
	}
	var c clientRecord
	if _, err := getJSON(r.Context(), st.backend.store, store.Key(store.KindClient, id), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// consentRemembered reports whether this browser approved the client before and this is not
// a cross-site navigation (so a third-party page cannot ride on an earlier approval).
func (h *OAuth) consentRemembered(r *http.Request, st *runtimeState, clientID string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "none", "same-origin":
	default:
		return false
	}
	return slices.Contains(h.app.rememberedConsent(r, st.backend.secret), clientID)
}

func (h *OAuth) renderConsent(w http.ResponseWriter, r *http.Request, st *runtimeState, req *authzRequest, txn, binding string) error {
	name := req.client.Name
	if name == "" {
		name = "An unnamed application (" + req.client.ID + ")"
	}
	scopes := strings.Fields(req.scope)
	if len(scopes) == 0 {
		scopes = h.app.Scopes
	}
	page := consentPage{
		ClientName:   name,
		RedirectHost: redirectHost(req.redirectURI),
		Scopes:       describeScopes(scopes),
		Action:       h.app.endpoint("authorize"),
		Txn:          txn,
		CSRF:         csrfToken(st.backend.secret, txn, binding),
	}
	var buf bytes.Buffer
	if err := consentTemplate.Execute(&buf, page); err != nil {
		return err
	}
	pageHeaders(w, h.formAction(req.redirectURI))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// formAction lists where the consent form may lead. Browsers apply form-action to every
// redirect that follows the POST: approve goes to WorkOS, through AuthKit's own domain, back
// to our callback and on to the client; deny goes to the client. So: ourselves, any https
// origin (WorkOS and AuthKit hosts), the WorkOS endpoint as configured (http in development)
// and the client's redirect origin (loopback http or a private-use scheme).
func (h *OAuth) formAction(redirectURI string) string {
	parts := []string{"'self'", "https:", h.app.WorkOS.Endpoint}
	if u, err := url.Parse(redirectURI); err == nil {
		if u.Host != "" {
			parts = append(parts, u.Scheme+"://"+u.Host)
		} else {
			parts = append(parts, u.Scheme+":")
		}
	}
	return strings.Join(parts, " ")
}

func redirectHost(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":" + u.Path
}

func describeScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes)+1)
	out = append(out, "Call the drio API as you")
	for _, s := range scopes {
		switch s {
		case "openid":
			out = append(out, "Know who you are")
		case "profile":
			out = append(out, "See your name")
		case "email":
			out = append(out, "See your email address")
		case "offline_access":
			out = append(out, "Stay signed in")
		default:
			out = append(out, s)
		}
	}
	return out
}

// serveConsentDecision handles the consent form: CSRF-checked, same-origin, bound to the
// browser that started the authorization.
func (h *OAuth) serveConsentDecision(w http.ResponseWriter, r *http.Request, st *runtimeState) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		writeLocalError(w, r, newOAuthError(http.StatusForbidden, codeAccessDenied, "The consent form must be submitted from this site"))
		return nil
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" && origin != h.app.Issuer {
		writeLocalError(w, r, newOAuthError(http.StatusForbidden, codeAccessDenied, "The consent form must be submitted from this site"))
		return nil
	}
	form, oerr := parseForm(w, r)
	if oerr != nil {
		writeLocalError(w, r, oerr)
		return nil
	}
	txn, csrf, decision := form.Get("txn"), form.Get("csrf"), form.Get("decision")
	// A missing csrf is not "incomplete": it is refused below with the same 403 as a wrong one
	// (security matrix A20), after the transaction is found.
	if txn == "" || (decision != "approve" && decision != "deny") {
		writeLocalError(w, r, errInvalidRequest("The consent form is incomplete"))
		return nil
	}
	key := store.Key(store.KindPending, store.HashID(txn))
	var pending pendingRecord
	old, err := getJSON(r.Context(), st.backend.store, key, &pending)
	if errors.Is(err, store.ErrNotFound) {
		writeLocalError(w, r, errInvalidRequest("This sign-in request has expired or was already used"))
		return nil
	}
	if err != nil {
		return h.storeFailed(w, r, "consent", err)
	}
	binding, _ := r.Cookie(h.app.cookieName(bindingCookie))
	if binding == nil || !h.app.bindingMatches(r, pending.BindingHash) ||
		!equalConstantTime(csrf, csrfToken(st.backend.secret, txn, binding.Value)) {
		writeLocalError(w, r, newOAuthError(http.StatusForbidden, codeAccessDenied, "The consent form is not valid for this browser; start again from the application"))
		return nil
	}
	client, err := h.loadClient(r, st, pending.ClientID)
	if err != nil || !slices.Contains(client.RedirectURIs, pending.RedirectURI) && !loopbackRegistered(client, pending.RedirectURI, h.app.RedirectSchemes) {
		writeLocalError(w, r, errInvalidRequest("The application's registration changed; start again"))
		return nil
	}
	if decision == "deny" {
		_ = st.backend.store.Delete(r.Context(), key)
		h.redirectError(w, r, &authzRequest{client: client, redirectURI: pending.RedirectURI, state: pending.State, hasState: pending.HasState},
			newOAuthError(http.StatusBadRequest, codeAccessDenied, "The user declined"))
		return nil
	}
	pending.Consented = true
	swapped, err := casJSON(r.Context(), st.backend.store, key, old, &pending, time.Duration(h.app.PendingTTL))
	if err != nil {
		return h.storeFailed(w, r, "consent", err)
	}
	if !swapped {
		writeLocalError(w, r, errInvalidRequest("This sign-in request was already answered"))
		return nil
	}
	h.app.rememberConsent(w, r, st.backend.secret, pending.ClientID)
	return h.redirectToWorkOS(w, r, txn, &pending, http.StatusSeeOther)
}

func loopbackRegistered(c *clientRecord, redirectURI string, schemes []string) bool {
	_, ok := matchRedirectURI(c.RedirectURIs, redirectURI, schemes)
	return ok
}

func (h *OAuth) redirectToWorkOS(w http.ResponseWriter, r *http.Request, upstreamState string, p *pendingRecord, status int) error {
	target, err := h.app.workos.authorizationURL(upstreamState, s256Challenge(p.Verifier))
	if err != nil {
		h.logger.Error("building the WorkOS authorization URL", zap.Error(err))
		writeLocalError(w, r, errServer("The sign-in service is misconfigured"))
		return nil
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, status)
	return nil
}

// redirectError sends an OAuth error to the client's (already validated) redirect URI, with
// its state and our issuer (RFC 9207).
func (h *OAuth) redirectError(w http.ResponseWriter, r *http.Request, req *authzRequest, e *oauthError) {
	params := url.Values{"error": {e.code}, "error_description": {e.description}}
	h.redirectToClient(w, r, req.redirectURI, req.state, req.hasState, params)
}

func (h *OAuth) redirectToClient(w http.ResponseWriter, r *http.Request, redirectURI, state string, hasState bool, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		writeLocalError(w, r, errServer("The registered redirect URI cannot be used"))
		return
	}
	if hasState {
		params.Set("state", state)
	}
	params.Set("iss", h.app.Issuer)
	// Append to the registered query rather than re-encode it, so it stays byte-exact.
	if u.RawQuery == "" {
		u.RawQuery = params.Encode()
	} else {
		u.RawQuery += "&" + params.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", u.String())
	w.WriteHeader(status)
}
