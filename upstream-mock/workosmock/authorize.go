package workosmock

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authzRequest holds the query parameters of GET /user_management/authorize
// (and the hidden fields of the sign-in form, which carry them over).
type authzRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Provider            string
	ConnectionID        string
	OrganizationID      string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	LoginHint           string
	DomainHint          string
	ScreenHint          string
	ProviderScopes      string
}

// authzParamNames lists the carried-over parameters in form order.
var authzParamNames = []string{
	"client_id", "redirect_uri", "response_type", "provider", "connection_id",
	"organization_id", "state", "code_challenge", "code_challenge_method",
	"login_hint", "domain_hint", "screen_hint", "provider_scopes",
}

func parseAuthzRequest(v url.Values) authzRequest {
	return authzRequest{
		ClientID:            v.Get("client_id"),
		RedirectURI:         v.Get("redirect_uri"),
		ResponseType:        v.Get("response_type"),
		Provider:            v.Get("provider"),
		ConnectionID:        v.Get("connection_id"),
		OrganizationID:      v.Get("organization_id"),
		State:               v.Get("state"),
		CodeChallenge:       v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"),
		LoginHint:           v.Get("login_hint"),
		DomainHint:          v.Get("domain_hint"),
		ScreenHint:          v.Get("screen_hint"),
		ProviderScopes:      v.Get("provider_scopes"),
	}
}

func (a authzRequest) values() []formField {
	vals := []string{
		a.ClientID, a.RedirectURI, a.ResponseType, a.Provider, a.ConnectionID,
		a.OrganizationID, a.State, a.CodeChallenge, a.CodeChallengeMethod,
		a.LoginHint, a.DomainHint, a.ScreenHint, a.ProviderScopes,
	}
	out := make([]formField, 0, len(vals))
	for i, v := range vals {
		if v != "" {
			out = append(out, formField{Name: authzParamNames[i], Value: v})
		}
	}
	return out
}

// oauthProviders are the provider values accepted besides "authkit", with
// the authentication_method each one yields.
var oauthProviders = map[string]string{
	"authkit":        "Password",
	"GoogleOAuth":    "GoogleOAuth",
	"GitHubOAuth":    "GitHubOAuth",
	"MicrosoftOAuth": "MicrosoftOAuth",
	"AppleOAuth":     "AppleOAuth",
}

// authMethod is the authentication_method reported for a sign-in.
func (a authzRequest) authMethod() string {
	if m, ok := oauthProviders[a.Provider]; ok {
		return m
	}
	return "SSO"
}

// checkClient validates the parts that must never lead to a redirect: the
// client id and the redirect URI.
func (s *Server) checkClient(a authzRequest) (title, detail string, ok bool) {
	if a.ClientID == "" {
		return "Missing client ID", "The client_id parameter is required.", false
	}
	if a.ClientID != s.cfg.ClientID {
		return "Invalid client ID", "The client ID is not recognized.", false
	}
	if a.RedirectURI == "" {
		return "Missing redirect URI", "The redirect_uri parameter is required.", false
	}
	if err := s.checkRedirectURI(a.RedirectURI); err != nil {
		return "Invalid redirect URI", "The redirect URI is not allowed for this application: " + err.Error() + ".", false
	}
	return "", "", true
}

// errAmbiguousSelector is WorkOS's answer to more than one connection selector.
var errAmbiguousSelector = errors.New("only one of provider, connection_id or organization_id may be given")

// checkParams validates the rest of the request; failures are reported to
// the client by redirect.
func checkParams(a authzRequest) error {
	if a.ResponseType != "code" {
		return errors.New("response_type must be 'code'")
	}
	selectors := 0
	for _, v := range []string{a.Provider, a.ConnectionID, a.OrganizationID} {
		if v != "" {
			selectors++
		}
	}
	if selectors == 0 {
		return errors.New("one of provider, connection_id or organization_id is required")
	}
	if selectors > 1 {
		return errAmbiguousSelector
	}
	if a.Provider != "" {
		if _, ok := oauthProviders[a.Provider]; !ok {
			return errors.New("provider '" + a.Provider + "' is not supported")
		}
	}
	if a.ScreenHint != "" {
		if a.Provider != "authkit" {
			return errors.New("screen_hint requires provider 'authkit'")
		}
		if a.ScreenHint != "sign-in" && a.ScreenHint != "sign-up" {
			return errors.New("screen_hint must be 'sign-in' or 'sign-up'")
		}
	}
	if a.CodeChallenge != "" && a.CodeChallengeMethod != "S256" {
		return errors.New("code_challenge_method must be 'S256'")
	}
	if a.CodeChallenge == "" && a.CodeChallengeMethod != "" {
		return errors.New("code_challenge is required when code_challenge_method is set")
	}
	return nil
}

