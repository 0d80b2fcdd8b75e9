// workos.go is the gateway's side of the WorkOS bridge: the authorization URL, the code
// exchange, the refresh and the session revocation, through the workos-go SDK with a client
// that is bounded in time and size and follows no redirect.

package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

// workosBridge wraps one SDK client per config (never the SDK's package-global client).
type workosBridge struct {
	client   *usermanagement.Client
	clientID string
	endpoint string
	callback string
	timeout  time.Duration
}

func newWorkOSBridge(cfg *WorkOSConfig, callback string) *workosBridge {
	c := usermanagement.NewClient(cfg.APIKey)
	c.Endpoint = cfg.Endpoint
	c.HTTPClient = outboundClient(time.Duration(cfg.Timeout))
	return &workosBridge{
		client:   c,
		clientID: cfg.ClientID,
		endpoint: cfg.Endpoint,
		callback: callback,
		timeout:  time.Duration(cfg.Timeout),
	}
}

// jwksURL is where WorkOS publishes the keys that sign this client's access tokens.
func (b *workosBridge) jwksURL() string {
	u, err := b.client.GetJWKSURL(b.clientID)
	if err != nil { // only for an empty client id, which Provision refuses
		return ""
	}
	return u.String()
}

// authorizationURL is the AuthKit sign-in URL for one pending authorization: our callback,
// our opaque state and our own S256 challenge (never the client's).
func (b *workosBridge) authorizationURL(state, challenge string) (string, error) {
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

func (b *workosBridge) exchangeCode(ctx context.Context, code, verifier string) (usermanagement.AuthenticateResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	resp, err := b.client.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{
		ClientID:     b.clientID,
		Code:         code,
		CodeVerifier: verifier,
	})
	countWorkOS("code", err)
	return resp, err
}

func (b *workosBridge) refresh(ctx context.Context, refreshToken string) (usermanagement.RefreshAuthenticationResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	resp, err := b.client.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID:     b.clientID,
		RefreshToken: refreshToken,
	})
	countWorkOS("refresh", err)
	return resp, err
}

// revokeSession ends the WorkOS session; it runs detached from the client's request so a
// client that hangs up does not cancel a revocation.
func (b *workosBridge) revokeSession(sid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	err := b.client.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: sid})
	var he workos_errors.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusNotFound {
		err = nil // already gone upstream
	}
	countWorkOS("revoke", err)
	return err
}

// upstreamVerdict classifies a WorkOS failure.
type upstreamVerdict int

const (
	// upstreamRefused: WorkOS answered and said no (invalid_grant, invalid_client, 4xx).
	upstreamRefused upstreamVerdict = iota
	// upstreamUnavailable: timeout, transport error, 5xx, 429 or an unreadable answer; the
	// same request may succeed later.
	upstreamUnavailable
)

// classifyWorkOSError never keys on the status alone: WorkOS sends invalid_grant as 400, and a
// refusal is recognised by its error code (workos-go #589).
func classifyWorkOSError(err error) (upstreamVerdict, string) {
	var he workos_errors.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.ErrorCode == "invalid_grant":
			return upstreamRefused, "invalid_grant"
		case he.Code == http.StatusTooManyRequests || he.Code >= 500:
			return upstreamUnavailable, he.Status
		case he.Code >= 400:
			if he.ErrorCode != "" {
				return upstreamRefused, he.ErrorCode
			}
			return upstreamRefused, he.Status
		}
		return upstreamUnavailable, he.Status
	}
	// Step-up errors (MFA, organization selection, email verification) are pointer types;
	// AuthKit handles them in its own UI, so reaching us they mean the sign-in did not finish.
	var mfa *workos_errors.MFAChallengeError
	var org *workos_errors.OrganizationSelectionRequiredError
	var email *workos_errors.EmailVerificationRequiredError
	if errors.As(err, &mfa) || errors.As(err, &org) || errors.As(err, &email) {
		return upstreamRefused, "step_up_required"
	}
	return upstreamUnavailable, "unreachable or unreadable answer"
}
