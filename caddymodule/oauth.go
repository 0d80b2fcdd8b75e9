// oauth.go holds the drio_oauth handler: it serves the discovery documents and the
// <api_base>/auth/* routes, and passes every other request to the next handler.

package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(OAuth{})
}

// OAuth is the authorization-server side of the gateway (module http.handlers.drio_oauth):
// discovery (RFC 8414, RFC 9728), dynamic client registration (RFC 7591), the authorization
// code flow with PKCE whose sign-in step is WorkOS AuthKit, and the token and refresh
// endpoints. It takes its configuration from the drio app.
type OAuth struct {
	app    *App
	logger *zap.Logger

	asMetadata   []byte
	prmRoot      []byte
	prmAPI       []byte
	routes       map[string]func(http.ResponseWriter, *http.Request) error
	authPrefix   string
	prmPrefix    string
	consentTmpl  consentPage
	errorTmpl    errorPage
	formActionCS string
}

// CaddyModule returns the Caddy module information.
func (OAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.drio_oauth",
		New: func() caddy.Module { return new(OAuth) },
	}
}

// Provision finds the drio app and precomputes the discovery documents and the route table.
func (h *OAuth) Provision(ctx caddy.Context) error {
	app, err := drioApp(ctx)
	if err != nil {
		return err
	}
	return h.setup(app, ctx.Logger())
}

// setup does Provision's work once the app is known (tests call it directly).
func (h *OAuth) setup(app *App, logger *zap.Logger) error {
	h.app, h.logger = app, logger
	if err := h.buildDiscovery(); err != nil {
		return err
	}
	h.authPrefix = app.APIBase + "/auth/"
	h.prmPrefix = "/.well-known/oauth-protected-resource"
	h.routes = map[string]func(http.ResponseWriter, *http.Request) error{
		"/.well-known/oauth-authorization-server": h.serveASMetadata,
		"/.well-known/oauth-protected-resource":   h.servePRMetadata,
		h.prmPrefix + app.APIBase:                 h.servePRMetadata,
		h.authPrefix + "register":                 h.serveRegister,
		h.authPrefix + "authorize":                h.serveAuthorize,
		h.authPrefix + "callback":                 h.serveCallback,
		h.authPrefix + "token":                    h.serveToken,
		h.authPrefix + "refresh":                  h.serveRefresh,
	}
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

// ServeHTTP serves the OAuth routes and passes everything else on.
func (h *OAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	route, ok := h.routes[r.URL.Path]
	if !ok {
		if strings.HasPrefix(r.URL.Path, h.authPrefix) || strings.HasPrefix(r.URL.Path, "/.well-known/oauth-") {
			writeOAuthError(w, newOAuthError(http.StatusNotFound, codeInvalidRequest, "No such OAuth endpoint"))
			return nil
		}
		return next.ServeHTTP(w, r)
	}
	if h.handleCORS(w, r) {
		return nil
	}
	return route(w, r)
}

// runtime returns the shared state, or writes 503 when the app is not started.
func (h *OAuth) runtime(w http.ResponseWriter, r *http.Request) (*runtimeState, bool) {
	st, err := h.app.runtime(r.Context())
	if err != nil {
		writeOAuthError(w, errUnavailable(retryAfterStartup, "The gateway is starting; retry shortly"))
		return nil, false
	}
	return st, true
}

// limited writes 429 and reports true when r's IP is over the rate limit for endpoint.
func (h *OAuth) limited(w http.ResponseWriter, r *http.Request, st *runtimeState, endpoint string) bool {
	ok, retry := st.limiter.allow(r, endpoint)
	if ok {
		return false
	}
	writeOAuthError(w, errRateLimited(retry))
	return true
}

// storeFailed logs a store error and writes a 503 (the store is the only thing that failed;
// the request may be retried).
func (h *OAuth) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	h.logger.Error("store failure", zap.String("during", what), zap.String("request_id", requestID(r)), zap.Error(err))
	writeOAuthError(w, errUnavailable(retryAfterStore, "Storage is unavailable; retry shortly"))
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*OAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*OAuth)(nil)
)
