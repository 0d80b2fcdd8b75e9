package tests

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// TestBrandedConsentAndSignInOptions runs a real Caddy configured with consent branding and
// sign-in options, written as an operator would in the Caddyfile: the consent page shows the
// product name under the gateway's policy, an allowed organization_id reaches the WorkOS
// stand-in and the sign-in (of a member of that organization) completes, one outside the
// allowlist goes back to the client as invalid_request without reaching WorkOS, and one
// removed from the AuthKit URL in the browser ends in access_denied.
func TestBrandedConsentAndSignInOptions(t *testing.T) {
	s := startStack(t, stackOptions{DrioExtra: `
		consent {
			product_name "Acme <Cloud>"
			primary_color 4f46e5
		}
		sign_in {
			allow_organizations org_acme ` + workosmock.DemoOrgID + `
			pass_through login_hint
		}`})
	c := s.register(t, "branded client")

	verifier := oauth2.GenerateVerifier()
	authURL := c.Config.AuthCodeURL("st-branded", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("organization_id", workosmock.DemoOrgID))
	page := testkit.NewBrowser().Get(t, authURL)
	csp := page.Header.Get("Content-Security-Policy")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<div class="brand">Acme &lt;Cloud&gt;</div>`) ||
		!strings.Contains(page.Body, "background:#4f46e5") {
		t.Fatalf("branded consent page: %d %s", page.StatusCode, page.Body)
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'nonce-") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("branded consent page policy %q", csp)
	}

	f := s.kit.StartFlowAt(t, c, authURL, verifier, "ada@example.com")
	reached := s.WorkOS.LastAuthorize()
	if reached.Get("organization_id") != workosmock.DemoOrgID || reached.Has("provider") {
		t.Errorf("WorkOS got %v, want organization_id=%s and no provider", reached, workosmock.DemoOrgID)
	}
	if tok := f.Exchange(t, f.Code(t)); tok.AccessToken == "" {
		t.Fatal("no access token after signing in with an allowed organization")
	}

	refused := c.Config.AuthCodeURL("st-refused", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("organization_id", "org_other"))
	resp := testkit.NewBrowser().Get(t, refused)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), c.RedirectURI+"?") ||
		loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "st-refused" ||
		!strings.Contains(loc.Query().Get("error_description"), "org_other") {
		t.Fatalf("organization outside the allowlist: %d %q, want invalid_request at the client", resp.StatusCode, resp.Header.Get("Location"))
	}
	if after := s.WorkOS.LastAuthorize(); after.Encode() != reached.Encode() {
		t.Errorf("a refused organization reached WorkOS: %v", after)
	}

	// The AuthKit URL passes through the browser: one whose organization was swapped for
	// plain AuthKit there signs a user in outside the organization, and the callback refuses
	// that sign-in without a code.
	g, workosURL := s.kit.AuthorizeAt(t, c, authURL, verifier)
	workosURL = testkit.RewriteQuery(t, workosURL, func(q url.Values) {
		q.Del("organization_id")
		q.Set("provider", "authkit")
	})
	revokes := s.WorkOS.Hits(workosmock.EndpointRevoke)
	g.SignIn(t, workosURL, "linus@example.com")
	if back := g.Redirect(t).Query(); back.Get("error") != "access_denied" || back.Has("code") {
		t.Errorf("a sign-in outside the organization asked for: %v, want access_denied without a code", back)
	}
	if s.WorkOS.Hits(workosmock.EndpointRevoke) != revokes+1 {
		t.Errorf("the refused WorkOS session was not ended")
	}
	s.checkLogs()
}
