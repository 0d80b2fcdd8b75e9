// Package workosmock is a faithful, in-process stand-in for the parts of the
// WorkOS User Management API that the gateway uses: the hosted AuthKit
// authorize page, POST /user_management/authenticate (authorization_code and
// refresh_token grants, PKCE S256, rotating refresh tokens with a replay
// grace window), the JWKS, session revocation and logout.
//
// It speaks the wire protocol of the real service closely enough that the
// workos-go v4 SDK can be pointed at it (Client.Endpoint = the server URL),
// and it exposes a Go API so tests can inject faults, rotate keys, expire
// sessions, forge tokens and move a fake clock.
package workosmock

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a Server. Only ClientID is required.
type Config struct {
	// ClientID is the WorkOS client id the server accepts (client_...).
	ClientID string
	// APIKey is the client_secret expected at /user_management/authenticate
	// and the Bearer key expected by POST /user_management/sessions/revoke.
	APIKey string
	// BaseURL is the public base URL of the server as clients see it, with
	// no trailing slash. The access-token issuer is
	// BaseURL + "/user_management/" + ClientID. It can be set later with
	// SetBaseURL (handy with httptest.NewServer).
	BaseURL string
	// AccessTokenTTL is the access-token lifetime (exp - iat). Default 5m.
	AccessTokenTTL time.Duration
	// CodeTTL is the authorization-code lifetime. Default 10m.
	CodeTTL time.Duration
	// RefreshGrace is the window in which replaying a just-rotated refresh
	// token returns the same rotated pair. Default 30s.
	RefreshGrace time.Duration
	// Users are the accounts that can sign in. Default DemoUsers().
	Users []User
	// AllowedRedirectURIs is the exact-match allowlist for redirect_uri.
	// Empty allows any http(s) URI whose host is loopback (127.0.0.1,
	// [::1] or localhost).
	AllowedRedirectURIs []string
	// Now is the clock used for token, code and session times. Default
	// time.Now.
	Now func() time.Time
}

// User is a WorkOS user account together with its (single) organization
// membership. Role and Permissions are only put into tokens when
// OrganizationID is set.
type User struct {
	ID             string
	Email          string
	FirstName      string
	LastName       string
	OrganizationID string
	Role           string
	Permissions    []string
}

// Name returns the user's display name ("First Last").
func (u User) Name() string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// Demo user and organization ids, stable so that scripts can rely on them.
const (
	DemoOrgID   = "org_01JDRIODEMOORGANIZATION00"
	DemoAdaID   = "user_01JDRIODEMOADALOVELACE00"
	DemoGraceID = "user_01JDRIODEMOGRACEHOPPER00"
	DemoLinusID = "user_01JDRIODEMOLINUSTORVALDS"
)

const (
	refreshTTL    = 30 * 24 * time.Hour // refresh-token lifetime, as in the emulator
	maxBodyBytes  = 64 << 10
	sweepInterval = time.Minute
)

// DemoUsers returns the default accounts: Ada (admin of DemoOrgID with
// apps:read and apps:write), Grace (member of DemoOrgID with apps:read) and
// Linus (no organization).
func DemoUsers() []User {
	return []User{
		{ID: DemoAdaID, Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
			OrganizationID: DemoOrgID, Role: "admin", Permissions: []string{"apps:read", "apps:write"}},
		{ID: DemoGraceID, Email: "grace@example.com", FirstName: "Grace", LastName: "Hopper",
			OrganizationID: DemoOrgID, Role: "member", Permissions: []string{"apps:read"}},
		{ID: DemoLinusID, Email: "linus@example.com", FirstName: "Linus", LastName: "Torvalds"},
	}
}

