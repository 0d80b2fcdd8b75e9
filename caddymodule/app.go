// app.go holds the drio app (global option `drio { … }`): the configuration every drio handler
// shares, and the resources that must outlive a config reload (store, session registry, JWKS
// verifier), which it takes from package-level usage pools in Start and gives back in Stop.

package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/caddyserver/caddy/v2"
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
	defaultCodeTombstone  = time.Hour
	defaultSessionTTL     = 30 * 24 * time.Hour
	defaultRefreshGrace   = 30 * time.Second
	defaultSessionCache   = 2 * time.Second
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
	// consent page before the user is sent to WorkOS).
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

	// RateLimit bounds requests per client IP to register, authorize, token and refresh.
	// With Redis storage the count is shared by every instance. Default: 5 requests per
	// second per endpoint, burst 50.
	RateLimit *RateLimitConfig `json:"rate_limit,omitempty"`

	issuerURL   *url.URL
	logger      *zap.Logger
	storeKey    string
	verifierKey string
	workos      *workosBridge
	limiter     *rateLimiter
	run         *appRun
}

// appRun is the App's mutable runtime part, behind a pointer so App stays copyable.
type appRun struct {
	state   atomic.Pointer[runtimeState]
	ready   chan struct{}
	started atomic.Bool
	// refreshFlight joins concurrent refreshes of one token in this process.
	refreshFlight singleflight.Group
}

