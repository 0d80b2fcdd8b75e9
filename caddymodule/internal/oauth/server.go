package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/drio-gateway/gateway/caddymodule/internal/cimd"
	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// How long a client is told to wait before retrying, by what failed.
const (
	retryAfterStartup  = 2 * time.Second
	retryAfterStore    = 2 * time.Second
	retryAfterUpstream = 5 * time.Second
)

// codeTombstone is how long a bridge code record is kept after it was issued, so a replay long
// after redemption is still recognised (its validity is Config.CodeTTL).
const codeTombstone = time.Hour

// Config is the server's configuration, provisioned and validated by the Caddy app.
type Config struct {
	// Issuer is the public base URL, without a trailing slash; every URL the server
	// advertises is built from it, never from Host or X-Forwarded-*.
	Issuer string
	// APIBase is the protected API's path prefix; the auth routes are <APIBase>/auth/*.
	APIBase string
	// Scopes are advertised and accepted.
	Scopes []string
	// RedirectSchemes are private-use schemes accepted even when not in reverse-domain form.
	RedirectSchemes []string
	// DisableConsent skips the consent page for every client but metadata-document ones.
	DisableConsent bool
	// WorkOSEndpoint is the WorkOS API base URL (an accepted callback iss, and a form-action).
	WorkOSEndpoint string
	// TokenIssuers are the iss values of WorkOS tokens (also accepted as a callback iss).
	TokenIssuers []string
	PendingTTL   time.Duration
	CodeTTL      time.Duration
	SessionTTL   time.Duration
	RefreshGrace time.Duration
	// RotationLease bounds one refresh rotation (the WorkOS timeout plus a margin).
	RotationLease time.Duration
	// ClientTTL is how long a registration lives unused; each use renews it (at most once a
	// day). Zero: registrations never expire.
	ClientTTL time.Duration
	// RegistrationQuota bounds the registrations from one client address per day. Zero: no
	// bound beyond the rate limit.
	RegistrationQuota int
	// IntrospectionSecretSHA256 is the SHA-256 digest of the credential resource servers
	// present to the introspection endpoint. Empty: introspection refuses everyone.
	IntrospectionSecretSHA256 []byte
	// LogoutRedirects are return addresses allowed after logout besides the client's own
	// registered redirect URIs.
	LogoutRedirects []string
	// ClientMetadataDocuments accepts https client_id URLs whose metadata document the
	// gateway fetches (Deps.ClientDocuments), and advertises it in the metadata.
	ClientMetadataDocuments bool

	// StaticClients are the clients the operator configured; they are found before the
	// store's registrations. Validate them with ValidateStaticClients.
	StaticClients []StaticClient
	// RegistrationOff refuses dynamic registration and every client it registered earlier:
	// only configured clients (and client metadata documents) sign in.
	RegistrationOff bool
	// RegistrationTokenSHA256 is the SHA-256 digest of the initial access token that
	// registration requires as a bearer token (RFC 7591 §3). Empty: registration is open to
	// anyone.
	RegistrationTokenSHA256 []byte
	// Consent brands or replaces the consent page.
	Consent ConsentOptions
	// SignIn are the WorkOS sign-in defaults and what a client may choose per request.
	SignIn SignInOptions
}

// Runtime is what the Caddy app acquires when it starts and shares with every handler.
type Runtime struct {
	Grants   *grants.Stores
	Verifier *verifier.Verifier
	Limiter  Limiter
	// Secret signs cookies and CSRF tokens.
	Secret []byte
}

// Deps are the server's collaborators.
type Deps struct {
	Bridge *workos.Bridge
	// Runtime returns the started runtime, waiting (bounded by ctx) if the app is starting.
	Runtime func(context.Context) (*Runtime, error)
	// RequestID returns the id that names r in responses and logs.
	RequestID func(*http.Request) string
	// ClientIP returns the client's address (proxies already accounted for).
	ClientIP func(*http.Request) string
	Logger   *zap.Logger
	// ClientDocuments resolves client_id URLs when Config.ClientMetadataDocuments is set.
	ClientDocuments *cimd.Resolver
}

