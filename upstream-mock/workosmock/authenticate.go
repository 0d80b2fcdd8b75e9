package workosmock

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"
)

// authCode is an issued, not yet redeemed authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	userID      string
	authMethod  string
	expires     time.Time
}

// tokenPair is what one successful authenticate call handed out.
type tokenPair struct {
	access     string
	refresh    string
	userID     string
	authMethod string
}

// refreshToken is the state of one opaque refresh token.
type refreshToken struct {
	sid        string
	userID     string
	authMethod string
	expires    time.Time
	rotatedAt  time.Time  // zero while the token is live
	next       *tokenPair // the pair it was rotated into
}

// authnRequest is the body of POST /user_management/authenticate, as the
// v4 SDK sends it (JSON) or as a form.
type authnRequest struct {
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	GrantType      string `json:"grant_type"`
	Code           string `json:"code"`
	CodeVerifier   string `json:"code_verifier"`
	RefreshToken   string `json:"refresh_token"`
	OrganizationID string `json:"organization_id"`
	IPAddress      string `json:"ip_address"`
	UserAgent      string `json:"user_agent"`
}

// authnUser is the user object of an authenticate response.
type authnUser struct {
	Object            string            `json:"object"`
	ID                string            `json:"id"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"email_verified"`
	FirstName         string            `json:"first_name"`
	LastName          string            `json:"last_name"`
	Name              string            `json:"name"`
	ProfilePictureURL *string           `json:"profile_picture_url"`
	LastSignInAt      string            `json:"last_sign_in_at"`
	ExternalID        *string           `json:"external_id"`
	Locale            *string           `json:"locale"`
	Metadata          map[string]string `json:"metadata"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
}

// authnResponse is the 200 body of POST /user_management/authenticate, the
// same for both grants.
type authnResponse struct {
	User                 authnUser `json:"user"`
	OrganizationID       *string   `json:"organization_id"`
	AccessToken          string    `json:"access_token"`
	RefreshToken         string    `json:"refresh_token"`
	AuthenticationMethod string    `json:"authentication_method"`
}

// issueCode stores a new single-use authorization code for u.
func (s *Server) issueCode(a authzRequest, u User) string {
	code := randomToken(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &authCode{
		clientID:    a.ClientID,
		redirectURI: a.RedirectURI,
		challenge:   a.CodeChallenge,
		userID:      u.ID,
		authMethod:  a.authMethod(),
		expires:     s.now().Add(s.cfg.CodeTTL),
	}
	return code
}

// readAuthnRequest decodes a JSON or form-urlencoded body.
func readAuthnRequest(w http.ResponseWriter, r *http.Request) (authnRequest, error) {
	var req authnRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err != nil {
			return req, errors.New("the request body could not be parsed")
		}
		f := r.PostForm
		req = authnRequest{
			ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"), GrantType: f.Get("grant_type"),
			Code: f.Get("code"), CodeVerifier: f.Get("code_verifier"), RefreshToken: f.Get("refresh_token"),
			OrganizationID: f.Get("organization_id"), IPAddress: f.Get("ip_address"), UserAgent: f.Get("user_agent"),
		}
		return req, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return req, errors.New("the request body could not be read")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, errors.New("the request body is not valid JSON")
	}
	return req, nil
}

// handleAuthenticate serves POST /user_management/authenticate.
func (s *Server) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	req, err := readAuthnRequest(w, r)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", capitalize(err.Error())+".")
		return
	}
	switch req.GrantType {
	case "authorization_code":
		if s.applyFault(w, r, EndpointAuthenticateCode) {
			return
		}
	case "refresh_token":
		if s.applyFault(w, r, EndpointAuthenticateRefresh) {
			return
		}
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type.")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Unsupported grant_type '"+req.GrantType+"'.")
		return
	}
	if req.ClientID != s.cfg.ClientID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "Invalid client_id.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.ClientSecret), []byte(s.cfg.APIKey)) != 1 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "Invalid client secret.")
		return
	}
	if req.GrantType == "authorization_code" {
		s.codeGrant(w, req)
		return
	}
	s.refreshGrant(w, req)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (s *Server) codeGrant(w http.ResponseWriter, req authnRequest) {
	if req.Code == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: code.")
		return
	}
	invalid := "The code '" + req.Code + "' has expired or is invalid."
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c, ok := s.codes[req.Code]
	if !ok || !now.Before(c.expires) {
		delete(s.codes, req.Code)
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	if c.challenge != "" && req.CodeVerifier == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "code_verifier is required.")
		return
	}
	delete(s.codes, req.Code) // single use, whatever happens next
	if c.challenge != "" && subtle.ConstantTimeCompare([]byte(s256(req.CodeVerifier)), []byte(c.challenge)) != 1 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	if c.clientID != req.ClientID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	u, ok := s.grantUserLocked(w, c.userID, invalid)
	if !ok {
		return
	}
	sid := "session_" + newULID(now)
	s.sessions[sid] = &session{id: sid, userID: u.ID, createdAt: now}
	s.grantPairLocked(w, u, sid, c.authMethod)
}

func (s *Server) refreshGrant(w http.ResponseWriter, req authnRequest) {
	if req.RefreshToken == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: refresh_token.")
		return
	}
	const invalid = "Invalid refresh token."
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rt, ok := s.refresh[req.RefreshToken]
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	if s.ended[rt.sid] || s.sessions[rt.sid] == nil {
		delete(s.refresh, req.RefreshToken)
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	if !rt.rotatedAt.IsZero() {
		if now.Before(rt.rotatedAt.Add(s.cfg.RefreshGrace)) && rt.next != nil {
			u, ok := s.userByID(rt.next.userID)
			if ok {
				writeJSON(w, http.StatusOK, s.authnResponseLocked(u, *rt.next))
				return
			}
		}
		delete(s.refresh, req.RefreshToken)
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	if !now.Before(rt.expires) {
		delete(s.refresh, req.RefreshToken)
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", invalid)
		return
	}
	u, ok := s.grantUserLocked(w, rt.userID, invalid)
	if !ok {
		return
	}
	if req.OrganizationID != "" && req.OrganizationID != u.OrganizationID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request",
			"The user is not a member of organization '"+req.OrganizationID+"'.")
		return
	}
	if pair, ok := s.grantPairLocked(w, u, rt.sid, rt.authMethod); ok {
		rt.rotatedAt = now
		rt.next = &pair
	}
}

// grantUserLocked returns the user a code or refresh token was issued to,
// or answers invalid_grant with msg, and false, when that user is gone.
// s.mu must be held.
func (s *Server) grantUserLocked(w http.ResponseWriter, userID, msg string) (User, bool) {
	u, ok := s.userByID(userID)
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", msg)
	}
	return u, ok
}

// grantPairLocked issues a new token pair for u in session sid and answers
// the authenticate call with it; if the pair cannot be minted it answers
// server_error and reports false. s.mu must be held.
func (s *Server) grantPairLocked(w http.ResponseWriter, u User, sid, method string) (tokenPair, bool) {
	pair, err := s.issuePairLocked(u, sid, method)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "Could not issue tokens.")
		return tokenPair{}, false
	}
	writeJSON(w, http.StatusOK, s.authnResponseLocked(u, pair))
	return pair, true
}

// issuePairLocked mints an access token and stores a new refresh token for
// session sid. s.mu must be held.
func (s *Server) issuePairLocked(u User, sid, method string) (tokenPair, error) {
	access, err := s.mintLocked(u, sid, 0, nil)
	if err != nil {
		return tokenPair{}, err
	}
	refresh := randomToken(32)
	s.refresh[refresh] = &refreshToken{
		sid:        sid,
		userID:     u.ID,
		authMethod: method,
		expires:    s.now().Add(refreshTTL),
	}
	return tokenPair{access: access, refresh: refresh, userID: u.ID, authMethod: method}, nil
}

func (s *Server) authnResponseLocked(u User, p tokenPair) authnResponse {
	created := formatTime(s.createdAt)
	resp := authnResponse{
		User: authnUser{
			Object:        "user",
			ID:            u.ID,
			Email:         u.Email,
			EmailVerified: true,
			FirstName:     u.FirstName,
			LastName:      u.LastName,
			Name:          u.Name(),
			LastSignInAt:  formatTime(s.now()),
			Metadata:      map[string]string{},
			CreatedAt:     created,
			UpdatedAt:     created,
		},
		AccessToken:          p.access,
		RefreshToken:         p.refresh,
		AuthenticationMethod: p.authMethod,
	}
	if u.OrganizationID != "" {
		org := u.OrganizationID
		resp.OrganizationID = &org
	}
	return resp
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}
