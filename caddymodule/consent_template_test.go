package caddymodule

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// writeTemplate writes a consent template into a temp file and returns its path.
func writeTemplate(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "consent.html")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConsentExampleTemplate renders the shipped example template through a real
// authorization, so the example cannot rot: it shows the branding and the client, keeps the
// gateway's policy, and its form approves.
func TestConsentExampleTemplate(t *testing.T) {
	g := newTestGateway(t, func(a *App) {
		a.Consent = &ConsentConfig{Template: "../examples/consent.html", ProductName: "Acme <Cloud>",
			LogoURL: "https://cdn.example.com/logo.svg", PrimaryColor: "#123456"}
	})
	c := dacClient(t, g, "Pasta & Co", "http://127.0.0.1:51004/cb")
	b := testkit.NewBrowser().HTTP
	resp := dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, c).Encode(), nil)
	txn, csrf := dacConsent(t, "example template", resp)
	assertConsentCSP(t, resp, "https://cdn.example.com")
	for _, want := range []string{
		"<title>Acme &lt;Cloud&gt;: allow Pasta &amp; Co?</title>",
		`<img class="logo" src="https://cdn.example.com/logo.svg" alt="Acme &lt;Cloud&gt;">`,
		`<span class="host">127.0.0.1:51004</span>`,
		"<li>Call the drio API as you</li>",
		"background:#123456",
		`<button class="approve" type="submit" name="decision" value="approve">Allow</button>`,
	} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("example template page lacks %q:\n%s", want, resp.Body)
		}
	}
	if txn == "" || csrf == "" {
		t.Fatalf("example template page lacks the hidden fields: %s", resp.Body)
	}
	post := dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"approve"}}, nil)
	dacWorkOSRedirect(t, g, "example template approve", post)
}

// TestConsentTemplateCannotSkipCSRF: a template that leaves out the CSRF field gives the
// user a form that cannot approve anything; the gateway's check does not depend on it.
func TestConsentTemplateCannotSkipCSRF(t *testing.T) {
	tmpl := writeTemplate(t, `<html><body><form method="post" action="{{.Action}}">
<input type="hidden" name="txn" value="{{.Txn}}">
<button name="decision" value="approve">Go</button></form></body></html>`)
	g := newTestGateway(t, func(a *App) { a.Consent = &ConsentConfig{Template: tmpl} })
	c := g.register(t)
	b := testkit.NewBrowser().HTTP
	resp := dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, c).Encode(), nil)
	form := testkit.ConsentFields(resp.Body)
	if resp.StatusCode != http.StatusOK || form.Get("txn") == "" || form.Has("csrf") {
		t.Fatalf("template page: %d fields %v", resp.StatusCode, form)
	}
	assertPageHeaders(t, resp)
	for _, f := range []url.Values{
		{"txn": {form.Get("txn")}, "decision": {"approve"}},
		{"txn": {form.Get("txn")}, "csrf": {""}, "decision": {"approve"}},
		{"txn": {form.Get("txn")}, "csrf": {form.Get("txn")}, "decision": {"approve"}},
	} {
		post := dacPostConsent(t, g, b, f, nil)
		if post.StatusCode != http.StatusForbidden || post.Header.Get("Location") != "" {
			t.Errorf("approve without the CSRF token %v: %d %q, want 403 and no redirect", f, post.StatusCode, post.Header.Get("Location"))
		}
	}
	p, err := g.grants().Pending.Get(t.Context(), form.Get("txn"))
	if err != nil || p.Consented {
		t.Errorf("pending authorization after the refused approvals: %+v, %v; want it kept and not consented", p, err)
	}
}