// checkAbsoluteHTTPURL reports whether raw is an absolute http(s) URL
// without a fragment.
func checkAbsoluteHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return errors.New("host is required")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("fragments are not allowed")
	}
	if u.User != nil {
		return errors.New("user info is not allowed")
	}
	return nil
}

// checkRedirectURI applies the allowlist, or the loopback rule when the
// allowlist is empty.
func (s *Server) checkRedirectURI(raw string) error {
	if err := checkAbsoluteHTTPURL(raw); err != nil {
		return err
	}
	if len(s.cfg.AllowedRedirectURIs) > 0 {
		if slices.Contains(s.cfg.AllowedRedirectURIs, raw) {
			return nil
		}
		return errors.New("not in the allowed list")
	}
	u, _ := url.Parse(raw)
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)) {
		return nil
	}
	return errors.New("host must be loopback")
}

// redirectWith builds redirect_uri with extra query parameters appended.
func redirectWith(redirectURI string, params [][2]string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	q := u.Query()
	for _, p := range params {
		if p[1] != "" {
			q.Set(p[0], p[1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// paramsErrorCode is the error code WorkOS redirects with for a checkParams failure.
func paramsErrorCode(err error) string {
	if errors.Is(err, errAmbiguousSelector) {
		return "ambiguous_connection_selector"
	}
	return "invalid_request"
}

// LastAuthorize returns the query of the last GET /user_management/authorize (nil before
// the first), so a test can see what reached WorkOS.
func (s *Server) LastAuthorize() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastAuthorize == nil {
		return nil
	}
	out := url.Values{}
	for k, v := range s.lastAuthorize {
		out[k] = slices.Clone(v)
	}
	return out
}

func redirectError(w http.ResponseWriter, r *http.Request, a authzRequest, status int, code, desc string) {
	http.Redirect(w, r, redirectWith(a.RedirectURI, [][2]string{
		{"error", code}, {"error_description", desc}, {"state", a.State},
	}), status)
}

// handleAuthorize serves GET /user_management/authorize: it validates the
// request, then either redirects at once (login_hint names a known user) or
// renders the sign-in page.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if s.applyFault(w, r, EndpointAuthorize) {
		return
	}
	s.mu.Lock()
	s.lastAuthorize = r.URL.Query()
	s.mu.Unlock()
	a := parseAuthzRequest(r.URL.Query())
	if title, detail, ok := s.checkClient(a); !ok {
		s.renderErrorPage(w, http.StatusBadRequest, title, detail)
		return
	}
	if err := checkParams(a); err != nil {
		redirectError(w, r, a, http.StatusFound, paramsErrorCode(err), err.Error()+".")
		return
	}
	if a.LoginHint != "" {
		s.mu.Lock()
		u, ok := s.userByEmail(a.LoginHint)
		s.mu.Unlock()
		if ok {
			code := s.issueCode(a, u)
			http.Redirect(w, r, redirectWith(a.RedirectURI, [][2]string{{"code", code}, {"state", a.State}}), http.StatusFound)
			return
		}
	}
	s.renderSignIn(w, a)
}

// handleAuthorizeComplete serves the sign-in form's POST: it re-validates
// the carried-over request and redirects (303) with a code, or with
// error=access_denied when the user cancelled.
func (s *Server) handleAuthorizeComplete(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.renderErrorPage(w, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	a := parseAuthzRequest(r.PostForm)
	if title, detail, ok := s.checkClient(a); !ok {
		s.renderErrorPage(w, http.StatusBadRequest, title, detail)
		return
	}
	if err := checkParams(a); err != nil {
		redirectError(w, r, a, http.StatusSeeOther, paramsErrorCode(err), err.Error()+".")
		return
	}
	if r.PostForm.Get("cancel") != "" {
		redirectError(w, r, a, http.StatusSeeOther, "access_denied", "The user denied the authorization request.")
		return
	}
	s.mu.Lock()
	u, ok := s.userByID(r.PostForm.Get("user_id"))
	s.mu.Unlock()
	if !ok {
		s.renderErrorPage(w, http.StatusBadRequest, "Unknown user", "The selected account does not exist.")
		return
	}
	code := s.issueCode(a, u)
	http.Redirect(w, r, redirectWith(a.RedirectURI, [][2]string{{"code", code}, {"state", a.State}}), http.StatusSeeOther)
}
