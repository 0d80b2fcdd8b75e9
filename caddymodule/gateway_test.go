package caddymodule

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/store"
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

	mu      sync.Mutex
	secrets []string
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
	if o.beforeStart != nil {
		o.beforeStart(wm)
	}
	g.Resource = resource.New()
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.URL = "http://" + g.srv.Listener.Addr().String()
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
		for app.run.state.Load().verifier.Stats().Keys == 0 && time.Now().Before(deadline) {
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
		var he caddyhttp.HandlerError
		status := http.StatusInternalServerError
		if ok := asHandlerError(err, &he); ok && he.StatusCode != 0 {
			status = he.StatusCode
		}
		w.WriteHeader(status)
	}
}

func (g *testGateway) state() *runtimeState {
	st, err := g.App.runtime(context.Background())
	if err != nil {
		g.t.Fatal(err)
	}
	return st
}

func (g *testGateway) store() store.Store { return g.state().backend.store }

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
func (g *testGateway) noteSecret(v string) {
	if len(v) >= 12 {
		g.mu.Lock()
		g.secrets = append(g.secrets, v)
		g.mu.Unlock()
	}
}

// checkLogs fails the test if a noted secret, a bearer token or a raw code appears in any
// log entry's message or fields (invariant I3).
func (g *testGateway) checkLogs() {
	g.t.Helper()
	g.mu.Lock()
	secrets := append([]string(nil), g.secrets...)
	g.mu.Unlock()
	for _, e := range g.Logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		text := e.Message + " " + string(line)
		for _, s := range secrets {
			if strings.Contains(text, s) {
				g.t.Errorf("I3: log entry %q contains a secret starting %q", e.Message, s[:6])
			}
		}
		if strings.Contains(strings.ToLower(text), "bearer ey") {
			g.t.Errorf("I3: log entry %q contains a bearer token", e.Message)
		}
	}
}

// client registers a public client with one loopback redirect URI.
type unitClient struct {
	ID       string
	Redirect string
	Config   *oauth2.Config
}

func (g *testGateway) register(t *testing.T) *unitClient {
	t.Helper()
	redirect := "http://127.0.0.1:51004/cb"
	resp := g.do(t, "POST", "/api/v1/auth/register", "application/json",
		`{"client_name":"unit","redirect_uris":["`+redirect+`"],"grant_types":["authorization_code","refresh_token"]}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, resp.Body)
	}
	id := resp.JSON["client_id"].(string)
	return &unitClient{ID: id, Redirect: redirect, Config: &oauth2.Config{
		ClientID: id, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: g.URL + "/api/v1/auth/authorize", TokenURL: g.URL + "/api/v1/auth/token", AuthStyle: oauth2.AuthStyleInParams},
	}}
}

// response is a finished HTTP exchange.
type response struct {
	StatusCode int
	Header     http.Header
	Body       string
	JSON       map[string]any
}

func (g *testGateway) do(t *testing.T, method, path, contentType, body string, header http.Header) *response {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return roundTrip(t, noRedirects(nil), req)
}

func (g *testGateway) form(t *testing.T, path string, form url.Values) *response {
	t.Helper()
	return g.do(t, "POST", path, "application/x-www-form-urlencoded", form.Encode(), nil)
}

func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func roundTrip(t *testing.T, c *http.Client, req *http.Request) *response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &response{StatusCode: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.JSON)
	}
	return out
}

var consentField = regexp.MustCompile(`name="(txn|csrf)" value="([^"]*)"`)

// flow is one browser's way through authorize, consent, sign-in and callback.
type flow struct {
	g        *testGateway
	c        *unitClient
	jar      http.CookieJar
	Verifier string
	State    string
	// Callback is our callback URL with the WorkOS code and our state, before it is visited.
	Callback string
}

// startFlow goes through authorize, consent and WorkOS sign-in, and stops before the callback.
func (g *testGateway) startFlow(t *testing.T, c *unitClient, email string) *flow {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	f := &flow{g: g, c: c, jar: jar, Verifier: oauth2.GenerateVerifier(), State: "st-" + randomToken(6)}
	client := noRedirects(jar)
	req, _ := http.NewRequest("GET", c.Config.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier)), nil)
	resp := roundTrip(t, client, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Body)
	}
	form := url.Values{"decision": {"approve"}}
	for _, m := range consentField.FindAllStringSubmatch(resp.Body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	g.noteSecret(form.Get("txn"))
	req, _ = http.NewRequest("POST", g.URL+"/api/v1/auth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", g.URL)
	resp = roundTrip(t, client, req)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d %s", resp.StatusCode, resp.Body)
	}
	req, _ = http.NewRequest("GET", resp.Header.Get("Location")+"&login_hint="+url.QueryEscape(email), nil)
	resp = roundTrip(t, client, req)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("WorkOS sign-in: %d %s", resp.StatusCode, resp.Body)
	}
	f.Callback = resp.Header.Get("Location")
	if u, err := url.Parse(f.Callback); err == nil {
		g.noteSecret(u.Query().Get("code"))
		g.noteSecret(u.Query().Get("state"))
	}
	return f
}

// callback visits the callback in the flow's browser and returns the response.
func (f *flow) callback(t *testing.T) *response {
	t.Helper()
	req, _ := http.NewRequest("GET", f.Callback, nil)
	return roundTrip(t, noRedirects(f.jar), req)
}

// code completes the callback and returns the bridge code.
func (f *flow) code(t *testing.T) string {
	t.Helper()
	resp := f.callback(t)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("callback: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
	f.g.noteSecret(loc.Query().Get("code"))
	return loc.Query().Get("code")
}

// tokenForm is the token request for code with the flow's verifier.
func (f *flow) tokenForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.Verifier},
		"client_id": {f.c.ID}, "redirect_uri": {f.c.Redirect}}
}

// login runs a whole flow and returns the token answer.
func (g *testGateway) login(t *testing.T, c *unitClient, email string) (access, refresh string) {
	t.Helper()
	f := g.startFlow(t, c, email)
	resp := g.form(t, "/api/v1/auth/token", f.tokenForm(f.code(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, resp.Body)
	}
	access, refresh = resp.JSON["access_token"].(string), resp.JSON["refresh_token"].(string)
	g.noteSecret(access)
	g.noteSecret(refresh)
	return access, refresh
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
