// app.go holds the drio app (global option `drio { … }`): the configuration every drio handler
// shares, and the resources that must outlive a config reload (store, session registry, JWKS
// verifier), which it takes from package-level usage pools in Start and gives back in Stop.

package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/cimd"
	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults. Each is documented on the field it fills.
const (
	defaultAPIBase        = "/api/v1"
	defaultWorkOSEndpoint = "https://api.workos.com"
	defaultWorkOSTimeout  = 10 * time.Second
	defaultPendingTTL     = 10 * time.Minute
	defaultCodeTTL        = 60 * time.Second
	defaultSessionTTL     = 30 * 24 * time.Hour
	defaultRefreshGrace   = 30 * time.Second
	defaultSessionCache   = 2 * time.Second
	defaultClientTTL      = 90 * 24 * time.Hour
	defaultRegQuota       = 1000
	defaultRatePerSecond  = 5
	defaultRateBurst      = 50
)

// App is the drio gateway's Caddy app. It owns the configuration and the shared state of the
// `drio_oauth` and `drio_protect` handlers. In a Caddyfile it is the `drio` global option.
type App struct {
	// Issuer is the gateway's public base URL, exactly as clients reach it, with no path,
	// query or fragment (for example https://api.example.com). Every discovery URL and the
	// WorkOS callback (<issuer>/api/v1/auth/callback) are built from it, never from Host or
	// X-Forwarded-* headers. Required. Must be https unless the host is loopback.
	Issuer string `json:"issuer,omitempty"`

	// APIBase is the path prefix of the protected API and of the auth routes
	// (<api_base>/auth/...). Default: /api/v1.
	APIBase string `json:"api_base,omitempty"`

	// WorkOS configures the upstream sign-in service.
	WorkOS *WorkOSConfig `json:"workos,omitempty"`

	// Storage selects where clients, pending authorizations, codes and sessions live.
	// Default: Badger in <caddy data dir>/drio.
	Storage *StorageConfig `json:"storage,omitempty"`

	// DisableConsent skips the gateway's consent page, for first-party deployments where
	// every client is trusted. Default: false (a dynamically registered client gets a
	// consent page before the user is sent to WorkOS). A client metadata document's client,
	// which any website can be, gets the page regardless.
	DisableConsent bool `json:"disable_consent,omitempty"`

	// TokenIssuers are the accepted `iss` values of WorkOS access tokens. Default: both forms
	// WorkOS uses for the client id: <endpoint>/user_management/<client_id> and <endpoint>/.
	TokenIssuers []string `json:"token_issuers,omitempty"`

	// Audience, when set, must be in a token's `aud`. WorkOS User Management tokens carry no
	// `aud` unless a JWT template adds one. Default: not checked (the session registry binds
	// tokens to this gateway instead).
	Audience string `json:"audience,omitempty"`

	// AllowForeignSessions accepts valid WorkOS tokens whose session this gateway did not
	// broker. Default: false; such tokens get 401, and revocations take effect at once.
	AllowForeignSessions bool `json:"allow_foreign_sessions,omitempty"`

	// RedirectSchemes are private-use redirect URI schemes accepted even when not in
	// reverse-domain form. Default: none.
	RedirectSchemes []string `json:"redirect_schemes,omitempty"`

	// Scopes advertised in the discovery documents and accepted at authorize.
	// Default: openid, profile, email.
	Scopes []string `json:"scopes,omitempty"`

	// PendingTTL bounds the time between /authorize and the WorkOS callback. Default: 10m.
	PendingTTL caddy.Duration `json:"pending_ttl,omitempty"`

	// CodeTTL is how long a bridge code can be redeemed. Default: 60s.
	CodeTTL caddy.Duration `json:"code_ttl,omitempty"`

	// SessionTTL is how long a brokered session and its refresh tokens are remembered.
	// Default: 720h (30 days), WorkOS's default maximum session length.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`

	// RefreshGrace is the window in which a retry with a just-rotated refresh token returns
	// the same new pair. Later reuse revokes the whole session. Default: 30s.
	RefreshGrace caddy.Duration `json:"refresh_grace,omitempty"`

	// ClientTTL is how long a dynamically registered client lives unused; every sign-in or
	// token request renews it (at most once a day). Default: 2160h (90 days).
	ClientTTL caddy.Duration `json:"client_ttl,omitempty"`

	// RegistrationQuota bounds the registrations from one client IP per day (UTC), counted
	// in the store (shared with Redis). With ClientTTL it bounds what one source can keep
	// stored. Off with rate_limit off. Default: 1000.
	RegistrationQuota int `json:"registration_quota,omitempty"`

	// IntrospectionSecretSHA256 is the hex SHA-256 digest of the credential resource servers
	// present (as a bearer token) to the introspection endpoint; the secret itself never
	// appears in the configuration. Default: none, and introspection answers 401 to everyone.
	IntrospectionSecretSHA256 string `json:"introspection_secret_sha256,omitempty"`

	// LogoutRedirects are return addresses allowed after logout besides each client's
	// registered redirect URIs. Default: none.
	LogoutRedirects []string `json:"post_logout_redirect_uris,omitempty"`

	// RateLimit bounds requests per client IP to register, authorize, callback, token,
	// refresh, revoke and logout.
	// With Redis storage the count is shared by every instance. Default: 5 requests per
	// second per endpoint, burst 50.
	RateLimit *RateLimitConfig `json:"rate_limit,omitempty"`

	// ClientMetadataDocuments configures clients whose client_id is the https URL of their
	// metadata document. Default: on, public https addresses only.
	ClientMetadataDocuments *ClientDocumentsConfig `json:"client_metadata_documents,omitempty"`
	// Clients are pre-registered clients (clients.go). Default: none.
	Clients []*ClientConfig `json:"clients,omitempty"`

	// Registration configures dynamic client registration. Default: open to anyone.
	Registration *RegistrationConfig `json:"registration,omitempty"`

	registrationToken []byte
	clientAt          map[string]string // Caddyfile position of each client block, for errors

	// Consent brands the consent page or replaces it with a template. Default: the built-in page.
	Consent *ConsentConfig `json:"consent,omitempty"`
	// SignIn says how WorkOS signs users in and what a client may choose. Default: AuthKit.
	SignIn *SignInConfig `json:"sign_in,omitempty"`

	issuerURL   *url.URL
	introspect  []byte
	logger      *zap.Logger
	storeKey    string
	verifierKey string
	bridge      *workos.Bridge
	limiter     *oauth.MemoryLimiter
	clientDocs  *cimd.Resolver
	run         *appRun
}

