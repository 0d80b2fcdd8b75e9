package caddymodule

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/resource"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// testGateway is the plugin's handlers wired together in-process, without a Caddy server:
// drio_oauth → drio_protect → the upstream-mock resource API, with the WorkOS stand-in on an
// httptest server, a Badger store in a temp dir, and every log line captured.
type testGateway struct {
	t        *testing.T
	URL      string
	App      *App
	OAuth    *OAuth
	Protect  *Protect
	WorkOS   *workosmock.Server
	Resource *resource.Server
	Logs     *observer.ObservedLogs
	srv      *httptest.Server
	workosTS *httptest.Server

	secrets *testkit.Secrets
	kit     *testkit.Client
}

const (
	tgClientID = "client_unit"
	tgAPIKey   = "sk_test_unit"
)

// newTestGateway starts a gateway; configure may change the App before Provision.
func newTestGateway(t *testing.T, configure func(*App)) *testGateway {
	t.Helper()
	return newGateway(t, gatewayOptions{configure: configure})
}

// gatewayOptions tune newGateway.
type gatewayOptions struct {
	configure func(*App)
	// beforeStart runs on the WorkOS stand-in before the gateway starts.
	beforeStart func(*workosmock.Server)
	// wrapWorkOS wraps the WorkOS stand-in's handler.
	wrapWorkOS func(http.Handler) http.Handler
	// noWait skips waiting for the first JWKS fetch.
	noWait bool
}

// newGateway starts a gateway as configured by o. It takes a testing.TB so a fuzz target can
// build one gateway outside f.Fuzz; with a *testing.F the methods that need a *testing.T
// (state, count) must not be used, and logs are not checked at cleanup.
func newGateway(t testing.TB, o gatewayOptions) *testGateway {
	t.Helper()
	g := &testGateway{}
	if tt, ok := t.(*testing.T); ok {
		g.t = tt
	}
	wm, err := workosmock.New(workosmock.Config{ClientID: tgClientID, APIKey: tgAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	g.WorkOS = wm
	var h http.Handler = wm
	if o.wrapWorkOS != nil {
		h = o.wrapWorkOS(wm)
	}
	g.workosTS = httptest.NewServer(h)
	wm.SetBaseURL(g.workosTS.URL)
	g.secrets = testkit.NewSecrets(tgAPIKey)
	if o.beforeStart != nil {
		o.beforeStart(wm)
	}
	g.Resource = resource.New()
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.URL = "http://" + g.srv.Listener.Addr().String()
	g.kit = &testkit.Client{Base: g.URL, WorkOS: g.workosTS.URL, Secrets: g.secrets}
	core, logs := observer.New(zapcore.DebugLevel)
	g.Logs = logs
	logger := zap.New(core)
	app := &App{
		Issuer:    g.URL,
		WorkOS:    &WorkOSConfig{ClientID: tgClientID, APIKey: tgAPIKey, Endpoint: g.workosTS.URL, Timeout: caddy.Duration(2 * time.Second)},
		Storage:   &StorageConfig{Dir: t.TempDir()},
		RateLimit: &RateLimitConfig{Disabled: true},
	}
	if o.configure != nil {
		o.configure(app)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	if err := app.Provision(ctx); err != nil {
		t.Fatalf("App.Provision: %v", err)
	}
	app.logger = logger
	if err := app.Validate(); err != nil {
		t.Fatalf("App.Validate: %v", err)
	}
	if err := app.Start(); err != nil {
		t.Fatalf("App.Start: %v", err)
	}
	g.App = app
	g.OAuth = new(OAuth)
	if err := g.OAuth.setup(app, logger.Named("oauth")); err != nil {
		t.Fatal(err)
	}
	g.Protect = &Protect{Public: []string{"/api/v1/templates", "/api/v1/templates/*"}}
	if err := g.Protect.setup(ctx, app, logger.Named("protect")); err != nil {
		t.Fatal(err)
	}
	g.srv.Start()
	t.Cleanup(func() {
		g.srv.Close()
		_ = app.Stop()
		cancel()
		wm.Close()
		g.workosTS.Close()
		if g.t != nil {
			g.checkLogs()
		}
	})
	if !o.noWait {
		deadline := time.Now().Add(5 * time.Second)
		for app.run.state.Load().Verifier.Stats().Keys == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return g
}

// serve plays the part of Caddy's HTTP server: replacer, vars, client IP, then the chain.
func (g *testGateway) serve(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{})
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	r = r.WithContext(ctx)
	caddyhttp.NewTestReplacer(r)
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, host)
	upstream := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		g.Resource.ServeHTTP(w, r)
		return nil
	})
	protect := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return g.Protect.ServeHTTP(w, r, upstream)
	})
	if err := g.OAuth.ServeHTTP(w, r, protect); err != nil {
		// Caddy would answer with its default error page: the gateway must never let that
		// happen, so a test that gets here fails.
		if g.t != nil {
			g.t.Errorf("a handler returned an error to Caddy for %s %s: %v", r.Method, r.URL.Path, err)
		}
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func (g *testGateway) state() *oauth.Runtime {
	st, err := g.App.runtime(context.Background())
	if err != nil {
		g.t.Fatal(err)
	}
	return st
}

// store is the raw store under the gateway's typed stores.
func (g *testGateway) store() store.Store { return g.App.run.backend.store }

// grants is the gateway's typed view of its store.
func (g *testGateway) grants() *grants.Stores { return g.state().Grants }

// count returns the live records of kind k.
func (g *testGateway) count(k store.Kind) int {
	g.t.Helper()
	n, err := g.store().Count(context.Background(), k)
	if err != nil {
		g.t.Fatal(err)
	}
	return n
}

// noteSecret remembers a value that must never reach a log line.
func (g *testGateway) noteSecret(v string) { g.secrets.Note(v) }

// checkLogs fails the test if a noted secret, the WorkOS API key, a bearer token or a panic
// appears in any log entry's message or fields (invariant I3).
func (g *testGateway) checkLogs() {
	g.t.Helper()
	g.assertCleanLogs(g.t, 0)
}

// register registers a public client with one loopback redirect URI.
func (g *testGateway) register(t *testing.T) *testkit.Registration {
	t.Helper()
	return g.kit.Register(t, "unit", "http://127.0.0.1:51004/cb")
}

// do sends a request to path on the gateway (testkit.Client.Do).
func (g *testGateway) do(t testing.TB, method, path, contentType, body string, header http.Header) *testkit.Response {
	t.Helper()
	return g.kit.Do(t, method, path, contentType, body, header)
}

// form posts form to path on the gateway (testkit.Client.PostForm).
func (g *testGateway) form(t testing.TB, path string, form url.Values) *testkit.Response {
	t.Helper()
	return g.kit.PostForm(t, path, form)
}

// login runs a whole flow and returns the token answer.
func (g *testGateway) login(t *testing.T, c *testkit.Registration, email string) (access, refresh string) {
	t.Helper()
	tok := g.kit.Login(t, c, email)
	return tok.AccessToken, tok.RefreshToken
}