// Server serves the discovery documents and the <APIBase>/auth/* routes.
type Server struct {
	cfg       Config
	bridge    *workos.Bridge
	runtime   func(context.Context) (*Runtime, error)
	requestID func(*http.Request) string
	clientIP  func(*http.Request) string
	logger    *zap.Logger

	secureCookies bool
	authPrefix    string
	routes        map[string]route
	docs          documents
	clientDocs    *cimd.Resolver
	// refreshFlight joins concurrent refreshes of one token in this process.
	refreshFlight singleflight.Group
	// statics are the configured clients by id; secrets checks their secrets.
	statics map[string]*staticClient
	secrets *secretChecker
	// consent is the consent page as configured; lastTemplateLog throttles its failure log.
	consent         consentView
	lastTemplateLog atomic.Int64
}

// route is one endpoint: the methods it answers, its rate-limit bucket ("" for none), whether
// it needs the runtime, and the handler.
type route struct {
	methods   []string
	limit     string
	stateless bool
	serve     func(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error
}

// New builds a server; it makes no call and opens nothing.
func New(cfg Config, deps Deps) (*Server, error) {
	s := &Server{
		cfg:           cfg,
		bridge:        deps.Bridge,
		runtime:       deps.Runtime,
		requestID:     deps.RequestID,
		clientIP:      deps.ClientIP,
		logger:        deps.Logger,
		secureCookies: isHTTPS(cfg.Issuer),
		authPrefix:    cfg.APIBase + "/auth/",
	}
	if cfg.ClientMetadataDocuments {
		if deps.ClientDocuments == nil {
			return nil, errors.New("oauth: client metadata documents are on but no resolver was given")
		}
		s.clientDocs = deps.ClientDocuments
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.requestID == nil {
		s.requestID = func(*http.Request) string { return "" }
	}
	if s.clientIP == nil {
		s.clientIP = func(r *http.Request) string { return r.RemoteAddr }
	}
	if err := cfg.Consent.Check(); err != nil {
		return nil, err
	}
	if err := cfg.SignIn.Check(); err != nil {
		return nil, err
	}
	s.consent = newConsentView(cfg.Consent)
	var err error
	if s.statics, err = buildStatic(cfg.StaticClients); err != nil {
		return nil, err
	}
	s.secrets = newSecretChecker()
	if s.docs, err = buildDocuments(cfg); err != nil {
		return nil, err
	}
	get, post := []string{http.MethodGet}, []string{http.MethodPost}
	docMethods := []string{http.MethodGet, http.MethodHead}
	s.routes = map[string]route{
		wellKnownAS:                  {methods: docMethods, stateless: true, serve: s.serveASMetadata},
		wellKnownPRM:                 {methods: docMethods, stateless: true, serve: s.servePRMetadata},
		wellKnownPRM + cfg.APIBase:   {methods: docMethods, stateless: true, serve: s.servePRMetadata},
		s.authPrefix + "register":    {methods: post, limit: "register", serve: s.serveRegister},
		s.authPrefix + "authorize":   {methods: []string{http.MethodGet, http.MethodPost}, limit: "authorize", serve: s.serveAuthorize},
		s.authPrefix + "callback":    {methods: get, limit: "callback", serve: s.serveCallback},
		wellKnownOIDC:                {methods: docMethods, stateless: true, serve: s.serveNotOpenID},
		s.authPrefix + "revoke":      {methods: post, limit: "revoke", serve: s.serveRevocation},
		s.authPrefix + "introspect":  {methods: post, serve: s.serveIntrospection},
		s.authPrefix + "logout":      {methods: post, limit: "logout", serve: s.serveLogout},
		s.authPrefix + "logout/done": {methods: get, serve: s.serveLogoutDone},
		s.authPrefix + "health":      {methods: docMethods, serve: s.serveHealth},
		s.authPrefix + "live":        {methods: docMethods, stateless: true, serve: s.serveLive},
		s.authPrefix + "token":       {methods: post, limit: "token", serve: s.serveToken},
		s.authPrefix + "refresh":     {methods: post, limit: "refresh", serve: s.serveRefresh},
	}
	return s, nil
}

// Handles reports whether path is the server's: a route, or anything under the auth prefix or
// the OAuth well-known documents (which get a 404 in the OAuth shape).
func (s *Server) Handles(path string) bool {
	if _, ok := s.routes[path]; ok {
		return true
	}
	return strings.HasPrefix(path, s.authPrefix) || strings.HasPrefix(path, "/.well-known/oauth-")
}

// route finds the endpoint of path: an exact route, or the protected-resource metadata of
// any path on this origin (RFC 9728 §3.1 path-inserted form).
func (s *Server) route(path string) (route, bool) {
	if rt, ok := s.routes[path]; ok {
		return rt, true
	}
	if strings.HasPrefix(path, wellKnownPRM+"/") {
		return s.routes[wellKnownPRM], true
	}
	return route{}, false
}

// ServeHTTP answers a request for which Handles is true. Every failure is written here.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e := s.serve(w, r); e != nil {
		respond.Write(w, r, e)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) *respond.Error {
	rt, ok := s.route(r.URL.Path)
	if !ok {
		return respond.New(http.StatusNotFound, respond.CodeInvalidRequest, "No such OAuth endpoint")
	}
	if s.handleCORS(w, r) {
		return nil
	}
	if e := requireMethod(w, r, rt.methods...); e != nil {
		return e
	}
	if rt.stateless {
		return rt.serve(w, r, nil)
	}
	run, err := s.runtime(r.Context())
	if err != nil {
		return respond.Unavailable(retryAfterStartup, "The gateway is starting; retry shortly")
	}
	if rt.limit != "" {
		if ok, retry := run.Limiter.Allow(r.Context(), rt.limit+"|"+s.clientIP(r)); !ok {
			return respond.RateLimited(retry)
		}
	}
	return rt.serve(w, r, run)
}

// storeFailed logs a store failure once and returns the 503 the client gets (only the store
// failed; the same request may be retried). A request the client abandoned is not logged.
func (s *Server) storeFailed(r *http.Request, during string, err error) *respond.Error {
	metrics.StoreErrors.WithLabelValues(during).Inc()
	if r.Context().Err() == nil {
		s.logger.Error("store failure", zap.String("during", during), zap.String("request_id", s.requestID(r)), zap.Error(err))
	}
	return respond.Unavailable(retryAfterStore, "Storage is unavailable; retry shortly")
}

// endpoint returns the absolute URL of an auth route, e.g. endpoint("token").
func (s *Server) endpoint(name string) string { return s.cfg.Issuer + s.authPrefix + name }

// target is where answers to the client of an authorization go.
func (s *Server) target(redirectURI, state string, hasState bool) *respond.Target {
	return &respond.Target{RedirectURI: redirectURI, State: state, HasState: hasState, Issuer: s.cfg.Issuer}
}

// validResource reports whether res names a resource of this gateway (RFC 8707): the origin
// itself, or an absolute path on it (the API base, or any protected path a client found in
// path-inserted protected-resource metadata), with no query, fragment, empty or dot segment.
func (s *Server) validResource(res string) bool {
	if res == s.cfg.Issuer {
		return true
	}
	path, ok := strings.CutPrefix(res, s.cfg.Issuer+"/")
	if !ok || path == "" || strings.ContainsAny(path, "?#\\%") || len(path) > 1024 {
		return false
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// mutateFailed turns the error of a grants.Mutate call into the client's answer: the
// callback's own *respond.Error as is, contention as a retryable 503, anything else as a
// store failure.
func (s *Server) mutateFailed(r *http.Request, during string, err error) *respond.Error {
	if err == nil {
		return nil
	}
	var e *respond.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, grants.ErrContention) {
		return respond.Unavailable(time.Second, "Too much contention on this request; retry")
	}
	return s.storeFailed(r, during, err)
}

// isHTTPS reports whether issuer's scheme is https, in any case (URL schemes are
// case-insensitive, and an https issuer is what earns the gateway's cookies the __Host- prefix
// and Secure).
func isHTTPS(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && u.Scheme == "https"
}
