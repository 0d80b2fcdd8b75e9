package oauth

// client.go finds the client a request names and, at the token endpoint, authenticates it. A
// configured client is found first (static.go); then, unless registration is off, the store's
// registrations. Registered clients are public: they authenticate by nothing but their id and,
// for the code grant, their PKCE verifier. A configured confidential client must also present
// its secret by the one method it is configured for.

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/cimd"
	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// basicChallenge is sent with a 401 invalid_client of a request that tried (or had) to
// authenticate with a secret (RFC 6749 §5.2).
const basicChallenge = `Basic realm="drio"`

// loadClient returns the configured or registered client, grants.ErrNotFound, or a store
// error. A configured client wins over everything else. With client metadata documents on, an
// https client_id URL is resolved from its document instead (client_document.go), and its
// failure is a *cimd.Error. With registration off, registered clients are not found: they
// stop at once.
func (s *Server) loadClient(r *http.Request, rt *Runtime, id string) (*grants.Client, error) {
	switch s.kindOf(id) {
	case clientConfigured:
		c := s.static(id).rec
		return &c, nil
	case clientDocument:
		return s.documentClient(r, id)
	}
	if s.cfg.RegistrationOff {
		return nil, grants.ErrNotFound
	}
	return rt.Grants.Clients.Get(r.Context(), id)
}

// clientKind is where the client a client_id names comes from.
type clientKind int

const (
	// clientRegistered is a dynamic registration, kept in the store.
	clientRegistered clientKind = iota
	// clientConfigured is one of the operator's client blocks, kept in the configuration.
	clientConfigured
	// clientDocument is described by the metadata document at its URL, and never stored.
	clientDocument
)

// kindOf says where id's client comes from, by the rules loadClient follows: a configured
// client wins, then an https URL while metadata documents are accepted, then the store.
func (s *Server) kindOf(id string) clientKind {
	switch {
	case s.static(id) != nil:
		return clientConfigured
	case s.clientDocs != nil && cimd.IsMetadataURL(id):
		return clientDocument
	}
	return clientRegistered
}

// withChallenge adds the Basic challenge to e.
func withChallenge(e *respond.Error) *respond.Error {
	e.WWWAuthenticate = basicChallenge
	return e
}

// authenticateClient identifies the client and, for a confidential one, checks its secret.
// A public client may not send a secret (RFC 6749 §2.3); HTTP Basic with an empty password is
// accepted from it as identification only, because golang.org/x/oauth2 sends that by default.
// A confidential client must send its secret by its configured method, and only by that one.
func (s *Server) authenticateClient(r *http.Request, rt *Runtime, form url.Values) (*grants.Client, *respond.Error) {
	clientID, postSecret := form.Get("client_id"), form.Get("client_secret")
	basicSecret, viaHeader := "", false
	if authz := r.Header.Get("Authorization"); authz != "" {
		id, secret, ok := parseBasic(authz)
		if !ok {
			return nil, withChallenge(respond.InvalidClient("Malformed Authorization header; send HTTP Basic with the form-urlencoded client_id and secret, or client_id in the body"))
		}
		if clientID != "" && clientID != id {
			return nil, respond.InvalidRequest("client_id in the body and in the Authorization header differ")
		}
		clientID, basicSecret, viaHeader = id, secret, true
	}
	if form.Get("client_assertion") != "" {
		return nil, withChallenge(respond.InvalidClient("Client assertions are not supported; use client_secret_basic, client_secret_post or none"))
	}
	if basicSecret != "" && postSecret != "" {
		return nil, respond.InvalidRequest("Send the client secret once: in the Authorization header or as client_secret, not both")
	}
	if clientID == "" {
		return nil, respond.MissingField("client_id")
	}
	client, err := s.loadClient(r, rt, clientID)
	if errors.Is(err, grants.ErrNotFound) {
		e := respond.InvalidClient("Unknown client_id")
		if viaHeader {
			e = withChallenge(e)
		}
		return nil, e
	}
	if de := (*cimd.Error)(nil); errors.As(err, &de) {
		return nil, respond.InvalidClient("The client_id metadata document cannot be used: %s", de.Msg)
	}
	if err != nil {
		return nil, s.storeFailed(r, "token", err)
	}
	sc := s.static(clientID)
	if sc == nil || sc.method == AuthNone {
		if basicSecret != "" || postSecret != "" {
			e := respond.InvalidClient("This client is public (token_endpoint_auth_method none) and has no secret")
			if viaHeader {
				e = withChallenge(e)
			}
			return nil, e
		}
		return client, nil
	}
	secret := basicSecret
	switch {
	case sc.method == AuthClientSecretBasic && postSecret != "":
		return nil, withChallenge(respond.InvalidClient("This client authenticates with client_secret_basic: send its secret in the Authorization header, not in the body"))
	case sc.method == AuthClientSecretPost && basicSecret != "":
		return nil, withChallenge(respond.InvalidClient("This client authenticates with client_secret_post: send client_secret in the body, not in the Authorization header"))
	case sc.method == AuthClientSecretPost:
		secret = postSecret
	}
	if secret == "" {
		return nil, withChallenge(respond.InvalidClient("This client is confidential: authenticate with its secret (%s)", sc.method))
	}
	ok, err := s.secrets.check(r.Context(), clientID, sc.secretHash, secret)
	if err != nil {
		return nil, respond.Unavailable(time.Second, "Too many client authentications at once; retry")
	}
	if !ok {
		s.logger.Warn("client authentication failed", zap.String("client_id", clientID), zap.String("request_id", s.requestID(r)))
		return nil, withChallenge(respond.InvalidClient("Client authentication failed"))
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

// renewEvery spaces the renewals of a registration's lifetime: one store write a day at most
// (a quarter of the lifetime, for lifetimes shorter than four days).
const renewEvery = 24 * time.Hour

// renewClient restarts the lifetime of a registration that is in use, so only registrations
// unused for Config.ClientTTL expire; configured and document clients are not stored and have
// no lifetime. A failed renewal is logged and otherwise ignored: the
// request it rides on has already succeeded, and the next use tries again.
func (s *Server) renewClient(r *http.Request, rt *Runtime, c *grants.Client) {
	now := time.Now()
	if s.kindOf(c.ID) != clientRegistered || s.cfg.ClientTTL <= 0 || now.Sub(time.Unix(c.LastUsed, 0)) < min(renewEvery, s.cfg.ClientTTL/4) {
		return
	}
	// Through Mutate, so a registration deleted meanwhile (by an operator) stays deleted.
	err := rt.Grants.Clients.Mutate(r.Context(), c.ID, s.cfg.ClientTTL, func(rec *grants.Client, found bool) (grants.Decision, error) {
		if !found {
			return grants.Keep, nil
		}
		rec.LastUsed = now.Unix()
		return grants.Write, nil
	})
	if err != nil {
		s.logger.Warn("renewing a client registration", zap.String("client_id", c.ID), zap.Error(err))
	}
}

// clientForm reads a form POST and authenticates the client that sent it, as the
// token, revocation and logout endpoints do.
func (s *Server) clientForm(w http.ResponseWriter, r *http.Request, rt *Runtime) (url.Values, *grants.Client, *respond.Error) {
	form, e := parseForm(w, r)
	if e != nil {
		return nil, nil, e
	}
	client, e := s.authenticateClient(r, rt, form)
	if e != nil {
		return nil, nil, e
	}
	return form, client, nil
}