// WorkOSConfig is the WorkOS User Management client configuration.
type WorkOSConfig struct {
	// ClientID is the WorkOS client id (client_…). Required.
	ClientID string `json:"client_id,omitempty"`
	// APIKey is the WorkOS API key (sk_…). Prefer the placeholder {env.WORKOS_API_KEY} so the
	// key is not part of the stored config. Required.
	APIKey string `json:"api_key,omitempty"`
	// Endpoint is the WorkOS API base URL, no trailing slash. Default: https://api.workos.com.
	Endpoint string `json:"endpoint,omitempty"`
	// Timeout bounds each call to WorkOS (code exchange, refresh, JWKS, session revoke).
	// Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// StorageConfig selects the state backend.
type StorageConfig struct {
	// Backend is "badger" (embedded, one instance) or "redis" (several instances).
	// Default: badger.
	Backend string `json:"backend,omitempty"`
	// Dir is the Badger data directory. Default: <caddy data dir>/drio.
	Dir string `json:"dir,omitempty"`
	// SyncWrites makes Badger fsync every commit, so a power loss loses nothing; without it a
	// killed process still loses nothing. Default: false.
	SyncWrites bool `json:"sync_writes,omitempty"`
	// URL is the Redis URL (redis://[:password@]host:port/db). Required for redis.
	URL string `json:"url,omitempty"`
	// Prefix is prepended to every Redis key. Default: drio:.
	Prefix string `json:"prefix,omitempty"`
}

// RateLimitConfig is a token bucket per client IP and endpoint.
type RateLimitConfig struct {
	// Disabled turns rate limiting off.
	Disabled bool `json:"disabled,omitempty"`
	// PerSecond is the sustained rate. Default: 5.
	PerSecond float64 `json:"per_second,omitempty"`
	// Burst is the bucket size. Default: 50.
	Burst int `json:"burst,omitempty"`
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
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
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

	if a.WorkOS == nil || repl.ReplaceKnown(a.WorkOS.ClientID, "") == "" {
		return errors.New("drio: workos client_id is required: add `workos { client_id client_… }` (or set WORKOS_CLIENT_ID)")
	}
	a.WorkOS.ClientID = repl.ReplaceKnown(a.WorkOS.ClientID, "")
	a.WorkOS.APIKey = repl.ReplaceKnown(a.WorkOS.APIKey, "")
	if a.WorkOS.APIKey == "" {
		return errors.New("drio: workos api_key is empty: add `api_key {env.WORKOS_API_KEY}` and set WORKOS_API_KEY")
	}
	a.WorkOS.Endpoint = strings.TrimRight(repl.ReplaceKnown(a.WorkOS.Endpoint, ""), "/")
	if a.WorkOS.Endpoint == "" {
		a.WorkOS.Endpoint = defaultWorkOSEndpoint
	}
	if eu, err := url.Parse(a.WorkOS.Endpoint); err != nil || (eu.Scheme != "https" && eu.Scheme != "http") || eu.Host == "" {
		return fmt.Errorf("drio: workos endpoint %q must be an absolute http(s) URL", a.WorkOS.Endpoint)
	}
	if a.WorkOS.Timeout <= 0 {
		a.WorkOS.Timeout = caddy.Duration(defaultWorkOSTimeout)
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
	a.limiter = newRateLimiter(a.RateLimit)

	a.workos = newWorkOSBridge(a.WorkOS, a.callbackURL())
	a.verifierKey = a.verifierPoolKey()

	if a.DisableConsent {
		a.logger.Warn("consent page disabled: every registered client gets tokens after sign-in without asking the user; use only when every client is first-party")
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
		if dangerousSchemes[strings.ToLower(s)] || s == "http" || s == "https" {
			return fmt.Errorf("drio: redirect_schemes: %q cannot be allowed as a private-use scheme", s)
		}
	}
	if time.Duration(a.CodeTTL) > 10*time.Minute {
		return errors.New("drio: code_ttl must be at most 10m (RFC 6749 §4.1.2)")
	}
	return nil
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
	var lim limiter = a.limiter
	if a.Storage.Backend == "redis" && !a.RateLimit.Disabled {
		lim = newStoreRateLimiter(b.store, a.RateLimit, a.logger.Named("ratelimit"))
	}
	a.run.state.Store(&runtimeState{backend: b, verifier: v, limiter: lim})
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

// runtimeState is what Start acquired; handlers read it through App.runtime.
type runtimeState struct {
	backend  *backend
	verifier verifierHandle
	// limiter is the in-memory one, or one in the shared store when instances share Redis.
	limiter limiter
}

// runtime returns the started state, waiting (bounded by ctx) for Start if a request arrives
// while Caddy is still starting apps.
func (a *App) runtime(ctx context.Context) (*runtimeState, error) {
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

func (a *App) callbackURL() string { return a.Issuer + a.APIBase + "/auth/callback" }

// endpoint returns the absolute URL of an auth route, e.g. endpoint("token").
func (a *App) endpoint(name string) string { return a.Issuer + a.APIBase + "/auth/" + name }

// resourceURIs are the canonical resource identifiers (RFC 8707) of this gateway: the origin
// and the API base.
func (a *App) resourceURIs() []string { return []string{a.Issuer, a.Issuer + a.APIBase} }

// parseIssuer checks an issuer per RFC 8414 §2: absolute, https (http only on loopback), no
// query, fragment or path.
func parseIssuer(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errors.New("must be an absolute URL such as https://api.example.com")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return nil, errors.New("must use https (http is allowed only for localhost, 127.0.0.1 or [::1])")
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "#") || u.User != nil {
		return nil, errors.New("must not have a query, fragment or userinfo")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("must not have a path; the gateway serves its routes at the root")
	}
	return u, nil
}

func (s *StorageConfig) provision(repl *caddy.Replacer) error {
	if s.Backend == "" {
		s.Backend = "badger"
	}
	switch s.Backend {
	case "badger":
		s.Dir = repl.ReplaceKnown(s.Dir, "")
		if s.Dir == "" {
			s.Dir = filepath.Join(caddy.AppDataDir(), "drio")
		}
		abs, err := filepath.Abs(s.Dir)
		if err != nil {
			return fmt.Errorf("drio: storage dir %q: %v", s.Dir, err)
		}
		s.Dir = abs
	case "redis":
		s.URL = repl.ReplaceKnown(s.URL, "")
		if s.URL == "" {
			return errors.New("drio: storage redis needs a URL: `storage redis redis://127.0.0.1:6379/0`")
		}
		if s.Prefix == "" {
			s.Prefix = "drio:"
		}
	default:
		return fmt.Errorf("drio: unknown storage backend %q: use badger or redis", s.Backend)
	}
	return nil
}

func (s *StorageConfig) poolKey() string {
	if s.Backend == "redis" {
		u, err := url.Parse(s.URL)
		if err == nil && u.User != nil {
			u.User = url.User(u.User.Username()) // never keep a password in a pool key
			return "redis:" + u.String() + "|" + s.Prefix
		}
		return "redis:" + s.URL + "|" + s.Prefix
	}
	return "badger:" + s.Dir
}

// checkDirWritable reports a clear error when dir (or, if missing, its nearest existing
// parent) is not a writable directory. It creates nothing.
func checkDirWritable(dir string) error {
	p := dir
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("drio: storage path %q is not a directory: choose a directory with `storage badger <dir>`", p)
			}
			if !writable(p) {
				return fmt.Errorf("drio: data directory %q is not writable: fix its permissions or choose another directory with `storage badger <dir>`", p)
			}
			return nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("drio: no existing parent of data directory %q", dir)
		}
		p = parent
	}
}

func setDefault(d *caddy.Duration, v time.Duration) {
	if *d <= 0 {
		*d = caddy.Duration(v)
	}
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
