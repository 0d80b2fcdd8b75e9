package workos

import (
	"context"
	"errors"
	"net/http"
	"time"

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
}

// Bridge wraps one SDK client per config (never the SDK's package-global client).
type Bridge struct {
	client   *usermanagement.Client
	clientID string
	callback string
	timeout  time.Duration
}

// New returns a bridge for cfg. It makes no call.
func New(cfg Config) *Bridge {
	c := usermanagement.NewClient(cfg.APIKey)
	c.Endpoint = cfg.Endpoint
	c.HTTPClient = HTTPClient(cfg.Timeout)
	return &Bridge{client: c, clientID: cfg.ClientID, callback: cfg.Callback, timeout: cfg.Timeout}
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

// AuthorizationURL is the AuthKit sign-in URL for one pending authorization: the gateway's
// callback, its opaque state and its own S256 challenge (never the client's).
func (b *Bridge) AuthorizationURL(state, challenge string) (string, error) {
	u, err := b.client.GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
		ClientID:            b.clientID,
		RedirectURI:         b.callback,
		Provider:            "authkit",
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
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	resp, err := b.client.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{
		ClientID:     b.clientID,
		Code:         code,
		CodeVerifier: verifier,
	})
	count("code", err)
	return resp, err
}

// Refresh rotates a WorkOS refresh token.
func (b *Bridge) Refresh(ctx context.Context, refreshToken string) (RefreshResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	resp, err := b.client.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID:     b.clientID,
		RefreshToken: refreshToken,
	})
	count("refresh", err)
	return resp, err
}

// RevokeSession ends the WorkOS session; it runs detached from the client's request so a
// client that hangs up does not cancel a revocation. A session WorkOS no longer knows is not
// an error.
func (b *Bridge) RevokeSession(sid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	err := b.client.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: sid})
	var he workos_errors.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusNotFound {
		err = nil // already gone upstream
	}
	count("revoke", err)
	return err
}

// count records the outcome of one WorkOS call.
func count(call string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "unavailable"
		if v, _ := Classify(err); v == Refused {
			outcome = "refused"
		}
	}
	metrics.WorkOSCalls.WithLabelValues(call, outcome).Inc()
}
