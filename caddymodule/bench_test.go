package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// benchGateway is the app and drio_protect provisioned in-process (as newTestGateway does,
// but for benchmarks), with one live brokered session and a valid token for it.
type benchGateway struct {
	app     *App
	protect *Protect
	token   string
	sid     string
}

func newBenchGateway(b *testing.B) *benchGateway {
	b.Helper()
	wm, err := workosmock.New(workosmock.Config{ClientID: tgClientID, APIKey: tgAPIKey})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(wm)
	wm.SetBaseURL(ts.URL)
	app := &App{
		Issuer:    "http://127.0.0.1:1",
		WorkOS:    &WorkOSConfig{ClientID: tgClientID, APIKey: tgAPIKey, Endpoint: ts.URL, Timeout: caddy.Duration(2 * time.Second)},
		Storage:   &StorageConfig{Dir: b.TempDir()},
		RateLimit: &RateLimitConfig{Disabled: true},
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	if err := app.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	app.logger = zap.NewNop()
	if err := app.Start(); err != nil {
		b.Fatal(err)
	}
	p := &Protect{Public: []string{"/api/v1/templates", "/api/v1/templates/*"}}
	if err := p.setup(ctx, app, zap.NewNop()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = app.Stop()
		cancel()
		wm.Close()
		ts.Close()
	})
	st, err := app.runtime(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); st.Verifier.Stats().Keys == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	u := workosmock.DemoUsers()[0]
	sid := "session_01BENCHPROTECT0000000000"
	if err := st.Grants.Sessions.Record(context.Background(), &grants.Session{
		ID: sid, ClientID: "client_bench", UserID: u.ID, Email: u.Email, OrganizationID: u.OrganizationID, CreatedAt: time.Now().Unix(),
	}, time.Hour); err != nil {
		b.Fatal(err)
	}
	return &benchGateway{app: app, protect: p, token: wm.MintAccessToken(u, sid, time.Hour, nil), sid: sid}
}

// benchWriter is a ResponseWriter that keeps nothing but the header map.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

// benchRequest is a request as Caddy's server hands it to the handler chain: with a replacer,
// the vars map and the client IP. newRequestID makes the next requestID generate a fresh UUID,
// as Caddy does once per request.
func benchRequest(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{})
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	r = r.WithContext(ctx)
	caddyhttp.NewTestReplacer(r)
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, "127.0.0.1")
	return r
}

func newRequestID(r *http.Request) {
	delete(r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any), "uuid")
}

var okNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(HeaderUserID) == "" && r.URL.Path == "/api/v1/me" {
		return caddyhttp.Error(http.StatusTeapot, nil)
	}
	w.WriteHeader(http.StatusOK)
	return nil
})

// BenchmarkProtectServeHTTP is drio_protect's whole cost for a valid, already verified token
// (verified-token cache hit, session registry cache hit), the next handler doing nothing.
// Each iteration resets the request's headers to what a client sends (2 small allocations
// counted here that a real request has anyway).
func BenchmarkProtectServeHTTP(b *testing.B) {
	benchProtectLoop(b, newBenchGateway(b))
}

// benchProtectLoop sends GET /api/v1/me with g's token through g's drio_protect once to fill
// the caches, checks it was let through, then measures it.
func benchProtectLoop(b *testing.B, g *benchGateway) {
	r := benchRequest("/api/v1/me")
	w := &benchWriter{h: http.Header{}}
	auth := "Bearer " + g.token
	run := func() {
		r.Header = http.Header{"Authorization": {auth}, "Accept": {"application/json"}, "User-Agent": {"bench"}}
		newRequestID(r)
		if err := g.protect.ServeHTTP(w, r, okNext); err != nil {
			b.Fatal(err)
		}
	}
	run() // first sight: verify and fill the caches
	if r.Header.Get(HeaderUserID) == "" {
		b.Fatal("the request was refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}

// BenchmarkProtectServeHTTPParallel is the same under contention on both cores.
func BenchmarkProtectServeHTTPParallel(b *testing.B) {
	g := newBenchGateway(b)
	auth := "Bearer " + g.token
	if err := g.protect.ServeHTTP(&benchWriter{h: http.Header{}}, func() *http.Request {
		r := benchRequest("/api/v1/me")
		r.Header.Set("Authorization", auth)
		return r
	}(), okNext); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer() // the setup above generates an RSA key
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest("/api/v1/me")
		w := &benchWriter{h: http.Header{}}
		for pb.Next() {
			r.Header = http.Header{"Authorization": {auth}, "Accept": {"application/json"}, "User-Agent": {"bench"}}
			newRequestID(r)
			if err := g.protect.ServeHTTP(w, r, okNext); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkProtectServeHTTPPublic is a public route: header sanitizing and the path match.
func BenchmarkProtectServeHTTPPublic(b *testing.B) {
	g := newBenchGateway(b)
	r := benchRequest("/api/v1/templates")
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r.Header = http.Header{"Accept": {"application/json"}, "User-Agent": {"bench"}}
		newRequestID(r)
		if err := g.protect.ServeHTTP(w, r, okNext); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectParts splits the protected path into its steps, to show where the time goes.
func BenchmarkProtectParts(b *testing.B) {
	g := newBenchGateway(b)
	st, err := g.app.runtime(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Verifier.Verify(ctx, g.token); err != nil {
		b.Fatal(err)
	}
	b.Run("Verify-cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Verifier.Verify(ctx, g.token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SessionLive-cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s, err := st.Grants.Sessions.Live(ctx, g.sid); err != nil || s == nil {
				b.Fatal("session not live", err)
			}
		}
	})
	b.Run("SessionLive-store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st.Grants.Sessions.Evict(g.sid)
			if s, err := st.Grants.Sessions.Live(ctx, g.sid); err != nil || s == nil {
				b.Fatal("session not live", err)
			}
		}
	})
	b.Run("SanitizeHeaders", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := http.Header{"Authorization": {"Bearer x"}, "Accept": {"application/json"}, "User-Agent": {"bench"}}
			sanitizeRequestHeaders(h, g.protect.strip, false)
		}
	})
	b.Run("RequestID", func(b *testing.B) {
		r := benchRequest("/api/v1/me")
		b.ReportAllocs()
		for b.Loop() {
			newRequestID(r)
			_ = requestID(r)
		}
	})
}