// TestConsentTemplateWithoutHiddenFieldsWarns: loading a template that never renders the
// hidden fields says, once, that every approval will be refused; one that does says nothing.
func TestConsentTemplateWithoutHiddenFieldsWarns(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
	}{
		{`<form method="post" action="{{.Action}}"><button name="decision" value="approve">Go</button></form>`, 1},
		{`<form method="post" action="{{.Action}}">{{.Hidden}}<button name="decision" value="approve">Go</button></form>`, 0},
	} {
		core, logs := observer.New(zapcore.WarnLevel)
		a := &App{logger: zap.New(core), Consent: &ConsentConfig{Template: writeTemplate(t, tc.src)}}
		a.provisionConsent(caddy.NewReplacer())
		if a.Consent.tmplErr != nil || a.Consent.tmpl == nil {
			t.Fatalf("template %q: %v", tc.src, a.Consent.tmplErr)
		}
		if n := logs.FilterMessageSnippet("no hidden txn and csrf fields").Len(); n != tc.want {
			t.Errorf("template %q: %d warnings, want %d", tc.src, n, tc.want)
		}
	}
}

// TestConsentTemplateFailsAtRequest: a template that fails while rendering answers with the
// local error page (not half a form) and says so in the log once, not once per visitor.
func TestConsentTemplateFailsAtRequest(t *testing.T) {
	tmpl := writeTemplate(t, `<html><body><form method="post" action="{{.Action}}">{{.Hidden}}
{{if eq .ClientName "boom"}}{{index .Scopes 99}}{{end}}
<button name="decision" value="approve">Go</button></form></body></html>`)
	g := newTestGateway(t, func(a *App) { a.Consent = &ConsentConfig{Template: tmpl} })
	c := dacClient(t, g, "boom", "http://127.0.0.1:51004/cb")
	for i := 0; i < 2; i++ {
		resp := g.do(t, "GET", dacAuthzPath+"?"+dacQuery(g, c).Encode(), "", "", dacHTML)
		if resp.StatusCode != http.StatusInternalServerError || strings.Contains(resp.Body, "<form") ||
			!strings.Contains(resp.Body, "The consent page could not be shown") {
			t.Fatalf("failing template: %d %s, want the 500 error page", resp.StatusCode, resp.Body)
		}
		assertPageHeaders(t, resp)
	}
	if n := g.Logs.FilterMessageSnippet("consent page template failed").Len(); n != 1 {
		t.Errorf("template failure logged %d times, want once", n)
	}
	// Another client's page renders: the failure is this request's, not the template's.
	_, ok := consentPage(t, g)
	if !strings.Contains(ok.Body, `name="csrf"`) {
		t.Errorf("template page for another client: %s", ok.Body)
	}
}

// TestReadmeConsentExample: the README's consent and sign_in example parses and passes the
// checks, and the template it prints is the shipped example (which the tests above render).
func TestReadmeConsentExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- consent-example:start -->\\s*```caddyfile\\n(.*?)```\\s*<!-- consent-example:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no consent example between <!-- consent-example:start --> and <!-- consent-example:end -->")
	}
	var app App
	if err := app.UnmarshalCaddyfile(caddyfile.NewTestDispenser(string(m[1]))); err != nil {
		t.Fatalf("README consent example: %v", err)
	}
	if app.Consent == nil || app.SignIn == nil || app.Consent.PrimaryColor != "#4f46e5" {
		t.Fatalf("README consent example parsed to %+v %+v", app.Consent, app.SignIn)
	}
	if err := app.consentOptions().Check(); err != nil {
		t.Errorf("README consent example: %v", err)
	}
	example, err := os.ReadFile("../examples/consent.html")
	if err != nil {
		t.Fatal(err)
	}
	shipped := regexp.MustCompile(`(?s)\{\{/\*.*?\*/\}\}\n`).ReplaceAllString(string(example), "")
	h := regexp.MustCompile("(?s)```html\\n(.*?)```").FindSubmatch(readme)
	if h == nil || string(h[1]) != shipped {
		t.Errorf("the README's template is not examples/consent.html (without its comment):\nREADME:\n%s\nexample:\n%s", h, shipped)
	}
}