// appRun is the App's mutable runtime part, behind a pointer so App stays copyable.
type appRun struct {
	state   atomic.Pointer[oauth.Runtime]
	backend *backend // what state was built from; tests reach the raw store through it
	ready   chan struct{}
	started atomic.Bool
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "drio",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets defaults, resolves {env.*} placeholders and parses the configuration. It
// opens nothing: the store and the JWKS fetcher start in Start, so `caddy validate` never
// touches the data directory.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.run = &appRun{ready: make(chan struct{})}
	if err := metrics.Register(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("drio: registering metrics: %v", err)
	}
	repl := caddy.NewReplacer()

	a.Issuer = strings.TrimRight(repl.ReplaceKnown(a.Issuer, ""), "/")
	if a.Issuer == "" {
		return errors.New("drio: issuer is required: add `issuer https://<your gateway host>` to the drio global option")
	}
	u, err := parseIssuer(a.Issuer)
	if err != nil {
		return fmt.Errorf("drio: issuer %q: %v", a.Issuer, err)
	}
	a.issuerURL = u
	if a.APIBase == "" {
		a.APIBase = defaultAPIBase
	}
	a.APIBase = "/" + strings.Trim(a.APIBase, "/")

	if err := a.provisionWorkOS(repl); err != nil {
		return err
	}
	if len(a.TokenIssuers) == 0 {
		a.TokenIssuers = []string{
			a.WorkOS.Endpoint + "/user_management/" + a.WorkOS.ClientID,
			a.WorkOS.Endpoint + "/",
		}
	}
	if len(a.Scopes) == 0 {
		a.Scopes = []string{"openid", "profile", "email"}
	}
	setDefault(&a.PendingTTL, defaultPendingTTL)
	setDefault(&a.CodeTTL, defaultCodeTTL)
	setDefault(&a.SessionTTL, defaultSessionTTL)
	setDefault(&a.RefreshGrace, defaultRefreshGrace)
	setDefault(&a.ClientTTL, defaultClientTTL)
	if a.RegistrationQuota <= 0 {
		a.RegistrationQuota = defaultRegQuota
	}

	if a.Storage == nil {
		a.Storage = &StorageConfig{}
	}
	if err := a.Storage.provision(repl); err != nil {
		return err
	}
	a.storeKey = a.Storage.poolKey()

	if a.RateLimit == nil {
		a.RateLimit = &RateLimitConfig{}
	}
	if a.RateLimit.PerSecond <= 0 {
		a.RateLimit.PerSecond = defaultRatePerSecond
	}
	if a.RateLimit.Burst <= 0 {
		a.RateLimit.Burst = defaultRateBurst
	}
	switch a.RateLimit.OnStoreError {
	case "":
		a.RateLimit.OnStoreError = rateLimitFailOpen
	case rateLimitFailOpen, rateLimitFailClosed:
	default:
		return fmt.Errorf("drio: rate_limit on_store_error must be open or closed, not %q", a.RateLimit.OnStoreError)
	}
	a.limiter = oauth.NewMemoryLimiter(a.RateLimit.config())

	a.bridge = workos.New(workos.Config{
		ClientID: a.WorkOS.ClientID,
		APIKey:   a.WorkOS.APIKey,
		Endpoint: a.WorkOS.Endpoint,
		Callback: a.callbackURL(),
		Timeout:  time.Duration(a.WorkOS.Timeout),
		Logger:   a.logger.Named("workos"),
	})
	a.verifierKey = a.verifierPoolKey()
	if a.IntrospectionSecretSHA256 != "" {
		h, err := hex.DecodeString(strings.TrimSpace(a.IntrospectionSecretSHA256))
		if err != nil || len(h) != sha256.Size {
			return errors.New("drio: introspection_secret_sha256 must be 64 hex digits: the output of `printf %s \"$SECRET\" | sha256sum`")
		}
		a.introspect = h
	}

	if err := a.provisionClientDocuments(); err != nil {
		return err
	}
	if err := a.provisionRegistration(); err != nil {
		return err
	}
	a.provisionConsent(repl)
	if a.DisableConsent {
		a.logger.Warn("consent page disabled: every registered or configured client gets tokens after sign-in without asking the user (metadata-document clients are still asked); use only when every client is first-party")
	}
	if a.AllowForeignSessions {
		a.logger.Warn("allow_foreign_sessions: any valid WorkOS token for this client id is accepted, and revocations by this gateway are not enforced")
	}
	return nil
}

