package workos

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/workos_errors"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
)

// Config is what the bridge needs to talk to WorkOS.
type Config struct {
	ClientID string
	APIKey   string
	// Endpoint is the WorkOS API base URL, without a trailing slash.
	Endpoint string
	// Callback is the gateway's callback URL, registered at WorkOS as a redirect URI.
	Callback string
	// Timeout bounds each call.
	Timeout time.Duration
	// Logger receives the one error line that says WorkOS refuses the gateway's credentials.
	Logger *zap.Logger
}

// Bridge wraps one SDK client per config (never the SDK's package-global client).
type Bridge struct {
	client   *usermanagement.Client
	clientID string
	callback string
	timeout  time.Duration
	logger   *zap.Logger
	// lastMisconfigLog throttles the misconfiguration error to one line a minute.
	lastMisconfigLog atomic.Int64
}

// New returns a bridge for cfg. It makes no call.
func New(cfg Config) *Bridge {
	c := usermanagement.NewClient(cfg.APIKey)
	c.Endpoint = cfg.Endpoint
	c.HTTPClient = HTTPClient(cfg.Timeout)
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Bridge{client: c, clientID: cfg.ClientID, callback: cfg.Callback, timeout: cfg.Timeout, logger: logger}
}

// AuthenticateResponse is WorkOS's answer to a code exchange.
type AuthenticateResponse = usermanagement.AuthenticateResponse

// RefreshResponse is WorkOS's answer to a refresh.
type RefreshResponse = usermanagement.RefreshAuthenticationResponse

// JWKSURL is where WorkOS publishes the keys that sign this client's access tokens.
func (b *Bridge) JWKSURL() string {
	u, err := b.client.GetJWKSURL(b.clientID)
	if err != nil { // only for an empty client id, which the app refuses
		return ""
	}
	return u.String()
}

// ProviderAuthKit is the provider that signs users in through the AuthKit hosted page.
const ProviderAuthKit = "authkit"

// Providers are the provider values WorkOS User Management accepts: AuthKit and the OAuth
// providers it can send the user to directly.
var Providers = []string{ProviderAuthKit, "GoogleOAuth", "GitHubOAuth", "MicrosoftOAuth", "AppleOAuth"}

// SignIn says how WorkOS signs the user in: one connection selector (Provider, OrganizationID
// or ConnectionID; none means AuthKit) and optional hints. ScreenHint needs provider authkit.
type SignIn struct {
	Provider       string
	OrganizationID string
	ConnectionID   string
	ScreenHint     string
	LoginHint      string
	DomainHint     string
}

// AuthorizationURL is the AuthKit sign-in URL for one pending authorization: the gateway's
// callback, its opaque state and its own S256 challenge (never the client's), and the sign-in
// choices in.
func (b *Bridge) AuthorizationURL(state, challenge string, in SignIn) (string, error) {
	if in.Provider == "" && in.OrganizationID == "" && in.ConnectionID == "" {
		in.Provider = ProviderAuthKit
	}
	u, err := b.client.GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
		ClientID:            b.clientID,
		RedirectURI:         b.callback,
		Provider:            in.Provider,
		OrganizationID:      in.OrganizationID,
		ConnectionID:        in.ConnectionID,
		ScreenHint:          usermanagement.ScreenHint(in.ScreenHint),
		LoginHint:           in.LoginHint,
		DomainHint:          in.DomainHint,
		State:               state,
		CodeChallenge:       challenge,
		CodeChallengeMethod: "S256",
	})
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// ExchangeCode trades the code AuthKit sent to the callback for a token pair.
func (b *Bridge) ExchangeCode(ctx context.Context, code, verifier string) (AuthenticateResponse, error) {
	return call(b, ctx, "code", func(ctx context.Context) (AuthenticateResponse, error) {
		return b.client.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{
			ClientID:     b.clientID,
			Code:         code,
			CodeVerifier: verifier,
		})
	})
}

// Refresh rotates a WorkOS refresh token.
func (b *Bridge) Refresh(ctx context.Context, refreshToken string) (RefreshResponse, error) {
	return call(b, ctx, "refresh", func(ctx context.Context) (RefreshResponse, error) {
		return b.client.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{
			ClientID:     b.clientID,
			RefreshToken: refreshToken,
		})
	})
}

// call runs one WorkOS call bounded by the bridge's timeout, and records its outcome and
// duration.
func call[T any](b *Bridge, ctx context.Context, name string, fn func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	start := time.Now()
	v, err := fn(ctx)
	b.count(name, start, err)
	return v, err
}

// RevokeSession ends the WorkOS session; it runs detached from the client's request so a
// client that hangs up does not cancel a revocation. A session WorkOS no longer knows is not
// an error.
func (b *Bridge) RevokeSession(sid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	start := time.Now()
	err := b.client.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: sid})
	var he workos_errors.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusNotFound {
		err = nil // already gone upstream
	}
	b.count("revoke", start, err)
	return err
}

// misconfigLogEvery spaces the misconfiguration error lines.
const misconfigLogEvery = time.Minute

// count records the outcome and duration of one WorkOS call, and says at Error level (at
// most once a minute) when WorkOS refuses the gateway's own credentials, with what to fix.
func (b *Bridge) count(call string, start time.Time, err error) {
	metrics.WorkOSLatency.WithLabelValues(call).Observe(time.Since(start).Seconds())
	outcome := "ok"
	if err != nil {
		verdict, reason := Classify(err)
		switch verdict {
		case Refused:
			outcome = "refused"
		case Misconfigured:
			outcome = "misconfigured"
			now := time.Now().UnixNano()
			last := b.lastMisconfigLog.Load()
			if now-last >= int64(misconfigLogEvery) && b.lastMisconfigLog.CompareAndSwap(last, now) {
				b.logger.Error("WorkOS refuses the gateway's credentials; users get temporarily_unavailable and keep their sessions until it is fixed: check the drio workos api_key and client_id",
					zap.String("call", call), zap.String("status", reason))
			}
		default:
			outcome = "unavailable"
		}
	}
	metrics.WorkOSCalls.WithLabelValues(call, outcome).Inc()
}

// LogoutURL is where the browser ends its AuthKit session for sid; WorkOS then sends it to
// returnTo (which must be allowed as a sign-out redirect at WorkOS).
func (b *Bridge) LogoutURL(sid, returnTo string) (string, error) {
	u, err := b.client.GetLogoutURL(usermanagement.GetLogoutURLOpts{SessionID: sid, ReturnTo: returnTo})
	if err != nil {
		return "", err
	}
	return u.String(), nil
}
