package oauth

// client.go finds the client a request names and, at the token endpoint, authenticates it.
// Every client is public: it authenticates by nothing but its id and, for the code grant, its
// PKCE verifier.

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

// basicChallenge is sent with a 401 invalid_client caused by the Authorization header.
const basicChallenge = `Basic realm="drio"`

// loadClient returns the registered client, grants.ErrNotFound, or a store error. With client
// metadata documents on, an https client_id URL is resolved from its document instead
// (client_document.go), and its failure is a *cimd.Error.
func (s *Server) loadClient(r *http.Request, rt *Runtime, id string) (*grants.Client, error) {
	if s.clientDocs != nil && cimd.IsMetadataURL(id) {
		return s.documentClient(r, id)
	}
	return rt.Grants.Clients.Get(r.Context(), id)
}

// authenticateClient identifies the public client. A secret of any kind is refused with
// invalid_client: these clients have none (RFC 6749 §2.3). HTTP Basic with an empty password
// is accepted as identification only, because golang.org/x/oauth2 sends it by default.
func (s *Server) authenticateClient(r *http.Request, rt *Runtime, form url.Values) (*grants.Client, *respond.Error) {
	clientID := form.Get("client_id")
	if authz := r.Header.Get("Authorization"); authz != "" {
		id, secret, ok := parseBasic(authz)
		if !ok {
			e := respond.InvalidClient("Malformed Authorization header; public clients send client_id in the body")
			e.WWWAuthenticate = basicChallenge
			return nil, e
		}
		if secret != "" {
			e := respond.InvalidClient("This client is public (token_endpoint_auth_method none) and has no secret")
			e.WWWAuthenticate = basicChallenge
			return nil, e
		}
		if clientID != "" && clientID != id {
			return nil, respond.InvalidRequest("client_id in the body and in the Authorization header differ")
		}
		clientID = id
	}
	if form.Get("client_secret") != "" || form.Get("client_assertion") != "" {
		return nil, respond.InvalidClient("This client is public (token_endpoint_auth_method none) and has no secret")
	}
	if clientID == "" {
		return nil, respond.MissingField("client_id")
	}
	client, err := s.loadClient(r, rt, clientID)
	if errors.Is(err, grants.ErrNotFound) {
		return nil, respond.InvalidClient("Unknown client_id")
	}
	if de := (*cimd.Error)(nil); errors.As(err, &de) {
		return nil, respond.InvalidClient("The client_id metadata document cannot be used: %s", de.Msg)
	}
	if err != nil {
		return nil, s.storeFailed(r, "token", err)
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
// unused for Config.ClientTTL expire. A failed renewal is logged and otherwise ignored: the
// request it rides on has already succeeded, and the next use tries again.
func (s *Server) renewClient(r *http.Request, rt *Runtime, c *grants.Client) {
	now := time.Now()
	if s.cfg.ClientTTL <= 0 || now.Sub(time.Unix(c.LastUsed, 0)) < min(renewEvery, s.cfg.ClientTTL/4) {
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

// clientForm reads a form POST and authenticates the public client that sent it, as the
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
