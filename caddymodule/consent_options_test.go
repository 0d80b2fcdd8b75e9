package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// consentValidate provisions and validates an app with c as its consent block (and s as its
// sign_in block) and returns the first error.
func consentValidate(t *testing.T, c *ConsentConfig, s *SignInConfig) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "client_1", APIKey: "sk_1"},
		Storage: &StorageConfig{Dir: t.TempDir()}, Consent: c, SignIn: s}
	if err := app.Provision(ctx); err != nil {
		return err
	}
	return app.Validate()
}

// consentPage fetches the consent page for a fresh client of g.
func consentPage(t *testing.T, g *testGateway) (*testkit.Registration, *testkit.Response) {
	t.Helper()
	c := g.register(t)
	resp := g.do(t, "GET", dacAuthzPath+"?"+dacQuery(g, c).Encode(), "", "", dacHTML)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: %d %s", resp.StatusCode, resp.Body)
	}
	return c, resp
}

var styleNonce = regexp.MustCompile(`<style nonce="([^"]+)">`)

// assertConsentCSP checks the consent page's policy is at least as strict as the built-in
// page's: nothing by default, styles only from the nonce'd element (which the body carries),
// images only from imgOrigin ("" for none), no framing, no base, forms to the allowed chain.
func assertConsentCSP(t *testing.T, resp *testkit.Response, imgOrigin string) {
	t.Helper()
	assertPageHeaders(t, resp)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self' https: "} {
		if !strings.Contains(csp, want) {
			t.Errorf("consent CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("consent CSP %q contains %q", csp, bad)
		}
	}
	m := styleNonce.FindStringSubmatch(resp.Body)
	if m == nil || !strings.Contains(csp, "style-src 'nonce-"+m[1]+"'") {
		t.Errorf("consent CSP %q does not allow exactly the page's nonce'd style (%v)", csp, m)
	}
	switch imgOrigin {
	case "":
		if strings.Contains(csp, "img-src") {
			t.Errorf("consent CSP %q allows images without a logo", csp)
		}
	default:
		if !strings.Contains(csp, "; img-src "+imgOrigin+";") {
			t.Errorf("consent CSP %q does not allow images from exactly %s", csp, imgOrigin)
		}
	}
}

// TestConsentBranding: product name, logo and colours reach the page, a hostile product name
// is escaped, the policy allows the logo's origin and nothing more, and the form still works.
func TestConsentBranding(t *testing.T) {
	const hostile = `</style><script>alert(1)</script>Acme`
	g := newTestGateway(t, func(a *App) {
		a.Consent = &ConsentConfig{ProductName: hostile, LogoURL: "https://cdn.example.com/brand/logo.svg?v=2",
			PrimaryColor: "#4f46e5", BackgroundColor: "#fff"}
	})
	c, resp := consentPage(t, g)
	assertConsentCSP(t, resp, "https://cdn.example.com")
	body := resp.Body
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Errorf("the hostile product name was not escaped: %s", body)
	}
	for _, want := range []string{
		"&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;Acme",
		`src="https://cdn.example.com/brand/logo.svg?v=2"`,
		".approve,.approve:hover{background:#4f46e5}",
		"body{background:#fff}",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("branded consent page lacks %q:\n%s", want, body)
		}
	}
	// Two pages, two nonces.
	_, again := consentPage(t, g)
	if a, b := styleNonce.FindStringSubmatch(body), styleNonce.FindStringSubmatch(again.Body); a == nil || b == nil || a[1] == b[1] {
		t.Errorf("style nonce reused or missing: %v %v", a, b)
	}
	// The branded page's form is the real one.
	f := &testkit.Flow{Client: g.kit, Reg: c, Browser: testkit.NewBrowser()}
	txn, csrf := dacConsent(t, "branded", dacGet(t, f.Browser.HTTP, g.URL+dacAuthzPath+"?"+dacQuery(g, c).Encode(), nil))
	post := dacPostConsent(t, g, f.Browser.HTTP, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"approve"}}, nil)
	dacWorkOSRedirect(t, g, "branded approve", post)
}

// TestConsentDefaultPolicy: without branding the page still has its nonce'd style, no img-src
// and the "drio" name.
func TestConsentDefaultPolicy(t *testing.T) {
	g := newTestGateway(t, nil)
	_, resp := consentPage(t, g)
	assertConsentCSP(t, resp, "")
	if !strings.Contains(resp.Body, `<div class="brand">drio</div>`) {
		t.Errorf("default consent page lost its brand line: %s", resp.Body)
	}
}

// TestConsentOptionsRefused: each unacceptable branding option fails Validate and says why.
func TestConsentOptionsRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<form>{{.Hidden}`), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown.html")
	if err := os.WriteFile(unknown, []byte(`<p>{{.NoSuchField}}</p>`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    ConsentConfig
		want string
	}{
		{"color name", ConsentConfig{PrimaryColor: "red"}, `primary_color "red" must be a CSS hex colour`},
		{"color css injection", ConsentConfig{BackgroundColor: "#fff}body{x:y"}, "background_color"},
		{"color four digits", ConsentConfig{PrimaryColor: "#abcd"}, "#rgb or #rrggbb"},
		{"logo http", ConsentConfig{LogoURL: "http://cdn.example.com/l.svg"}, "must use https"},
		{"logo relative", ConsentConfig{LogoURL: "/logo.svg"}, "must be an absolute URL"},
		{"logo javascript", ConsentConfig{LogoURL: "javascript:alert(1)"}, "logo_url"},
		{"logo quote", ConsentConfig{LogoURL: "https://cdn.example.com/x';script-src *"}, "must not have"},
		{"logo userinfo", ConsentConfig{LogoURL: "https://u:p@cdn.example.com/l.svg"}, "userinfo"},
		{"name too long", ConsentConfig{ProductName: strings.Repeat("x", 65)}, "product_name must be at most 64"},
		{"name control", ConsentConfig{ProductName: "Acme\nInc"}, "product_name"},
		{"template missing", ConsentConfig{Template: filepath.Join(dir, "nope.html")}, "nope.html: no such file"},
		{"template parse", ConsentConfig{Template: bad}, "consent template " + bad + ":"},
		{"template field", ConsentConfig{Template: unknown}, "NoSuchField"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			err := consentValidate(t, &c, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// http is fine on loopback, and the example template passes.
	if err := consentValidate(t, &ConsentConfig{LogoURL: "http://127.0.0.1:9/l.png", Template: "../examples/consent.html"}, nil); err != nil {
		t.Fatalf("loopback logo and the example template: %v", err)
	}
}
