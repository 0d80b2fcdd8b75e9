package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// chromiumPath is Debian's chromium (`apt-get install chromium`, done by .ci/run).
const chromiumPath = "/usr/bin/chromium"

// artifactsDir receives the screenshots (tests/artifacts, ignored by git; CI keeps it).
const artifactsDir = "artifacts"

func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	msg := chromiumPath + " is missing, so the real-browser test cannot run; enable it: `sudo apt-get install -y chromium` (or `make test-deps`)"
	if os.Getenv("DRIO_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (DRIO_REQUIRE_BROWSER=1)")
	}
	t.Skip(msg)
}

// newChromium starts a headless Chromium with a fresh profile and returns a tab context.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	var browserLog bytes.Buffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
		chromedp.CombinedOutput(&browserLog),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
		if t.Failed() && browserLog.Len() > 0 {
			t.Logf("chromium output:\n%s", browserLog.String())
		}
	})
	// Start the browser now, so a launch failure is reported as such.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return tabCtx
}

func saveArtifact(t *testing.T, name string, png []byte) string {
	t.Helper()
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
	return abs
}

// TestBrowserChromiumFlow: a real browser (Debian's Chromium, driven over the DevTools
// protocol) walks the flow a person sees: the gateway's consent page (a client name with HTML
// in it shown as text, the redirect host shown), Continue, the WorkOS stand-in's sign-in page,
// a click on a demo user, and back at the client's loopback redirect with code, state and iss;
// the client then exchanges the code with golang.org/x/oauth2 and calls the API.
func TestBrowserChromiumFlow(t *testing.T) {
	requireChromium(t)
	s := startStack(t, stackOptions{})

	// The native client's loopback redirect: a tiny server that records what arrives.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	arrived := make(chan url.Values, 1)
	client := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case arrived <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Signed in</title><h1 id="done">Signed in. You can close this window.</h1>`)
	}))
	client.Listener.Close()
	client.Listener = ln
	client.Start()
	t.Cleanup(client.Close)
	redirect := client.URL + "/callback"
	redirectHost := strings.TrimPrefix(client.URL, "http://")

	// Dynamic registration with a client name that is HTML.
	const clientName = `<b>Test & Co</b>`
	cfg := s.kit.Register(t, clientName, redirect).Config
	verifier := oauth2.GenerateVerifier()
	state := "st-" + oauth2.GenerateVerifier()[:12]
	resource := oauth2.SetAuthURLParam("resource", s.GW+"/api/v1")
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), resource)

	ctx := newChromium(t)
	// What the page and the browser log say (CSP violations among them), for failure messages.
	console := &syncBuffer{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(console, "[%s %s] %s %s\n", m.Type, m.Source, m.Text, m.URL)
		}
	}()

	// First attempt: everything as a person's browser does it. The consent page is checked
	// and both pages are photographed here.
	q, blocked := browserSignIn(t, ctx, s, authURL, arrived, console, func() {
		checkConsentPage(t, ctx, clientName, redirectHost)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		saveArtifact(t, "consent.png", png)
	}, func() {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		saveArtifact(t, "signin.png", png)
	})
	if blocked != "" {
		t.Fatalf("a Content-Security-Policy violation stopped the redirect chain to the client:\n%s", blocked)
	}
	if q.Get("state") != state {
		t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("iss") != s.GW {
		t.Errorf("iss = %q, want %q (RFC 9207)", q.Get("iss"), s.GW)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("no code at the client's redirect: %v", q)
	}
	s.noteSecret(code)

	// The client exchanges the code (x/oauth2, PKCE, resource) and calls the API.
	tok, err := cfg.Exchange(ctxT(t), code, oauth2.VerifierOption(verifier), resource)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			t.Fatalf("exchange: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		t.Fatalf("exchange: %v", err)
	}
	s.noteSecret(tok.AccessToken)
	s.noteSecret(tok.RefreshToken)
	r, me := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil)
	if r.StatusCode != http.StatusOK || str(me, "user", "email") != "ada@example.com" {
		t.Fatalf("GET /api/v1/me after the browser flow: %d %v", r.StatusCode, me)
	}
	s.checkLogs()
}

// checkConsentPage asserts what a person sees on the consent page: the client's name as text
// (HTML in it escaped), the redirect host, and a product layout (a centered card, readable
// text, the two buttons side by side).
func checkConsentPage(t *testing.T, ctx context.Context, clientName, redirectHost string) {
	t.Helper()
	shownName, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1 .client")))
	if err != nil {
		t.Fatal(err)
	}
	if shownName != clientName {
		t.Errorf("consent page shows the client name as %q, want the literal text %q", shownName, clientName)
	}
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('main b') !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if injected {
		t.Errorf("the client name's <b> became an element: the name is not escaped")
	}
	shownHost, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".host")))
	if err != nil {
		t.Fatal(err)
	}
	if shownHost != redirectHost {
		t.Errorf("consent page shows the redirect host %q, want %q", shownHost, redirectHost)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	if !strings.Contains(title, clientName) {
		t.Errorf("consent page title %q does not name the client", title)
	}
	layout, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const m = document.querySelector('main').getBoundingClientRect();
		const a = document.querySelector('#approve').getBoundingClientRect();
		const d = document.querySelector('#deny').getBoundingClientRect();
		return {left: m.left, right: innerWidth - m.right, top: m.top, bottom: innerHeight - m.bottom,
			width: m.width, approveTop: a.top, denyTop: d.top, approveH: a.height,
			fontSize: parseFloat(getComputedStyle(document.body).fontSize)};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if d := layout["left"] - layout["right"]; d > 2 || d < -2 {
		t.Errorf("consent card is not centered horizontally: %v", layout)
	}
	if d := layout["top"] - layout["bottom"]; d > 2 || d < -2 {
		t.Errorf("consent card is not centered vertically: %v", layout)
	}
	if layout["width"] < 300 || layout["width"] > 600 || layout["fontSize"] < 14 ||
		layout["approveTop"] != layout["denyTop"] || layout["approveH"] < 32 {
		t.Errorf("consent layout looks broken: %v", layout)
	}
}

// browserSignIn opens the authorize URL, approves the consent page (onConsent runs on it),
// waits for the WorkOS stand-in's sign-in page (onSignIn runs on it), clicks Ada, and returns
// the query that reached the client's redirect. If a form-action CSP violation stops the
// redirect chain instead, it returns the violation.
func browserSignIn(t *testing.T, ctx context.Context, s *stack, authURL string, arrived <-chan url.Values,
	console *syncBuffer, onConsent, onSignIn func()) (url.Values, string) {
	t.Helper()
	ada := chromedp.CSS(`button[data-email="ada@example.com"]`)
	if err := chromedp.Do(ctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS(`#approve, button[data-email]`))); err != nil {
		t.Fatalf("authorize: neither the consent page nor the sign-in page: %v", err)
	}
	onConsentPage, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#approve') !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if onConsent != nil {
		if !onConsentPage {
			t.Fatalf("a new client's authorize request did not show the consent page")
		}
		onConsent()
	}
	if onConsentPage {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(ada)); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("after Continue, no sign-in page with Ada's button (at %s): %v\nbrowser console:\n%s", loc, err, console.String())
		}
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasPrefix(loc, s.workosTS.URL+"/user_management/authorize?") {
		t.Errorf("sign-in page at %s, want the WorkOS stand-in %s", loc, s.workosTS.URL)
	}
	if onSignIn != nil {
		onSignIn()
	}
	before := len(console.String())
	if err := chromedp.Do(ctx, chromedp.Click(ada)); err != nil {
		t.Fatalf("clicking Ada: %v", err)
	}
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case q := <-arrived:
			if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#done"))); err != nil {
				t.Errorf("the client's page did not render: %v", err)
			}
			return q, ""
		case <-tick.C:
			if msg := console.String()[before:]; strings.Contains(msg, "form-action") {
				return nil, msg
			}
		case <-deadline:
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("the browser never reached the client's redirect; it is at %s showing %q\nbrowser console:\n%s\ngateway logs:\n%s", loc, text, console.String(), s.Logs())
		}
	}
}
