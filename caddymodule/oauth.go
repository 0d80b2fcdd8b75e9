// oauth.go holds the drio_oauth handler: it serves the discovery documents and the
// <api_base>/auth/* routes through the OAuth server, and passes every other request on.

package caddymodule

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

func init() {
	caddy.RegisterModule(OAuth{})
}

// OAuth is the authorization-server side of the gateway (module http.handlers.drio_oauth):
// discovery (RFC 8414, RFC 9728), dynamic client registration (RFC 7591), the authorization
// code flow with PKCE whose sign-in step is WorkOS AuthKit, and the token and refresh
// endpoints. It takes its configuration from the drio app.
type OAuth struct {
	server *oauth.Server
}

// CaddyModule returns the Caddy module information.
func (OAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.drio_oauth",
		New: func() caddy.Module { return new(OAuth) },
	}
}

// Provision finds the drio app and builds the OAuth server from its configuration.
func (h *OAuth) Provision(ctx caddy.Context) error {
	app, err := drioApp(ctx)
	if err != nil {
		return err
	}
	return h.setup(app, ctx.Logger())
}

// setup does Provision's work once the app is known (tests call it directly).
func (h *OAuth) setup(app *App, logger *zap.Logger) error {
	s, err := app.newServer(logger)
	if err != nil {
		return err
	}
	h.server = s
	return nil
}

// drioApp returns the configured drio app, with an error that says how to add it.
func drioApp(ctx caddy.Context) (*App, error) {
	appIface, err := ctx.AppIfConfigured("drio")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil, errors.New("the drio app is not configured: add a global `drio { issuer …; workos { client_id … } }` block to the Caddyfile")
	}
	if err != nil {
		return nil, err
	}
	return appIface.(*App), nil
}

// ServeHTTP serves the OAuth routes and passes everything else on. The OAuth server writes
// every answer itself, failures included, so nothing reaches Caddy's error handling.
func (h *OAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.server.Handles(r.URL.Path) {
		return next.ServeHTTP(w, r)
	}
	h.server.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*OAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*OAuth)(nil)
)

// newServer builds an OAuth server from the app's configuration, logging to logger.
func (a *App) newServer(logger *zap.Logger) (*oauth.Server, error) {
	return oauth.New(a.oauthConfig(), oauth.Deps{
		Bridge:    a.bridge,
		Runtime:   a.runtime,
		RequestID: requestID,
		ClientIP:  clientIP,
		Logger:    logger,

		ClientDocuments: a.clientDocs,
	})
}

// callbackURL is where WorkOS sends the browser back; it must be registered at WorkOS as a
// redirect URI.
func (a *App) callbackURL() string { return a.Issuer + a.APIBase + "/auth/callback" }

// oauthConfig is the OAuth server's view of the app's configuration.
func (a *App) oauthConfig() oauth.Config {
	cfg := oauth.Config{
		Issuer:          a.Issuer,
		APIBase:         a.APIBase,
		Scopes:          slices.Clone(a.Scopes),
		RedirectSchemes: slices.Clone(a.RedirectSchemes),
		DisableConsent:  a.DisableConsent,
		WorkOSEndpoint:  a.WorkOS.Endpoint,
		TokenIssuers:    slices.Clone(a.TokenIssuers),
		PendingTTL:      time.Duration(a.PendingTTL),
		CodeTTL:         time.Duration(a.CodeTTL),
		SessionTTL:      time.Duration(a.SessionTTL),
		RefreshGrace:    time.Duration(a.RefreshGrace),
		RotationLease:   time.Duration(a.WorkOS.Timeout) + 5*time.Second,
		ClientTTL:       time.Duration(a.ClientTTL),

		IntrospectionSecretSHA256: a.introspect,
		LogoutRedirects:           slices.Clone(a.LogoutRedirects),
		Consent:                   a.consentOptions(),
		SignIn:                    a.signInOptions(),
	}
	cfg.ClientMetadataDocuments = a.clientDocs != nil
	if !a.RateLimit.Disabled {
		cfg.RegistrationQuota = a.RegistrationQuota
	}
	cfg.StaticClients = a.staticClients()
	cfg.RegistrationOff = a.Registration.Mode == registrationOff
	cfg.RegistrationTokenSHA256 = a.registrationToken
	return cfg
}
