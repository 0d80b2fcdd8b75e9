package oauth

// register.go is dynamic client registration (RFC 7591) for public clients.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

const maxClientNameLength = 200

// registrationResponse is the 201 body: the stored metadata plus the server-made id.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	TosURI                  string   `json:"tos_uri,omitempty"`
}

func (s *Server) serveRegister(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	if e := s.registrationAllowed(r); e != nil {
		return e
	}
	rec, oerr := s.parseRegistration(w, r)
	if oerr != nil {
		return oerr
	}
	if e := s.checkRegistrationQuota(r, rt); e != nil {
		return e
	}
	rec.ID = "drio_" + grants.RandomToken(16)
	rec.IssuedAt = time.Now().Unix()
	rec.LastUsed = rec.IssuedAt
	rec.GrantTypesEnforced = true
	if err := rt.Grants.Clients.Put(r.Context(), rec, s.cfg.ClientTTL); err != nil {
		return s.storeFailed(r, "register", err)
	}
	metrics.Registrations.Inc()
	s.logger.Info("client registered", zap.String("client_id", rec.ID), zap.String("request_id", s.requestID(r)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	respond.JSON(w, http.StatusCreated, registrationResponse{
		ClientID:                rec.ID,
		ClientIDIssuedAt:        rec.IssuedAt,
		ClientName:              rec.Name,
		RedirectURIs:            rec.RedirectURIs,
		GrantTypes:              rec.GrantTypes,
		ResponseTypes:           rec.ResponseTypes,
		TokenEndpointAuthMethod: "none",
		Scope:                   rec.Scope,
		ClientURI:               rec.ClientURI,
		LogoURI:                 rec.LogoURI,
		PolicyURI:               rec.PolicyURI,
		TosURI:                  rec.TosURI,
	})
	return nil
}

// registrationAllowed refuses a registration when the operator turned registration off (403:
// the endpoint is not advertised then, and a JSON error says why better than a bare 404), or
// when it needs an initial access token (RFC 7591 §3) and the request lacks the right one
// (401 invalid_token, RFC 6750 §3.1). The token is compared as a SHA-256 digest in constant
// time: the configuration holds only the digest.
func (s *Server) registrationAllowed(r *http.Request) *respond.Error {
	if s.cfg.RegistrationOff {
		return respond.New(http.StatusForbidden, respond.CodeAccessDenied,
			"Dynamic client registration is off on this gateway; use a client_id the operator configured")
	}
	want := s.cfg.RegistrationTokenSHA256
	if len(want) == 0 {
		return nil
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") && token != "" && len(token) <= 1024 {
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want) == 1 {
			return nil
		}
	}
	e := respond.New(http.StatusUnauthorized, codeInvalidToken,
		"Registration needs the operator's initial access token as Authorization: Bearer <token>")
	e.WWWAuthenticate = `Bearer realm="drio registration"`
	if r.Header.Get("Authorization") != "" {
		e.WWWAuthenticate += `, error="invalid_token"` // none when no credential came (RFC 6750 §3.1)
	}
	return e
}

// codeInvalidToken is RFC 6750's error for a missing or wrong bearer token.
const codeInvalidToken = "invalid_token"

// registrationDay is the window of the per-address registration quota.
const registrationDay = 24 * time.Hour

// checkRegistrationQuota refuses a registration once one client address made
// Config.RegistrationQuota of them in the current day. With the registrations' expiry this
// bounds what one source can keep stored: at most quota × (ClientTTL in days) registrations.
// The count lives in the store, so instances that share Redis share it.
func (s *Server) checkRegistrationQuota(r *http.Request, rt *Runtime) *respond.Error {
	if s.cfg.RegistrationQuota <= 0 {
		return nil
	}
	now := time.Now()
	day := now.UnixNano() / int64(registrationDay)
	ok, err := rt.Grants.Rates.Count(r.Context(), fmt.Sprintf("register-day|%s|%d", s.clientIP(r), day),
		s.cfg.RegistrationQuota, registrationDay+time.Hour)
	if err != nil && !errors.Is(err, grants.ErrContention) {
		return s.storeFailed(r, "register", err)
	}
	// Contention on one address's counter means that address is registering in a burst:
	// refuse rather than let the burst past the quota.
	if !ok {
		retry := time.Duration((day+1)*int64(registrationDay) - now.UnixNano())
		if err != nil {
			retry = time.Second
		}
		e := respond.RateLimited(retry)
		e.Description = "This address registered too many clients today; reuse a registered client_id"
		return e
	}
	return nil
}

// parseRegistration reads and validates a registration request. Unknown fields are ignored and
// not stored; client-chosen ids and secrets are ignored (RFC 7591 §2, RFC 9700 §4.15).
func (s *Server) parseRegistration(w http.ResponseWriter, r *http.Request) (*grants.Client, *respond.Error) {
	if mediaType(r) != "application/json" {
		return nil, respond.InvalidClientMetadata("Content-Type must be application/json")
	}
	body, oerr := readBody(w, r, maxRegisterBody)
	if oerr != nil {
		return nil, oerr
	}
	if err := checkJSONShape(body, maxJSONDepth); err != nil {
		return nil, respond.InvalidClientMetadata("Request body: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, respond.InvalidClientMetadata("Request body must be a JSON object")
	}
	rec := &grants.Client{}

	// redirect_uris: required, 1..10 absolute URIs.
	if _, ok := raw["redirect_uris"]; !ok {
		return nil, respond.InvalidRedirectURI("Missing required field: redirect_uris")
	}
	if err := json.Unmarshal(raw["redirect_uris"], &rec.RedirectURIs); err != nil {
		return nil, respond.InvalidRedirectURI("redirect_uris must be an array of strings")
	}
	if len(rec.RedirectURIs) == 0 {
		return nil, respond.InvalidRedirectURI("redirect_uris must hold at least one URI")
	}
	if len(rec.RedirectURIs) > maxRedirectURIs {
		return nil, respond.InvalidClientMetadata("At most %d redirect_uris are allowed", maxRedirectURIs)
	}
	for i, u := range rec.RedirectURIs {
		if len(u) > maxRedirectURILength {
			return nil, respond.InvalidClientMetadata("redirect_uris[%d] is longer than %d bytes", i, maxRedirectURILength)
		}
		if err := ValidateRedirectURI(u, s.cfg.RedirectSchemes); err != nil {
			return nil, respond.InvalidRedirectURI("redirect_uris[%d]: %v", i, err)
		}
	}
	if dup := firstDuplicate(rec.RedirectURIs); dup >= 0 {
		return nil, respond.InvalidRedirectURI("redirect_uris[%d] is listed twice", dup)
	}

	var oe *respond.Error
	if rec.GrantTypes, oe = stringList(raw, "grant_types", []string{"authorization_code"}); oe != nil {
		return nil, oe
	}
	if rec.ResponseTypes, oe = stringList(raw, "response_types", []string{"code"}); oe != nil {
		return nil, oe
	}
	for _, g := range rec.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, respond.InvalidClientMetadata("grant_types: %q is not supported; use authorization_code and refresh_token", sanitizeName(g))
		}
	}
	if !slices.Contains(rec.GrantTypes, "authorization_code") {
		return nil, respond.InvalidClientMetadata("grant_types must include authorization_code")
	}
	if len(rec.ResponseTypes) != 1 || rec.ResponseTypes[0] != "code" {
		return nil, respond.InvalidClientMetadata("response_types must be [\"code\"]")
	}
	rec.GrantTypes, rec.ResponseTypes = slices.Compact(slices.Sorted(slices.Values(rec.GrantTypes))), []string{"code"}

	method, oe := stringField(raw, "token_endpoint_auth_method", 64)
	if oe != nil {
		return nil, oe
	}
	switch method {
	case "", "none":
	case "client_secret_post", "client_secret_basic":
		// Registered as a public client: the answer says "none" and carries no secret, which
		// clients such as the MCP SDK honour (RFC 7591 §3.2.1 lets the server replace values).
	default:
		return nil, respond.InvalidClientMetadata("token_endpoint_auth_method %q is not supported; use none (PKCE public client)", sanitizeName(method))
	}

	if rec.Name, oe = stringField(raw, "client_name", maxClientNameLength); oe != nil {
		return nil, oe
	}
	if !utf8.ValidString(rec.Name) || strings.ContainsFunc(rec.Name, isControl) {
		return nil, respond.InvalidClientMetadata("client_name must be printable UTF-8")
	}
	if rec.Scope, oe = stringField(raw, "scope", 1024); oe != nil {
		return nil, oe
	}
	for _, sc := range strings.Fields(rec.Scope) {
		if !s.scopeSupported(sc) {
			return nil, respond.InvalidClientMetadata("scope %q is not supported", sanitizeName(sc))
		}
	}
	rec.Scope = strings.Join(strings.Fields(rec.Scope), " ")
	for _, f := range []struct {
		name string
		dst  *string
	}{{"client_uri", &rec.ClientURI}, {"logo_uri", &rec.LogoURI}, {"policy_uri", &rec.PolicyURI}, {"tos_uri", &rec.TosURI}} {
		v, oe := stringField(raw, f.name, maxRedirectURILength)
		if oe != nil {
			return nil, oe
		}
		if v != "" && !safeWebURL(v) {
			return nil, respond.InvalidClientMetadata("%s must be an https URL", f.name)
		}
		*f.dst = v // never fetched: these are only echoed (SSRF, MCP security best practices)
	}
	return rec, nil
}

func stringList(raw map[string]json.RawMessage, name string, def []string) ([]string, *respond.Error) {
	v, ok := raw[name]
	if !ok || string(v) == "null" {
		return def, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil || len(list) == 0 || len(list) > 10 {
		return nil, respond.InvalidClientMetadata("%s must be a non-empty array of strings", name)
	}
	return list, nil
}

func stringField(raw map[string]json.RawMessage, name string, maxLen int) (string, *respond.Error) {
	v, ok := raw[name]
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", respond.InvalidClientMetadata("%s must be a string", name)
	}
	if len(s) > maxLen {
		return "", respond.InvalidClientMetadata("%s is longer than %d bytes", name, maxLen)
	}
	return s, nil
}

// safeWebURL accepts https URLs (and http on loopback) without userinfo or control characters.
func safeWebURL(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && IsLoopbackHost(u.Hostname()))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func firstDuplicate(list []string) int {
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		if seen[s] {
			return i
		}
		seen[s] = true
	}
	return -1
}