// Server is the WorkOS stand-in. It is an http.Handler; create it with New
// and release it with Close.
type Server struct {
	cfg       Config
	createdAt time.Time

	mu        sync.Mutex
	baseURL   string
	users     []User
	keys      []*signingKey // keys[0] signs; the rest are only published
	codes     map[string]*authCode
	refresh   map[string]*refreshToken
	sessions  map[string]*session
	ended     map[string]bool
	endedList []string
	faults    map[Endpoint]*Fault
	hits      map[Endpoint]int64
	// lastAuthorize is the query of the last GET /user_management/authorize, for tests.
	lastAuthorize url.Values

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// New validates cfg, fills in defaults, generates a signing key and starts
// the background sweeper. Call Close when done.
func New(cfg Config) (*Server, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("workosmock: client id is required")
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = 5 * time.Minute
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = 10 * time.Minute
	}
	if cfg.RefreshGrace <= 0 {
		cfg.RefreshGrace = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	users := cfg.Users
	if len(users) == 0 {
		users = DemoUsers()
	}
	seen := map[string]bool{}
	for _, u := range users {
		if u.ID == "" || u.Email == "" {
			return nil, errors.New("workosmock: every user needs an id and an email")
		}
		if seen[u.ID] {
			return nil, errors.New("workosmock: duplicate user id " + u.ID)
		}
		seen[u.ID] = true
	}
	for _, ru := range cfg.AllowedRedirectURIs {
		if err := checkAbsoluteHTTPURL(ru); err != nil {
			return nil, errors.New("workosmock: allowed redirect uri " + ru + ": " + err.Error())
		}
	}
	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		createdAt: time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC),
		baseURL:   strings.TrimRight(cfg.BaseURL, "/"),
		users:     append([]User(nil), users...),
		keys:      []*signingKey{key},
		codes:     map[string]*authCode{},
		refresh:   map[string]*refreshToken{},
		sessions:  map[string]*session{},
		ended:     map[string]bool{},
		faults:    map[Endpoint]*Fault{},
		hits:      map[Endpoint]int64{},
		closed:    make(chan struct{}),
	}
	s.wg.Add(1)
	go s.sweepLoop()
	return s, nil
}

// SetBaseURL sets the public base URL (no trailing slash) used for the
// token issuer.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// Issuer returns the iss claim the server puts into access tokens:
// BaseURL + "/user_management/" + ClientID.
func (s *Server) Issuer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issuerLocked()
}

func (s *Server) issuerLocked() string {
	return s.baseURL + "/user_management/" + s.cfg.ClientID
}

// Close releases requests blocked by a FaultHang and stops the background
// sweeper. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.wg.Wait()
}

// ServeHTTP routes a request to the WorkOS endpoint it names.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/healthz":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	case p == "/user_management/authorize":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.handleAuthorize(w, r)
	case p == "/user_management/authorize/complete":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		s.handleAuthorizeComplete(w, r)
	case p == "/user_management/authenticate":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		s.handleAuthenticate(w, r)
	case strings.HasPrefix(p, "/sso/jwks/"):
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.handleJWKS(w, r, strings.TrimPrefix(p, "/sso/jwks/"))
	case strings.HasPrefix(p, "/user_management/sessions/jwks/"):
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.handleJWKS(w, r, strings.TrimPrefix(p, "/user_management/sessions/jwks/"))
	case p == "/user_management/sessions/revoke":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		s.handleRevoke(w, r)
	case p == "/user_management/sessions/logout":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.handleLogout(w, r)
	default:
		writeMessageError(w, http.StatusNotFound, "not_found", "Not Found")
	}
}

func (s *Server) now() time.Time { return s.cfg.Now() }

func (s *Server) userByID(id string) (User, bool) {
	for _, u := range s.users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

func (s *Server) userByEmail(email string) (User, bool) {
	for _, u := range s.users {
		if strings.EqualFold(u.Email, strings.TrimSpace(email)) {
			return u, true
		}
	}
	return User{}, false
}

// allowMethods answers 405 with a JSON error when r.Method is not listed.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeMessageError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
	return false
}

// writeJSON writes v as JSON with an X-Request-ID header.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message":"Internal Server Error","code":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if h.Get("X-Request-ID") == "" {
		h.Set("X-Request-ID", uuid.NewString())
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeOAuthError writes the {"error","error_description"} shape used by
// /user_management/authenticate.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// writeMessageError writes the {"message","code"} shape used by the
// management endpoints.
func writeMessageError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "code": code})
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("workosmock: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newULID returns a 26-character ULID (48-bit millisecond time, 80 random
// bits, Crockford base32), the id format WorkOS uses.
func newULID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(b[6:]); err != nil {
		panic("workosmock: crypto/rand: " + err.Error())
	}
	// 128 bits, left-padded to 130, read 5 bits at a time.
	out := make([]byte, 26)
	bit := func(i int) byte { // i in [0,130)
		i -= 2
		if i < 0 {
			return 0
		}
		return (b[i/8] >> uint(7-i%8)) & 1
	}
	for i := range out {
		var v byte
		for j := 0; j < 5; j++ {
			v = v<<1 | bit(i*5+j)
		}
		out[i] = crockford[v]
	}
	return string(out)
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