// Validate checks the provisioned configuration. It changes nothing.
func (a *App) Validate() error {
	if a.Storage.Backend == "badger" {
		if err := checkDirWritable(a.Storage.Dir); err != nil {
			return err
		}
	}
	for _, s := range a.RedirectSchemes {
		if oauth.DangerousScheme(s) || s == "http" || s == "https" {
			return fmt.Errorf("drio: redirect_schemes: %q cannot be allowed as a private-use scheme", s)
		}
	}
	for _, u := range a.LogoutRedirects {
		if err := oauth.ValidateRedirectURI(u, a.RedirectSchemes); err != nil {
			return fmt.Errorf("drio: post_logout_redirect_uris: %q: %v", u, err)
		}
	}
	if time.Duration(a.CodeTTL) > 10*time.Minute {
		return errors.New("drio: code_ttl must be at most 10m (RFC 6749 §4.1.2)")
	}
	if err := a.validateClients(); err != nil {
		return err
	}
	return a.validateConsent()
}

// Start opens the shared store and starts the JWKS verifier (both reused if a previous config
// still holds them), then lets the handlers serve.
func (a *App) Start() error {
	b, err := acquireBackend(a.storeKey, a.Storage, a.logger)
	if err != nil {
		return err
	}
	v, err := acquireVerifier(a.verifierKey, a.verifierConfig())
	if err != nil {
		releaseBackend(a.storeKey, a.logger)
		return err
	}
	var lim oauth.Limiter = a.limiter
	if a.Storage.Backend == "redis" && !a.RateLimit.Disabled {
		lim = oauth.NewStoreLimiter(b.grants.Rates, a.RateLimit.config(), a.logger.Named("ratelimit"))
	}
	a.run.backend = b
	a.run.state.Store(&oauth.Runtime{Grants: b.grants, Verifier: v, Limiter: lim, Secret: b.secret})
	a.run.started.Store(true)
	close(a.run.ready)
	return nil
}

// Stop releases this config's hold on the shared store and verifier; the last holder closes them.
func (a *App) Stop() error {
	if !a.run.started.CompareAndSwap(true, false) {
		return nil
	}
	releaseVerifier(a.verifierKey, a.logger)
	releaseBackend(a.storeKey, a.logger)
	return nil
}

// runtime returns the started state, waiting (bounded by ctx) for Start if a request arrives
// while Caddy is still starting apps: Caddy starts apps in map order, so the HTTP server can
// take a request before this app's Start.
func (a *App) runtime(ctx context.Context) (*oauth.Runtime, error) {
	if st := a.run.state.Load(); st != nil {
		return st, nil
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-a.run.ready:
		if st := a.run.state.Load(); st != nil {
			return st, nil
		}
	case <-ctx.Done():
	case <-t.C:
	}
	return nil, errors.New("drio app is not started")
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
