package oauth

// authorize.go is the authorization endpoint: it validates the client's request, stores a
// pending authorization under a fresh opaque state, and either shows the consent page or sends
// the browser to WorkOS AuthKit. A POST is the consent form's answer (consent.go).

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/cimd"
	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	if r.Method == http.MethodPost {
		return s.serveConsentDecision(w, r, rt)
	}
	return s.startAuthorization(w, r, rt)
}

// authzRequest is a validated authorization request.
type authzRequest struct {
	client      *grants.Client
	redirectURI string
	// redirectGiven: the request named redirect_uri (the token request must repeat it).
	redirectGiven bool
	state         string
	hasState      bool
	challenge     string
	resource      string
	scope         string
	signIn        *grants.SignIn
}

func (s *Server) startAuthorization(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	req, e := s.parseAuthorization(r, rt)
	if e != nil {
		return e
	}
	s.renewClient(r, rt, req.client)
	upstreamState := grants.RandomToken(32)
	binding := s.bindingValue(w, r)
	consented := s.consentOff(req.client) || s.skipsConsent(req.client.ID) || s.consentRemembered(r, rt, req.client.ID, req.redirectURI)
	pending := &grants.Pending{
		ClientID:         req.client.ID,
		RedirectURI:      req.redirectURI,
		RedirectURIGiven: req.redirectGiven,
		State:            req.state,
		HasState:         req.hasState,
		CodeChallenge:    req.challenge,
		Resource:         req.resource,
		Scope:            req.scope,
		Verifier:         grants.RandomToken(32),
		BindingHash:      grants.HashString(binding),
		Consented:        consented,
		CreatedAt:        time.Now().Unix(),
		SignIn:           req.signIn,
	}
	if err := rt.Grants.Pending.Put(r.Context(), upstreamState, pending, s.cfg.PendingTTL); err != nil {
		return s.storeFailed(r, "authorize", err)
	}
	if consented {
		return s.redirectToWorkOS(w, r, upstreamState, pending, http.StatusFound)
	}
	return s.renderConsent(w, r, rt, req, upstreamState, binding)
}

// parseAuthorization validates in the order RFC 6749 §4.1.2.1 requires: first what decides
// whether a redirect is safe (client, redirect URI), whose failures stay local; then the rest,
// whose failures go back to the client's redirect URI.
func (s *Server) parseAuthorization(r *http.Request, rt *Runtime) (*authzRequest, *respond.Error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(r.URL.RawQuery) > maxQueryLength {
		return nil, respond.InvalidRequest("The authorization request is not valid URL encoding").Local()
	}
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(q[name]) > 1 {
			return nil, respond.InvalidRequest("Duplicate parameter: %s", name).Local()
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, respond.MissingField("client_id").Local()
	}
	client, err := s.loadClient(r, rt, clientID)
	if errors.Is(err, grants.ErrNotFound) {
		return nil, respond.InvalidRequest("Unknown client_id; register the client first").Local()
	}
	if de := (*cimd.Error)(nil); errors.As(err, &de) {
		return nil, respond.InvalidRequest("The client_id metadata document cannot be used: %s", de.Msg).Local()
	}
	if err != nil {
		return nil, s.storeFailed(r, "authorize", err).Local()
	}
	req := &authzRequest{client: client}
	switch requested := q.Get("redirect_uri"); {
	case requested == "" && len(client.RedirectURIs) == 1:
		req.redirectURI = client.RedirectURIs[0]
	case requested == "":
		return nil, respond.InvalidRequest("redirect_uri is required: this client registered several").Local()
	default:
		if _, ok := matchRedirectURI(client.RedirectURIs, requested, s.cfg.RedirectSchemes); !ok {
			return nil, respond.InvalidRequest("redirect_uri is not registered for this client").Local()
		}
		req.redirectURI, req.redirectGiven = requested, true
	}
	// From here on, errors are redirected to the client with its state.
	if vs, ok := q["state"]; ok && len(vs) == 1 && vs[0] != "" {
		req.state, req.hasState = vs[0], true
	}
	toClient := s.target(req.redirectURI, req.state, req.hasState)
	for name, vs := range q {
		if len(vs) > 1 {
			return nil, respond.InvalidRequest("Duplicate parameter: %s", sanitizeName(name)).To(toClient)
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return nil, respond.MissingField("response_type").To(toClient)
	case rt != "code":
		return nil, respond.New(http.StatusBadRequest, respond.CodeUnsupportedResponseType, "response_type must be code").To(toClient)
	}
	req.challenge = q.Get("code_challenge")
	switch method := q.Get("code_challenge_method"); {
	case req.challenge == "":
		return nil, respond.InvalidRequest("code_challenge is required (PKCE with S256)").To(toClient)
	case method != "S256":
		return nil, respond.InvalidRequest("code_challenge_method must be S256").To(toClient)
	case !validChallenge(req.challenge):
		return nil, respond.InvalidRequest("code_challenge must be 43 base64url characters (S256)").To(toClient)
	}
	if res := q.Get("resource"); res != "" {
		if !s.validResource(res) {
			return nil, respond.InvalidTarget("resource must be %s or a path on it", s.cfg.Issuer).To(toClient)
		}
		req.resource = res
	}
	if scope := q.Get("scope"); scope != "" {
		registered := strings.Fields(client.Scope)
		for _, sc := range strings.Fields(scope) {
			if !s.scopeSupported(sc) {
				return nil, respond.InvalidScope("scope %q is not supported", sanitizeName(sc)).To(toClient)
			}
			if len(registered) > 0 && !slices.Contains(registered, sc) {
				return nil, respond.InvalidScope("scope %q is not among the scopes this client registered", sanitizeName(sc)).To(toClient)
			}
		}
		req.scope = strings.Join(strings.Fields(scope), " ")
	}
	signIn, refused := s.parseSignIn(q)
	if refused != "" {
		return nil, respond.InvalidRequest("%s", refused).To(toClient)
	}
	req.signIn = signIn
	return req, nil
}

// redirectToWorkOS sends the browser to AuthKit with our callback, the upstream state and our
// own S256 challenge.
func (s *Server) redirectToWorkOS(w http.ResponseWriter, r *http.Request, upstreamState string, p *grants.Pending, status int) *respond.Error {
	target, err := s.bridge.AuthorizationURL(upstreamState, s256Challenge(p.Verifier), workosSignIn(p.SignIn))
	if err != nil {
		s.logger.Error("building the WorkOS authorization URL", zap.Error(err))
		return respond.Server("The sign-in service is misconfigured").Local()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, status)
	return nil
}
