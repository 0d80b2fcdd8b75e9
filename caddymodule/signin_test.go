package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// signInGateway is a gateway without the consent page (so /authorize answers with the WorkOS
// redirect at once) and with sign-in options s.
func signInGateway(t *testing.T, s *SignInConfig) (*testGateway, *testkit.Registration) {
	t.Helper()
	g := newTestGateway(t, func(a *App) { a.DisableConsent = true; a.SignIn = s })
	return g, g.register(t)
}

// signInAuthorize sends /authorize with the matrix's valid request plus extra, follows the
// redirect to the WorkOS stand-in, and returns what reached it. It fails the test unless
// the gateway sent the browser to WorkOS and WorkOS took the request (no error redirect).
func signInAuthorize(t *testing.T, g *testGateway, c *testkit.Registration, extra url.Values) url.Values {
	t.Helper()
	q := dacQuery(g, c)
	for k, v := range extra {
		q[k] = v
	}
	resp := g.do(t, "GET", dacAuthzPath+"?"+q.Encode(), "", "", nil)
	dacWorkOSRedirect(t, g, "sign-in options", resp)
	at := testkit.RoundTrip(t, testkit.NewBrowser().HTTP, mustGet(t, resp.Header.Get("Location")))
	if loc, _ := url.Parse(at.Header.Get("Location")); at.StatusCode != http.StatusOK && (loc == nil || loc.Query().Has("error")) {
		t.Fatalf("WorkOS refused the gateway's request: %d %q", at.StatusCode, at.Header.Get("Location"))
	}
	return g.WorkOS.LastAuthorize()
}

func mustGet(t *testing.T, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// wantSignIn compares the sign-in parameters that reached WorkOS with want ("" = absent).
func wantSignIn(t *testing.T, got url.Values, want map[string]string) {
	t.Helper()
	for _, k := range []string{"provider", "organization_id", "connection_id", "screen_hint", "login_hint", "domain_hint"} {
		if got.Get(k) != want[k] || got.Has(k) != (want[k] != "") {
			t.Errorf("WorkOS got %s=%q, want %q (query %v)", k, got.Get(k), want[k], got)
		}
	}
}

// TestSignInReachesWorkOS: defaults apply when the request says nothing, an allowed choice
// replaces the default selector, hints pass through when allowed and are ignored otherwise.
func TestSignInReachesWorkOS(t *testing.T) {
	t.Run("no options: AuthKit", func(t *testing.T) {
		g, c := signInGateway(t, nil)
		got := signInAuthorize(t, g, c, url.Values{"login_hint": {"ada@example.com"}, "screen_hint": {"sign-up"}})
		wantSignIn(t, got, map[string]string{"provider": "authkit"})
	})
	opts := &SignInConfig{
		ScreenHint:         "sign-up",
		AllowOrganizations: []string{"org_a", "org_b"},
		AllowConnections:   []string{"conn_1"},
		AllowProviders:     []string{"authkit", "GoogleOAuth"},
		PassThrough:        []string{"login_hint", "domain_hint", "screen_hint"},
	}
	g, c := signInGateway(t, opts)
	for _, tc := range []struct {
		name  string
		extra url.Values
		want  map[string]string
	}{
		{"defaults", nil, map[string]string{"provider": "authkit", "screen_hint": "sign-up"}},
		{"allowed organization", url.Values{"organization_id": {"org_b"}}, map[string]string{"organization_id": "org_b"}},
		{"allowed connection", url.Values{"connection_id": {"conn_1"}}, map[string]string{"connection_id": "conn_1"}},
		{"allowed provider", url.Values{"provider": {"GoogleOAuth"}}, map[string]string{"provider": "GoogleOAuth"}},
		{"screen hint", url.Values{"screen_hint": {"sign-in"}}, map[string]string{"provider": "authkit", "screen_hint": "sign-in"}},
		{"hints", url.Values{"login_hint": {"nobody+x@example.com"}, "domain_hint": {"Example.COM"}, "organization_id": {"org_a"}},
			map[string]string{"organization_id": "org_a", "login_hint": "nobody+x@example.com", "domain_hint": "Example.COM"}},
		{"opaque login hint", url.Values{"login_hint": {"user_01HXYZ"}}, map[string]string{"provider": "authkit", "screen_hint": "sign-up", "login_hint": "user_01HXYZ"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantSignIn(t, signInAuthorize(t, g, c, tc.extra), tc.want) })
	}

	t.Run("default organization, hints not passed", func(t *testing.T) {
		g, c := signInGateway(t, &SignInConfig{OrganizationID: "org_default"})
		got := signInAuthorize(t, g, c, url.Values{"login_hint": {"ada@example.com"}, "screen_hint": {"sign-in"}, "domain_hint": {"example.com"}})
		wantSignIn(t, got, map[string]string{"organization_id": "org_default"})
	})
}

// TestSignInRefused: a choice the operator did not allow, or a hint that is not well formed,
// is refused with invalid_request at the client's redirect URI, with its state, and nothing
// reaches WorkOS.
func TestSignInRefused(t *testing.T) {
	g, c := signInGateway(t, &SignInConfig{
		AllowOrganizations: []string{"org_a"},
		AllowConnections:   []string{"conn_1"},
		AllowProviders:     []string{"authkit"},
		PassThrough:        []string{"login_hint", "domain_hint", "screen_hint"},
	})
	plain, _ := signInGateway(t, nil)
	plainClient := plain.register(t)
	for _, tc := range []struct {
		name  string
		g     *testGateway
		c     *testkit.Registration
		extra url.Values
		desc  string
	}{
		{"organization outside the allowlist", g, c, url.Values{"organization_id": {"org_evil"}}, `organization_id "org_evil" is not one this gateway allows`},
		{"organization with no allowlist", plain, plainClient, url.Values{"organization_id": {"org_a"}}, "organization_id"},
		{"connection outside the allowlist", g, c, url.Values{"connection_id": {"conn_2"}}, "connection_id"},
		{"provider not allowed", g, c, url.Values{"provider": {"GoogleOAuth"}}, "provider"},
		{"unknown provider", g, c, url.Values{"provider": {"EvilOAuth"}}, "provider"},
		{"two selectors", g, c, url.Values{"organization_id": {"org_a"}, "connection_id": {"conn_1"}}, "at most one"},
		{"screen hint value", g, c, url.Values{"screen_hint": {"register"}}, "sign-in or sign-up"},
		{"screen hint without authkit", g, c, url.Values{"screen_hint": {"sign-up"}, "organization_id": {"org_a"}}, "only with provider authkit"},
		{"login hint control character", g, c, url.Values{"login_hint": {"ada@example.com\r\nX: y"}}, "login_hint"},
		{"login hint space", g, c, url.Values{"login_hint": {"ada @example.com"}}, "login_hint"},
		{"login hint too long", g, c, url.Values{"login_hint": {strings.Repeat("a", 250) + "@example.com"}}, "at most 256"},
		{"login hint invalid utf-8", g, c, url.Values{"login_hint": {"ada\xff@example.com"}}, "login_hint"},
		{"domain hint with a path", g, c, url.Values{"domain_hint": {"example.com/x"}}, "domain_hint"},
		{"domain hint label", g, c, url.Values{"domain_hint": {"-example.com"}}, "domain_hint"},
		{"domain hint empty label", g, c, url.Values{"domain_hint": {"example..com"}}, "domain_hint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := dacQuery(tc.g, tc.c)
			for k, v := range tc.extra {
				q[k] = v
			}
			before := tc.g.WorkOS.LastAuthorize()
			resp := dacAuthorize(t, tc.g, q.Encode(), nil, changes())
			got := dacRedirected(t, tc.g, tc.name, resp, tc.c.RedirectURI, "invalid_request", "xyz")
			if got != nil && !strings.Contains(got.Get("error_description"), tc.desc) {
				t.Errorf("error_description %q, want it to contain %q", got.Get("error_description"), tc.desc)
			}
			if after := tc.g.WorkOS.LastAuthorize(); after.Encode() != before.Encode() {
				t.Errorf("a refused request reached WorkOS: %v", after)
			}
		})
	}
}

// TestSignInOptionsRefused: each unacceptable sign_in option fails Validate and says why.
func TestSignInOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    SignInConfig
		want string
	}{
		{"two defaults", SignInConfig{Provider: "authkit", OrganizationID: "org_1"}, "at most one of provider, organization_id and connection_id"},
		{"unknown provider", SignInConfig{Provider: "authkat"}, `unknown provider "authkat"`},
		{"unknown allowed provider", SignInConfig{AllowProviders: []string{"authkit", "FacebookOAuth"}}, `unknown provider "FacebookOAuth"`},
		{"organization id", SignInConfig{AllowOrganizations: []string{"acme"}}, `"acme" is not a WorkOS organization id`},
		{"organization id characters", SignInConfig{OrganizationID: "org_1&x=y"}, "organization id"},
		{"connection id", SignInConfig{AllowConnections: []string{"org_1"}}, "connection id"},
		{"screen hint value", SignInConfig{ScreenHint: "signup"}, "screen_hint must be sign-in or sign-up"},
		{"screen hint with organization", SignInConfig{OrganizationID: "org_1", ScreenHint: "sign-up"}, "only with provider authkit"},
		{"screen hint with google", SignInConfig{Provider: "GoogleOAuth", ScreenHint: "sign-in"}, "only with provider authkit"},
		{"pass through a selector", SignInConfig{PassThrough: []string{"organization_id"}}, "allow_organizations"},
		{"pass through unknown", SignInConfig{PassThrough: []string{"prompt"}}, `pass_through "prompt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			err := consentValidate(t, nil, &s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSignInOutcomeChecked: the AuthKit URL passes through the user's browser, where its
// selector can be rewritten, so the callback checks WorkOS's answer against what the gateway
// asked for. A session in another organization, or one opened by another provider or without
// the SSO connection asked for, is refused with access_denied at the client's redirect URI
// (no code), and WorkOS is asked to end it.
func TestSignInOutcomeChecked(t *testing.T) {
	org := workosmock.DemoOrgID
	authkit := func(q url.Values) {
		q.Del("organization_id")
		q.Del("connection_id")
		q.Set("provider", "authkit")
	}
	for _, tc := range []struct {
		name    string
		opts    *SignInConfig
		extra   url.Values       // on the client's /authorize
		rewrite func(url.Values) // on the AuthKit URL, in the browser; nil: untouched
		email   string
		refused bool
	}{
		{"organization kept", &SignInConfig{OrganizationID: org}, nil, nil, "ada@example.com", false},
		{"user outside the organization", &SignInConfig{OrganizationID: org}, nil, nil, "linus@example.com", true},
		{"client's organization rewritten to AuthKit", &SignInConfig{AllowOrganizations: []string{org}},
			url.Values{"organization_id": {org}}, authkit, "linus@example.com", true},
		{"provider kept", &SignInConfig{Provider: "GoogleOAuth"}, nil, nil, "ada@example.com", false},
		{"provider rewritten to AuthKit", &SignInConfig{Provider: "GoogleOAuth"}, nil, authkit, "ada@example.com", true},
		{"client's provider rewritten to another", &SignInConfig{AllowProviders: []string{"GitHubOAuth"}},
			url.Values{"provider": {"GitHubOAuth"}}, func(q url.Values) { q.Set("provider", "GoogleOAuth") }, "ada@example.com", true},
		{"connection kept", &SignInConfig{ConnectionID: "conn_1"}, nil, nil, "ada@example.com", false},
		{"connection rewritten to AuthKit", &SignInConfig{ConnectionID: "conn_1"}, nil, authkit, "ada@example.com", true},
		{"AuthKit: any method, any organization", nil, nil, func(q url.Values) { q.Set("provider", "GoogleOAuth") }, "linus@example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := signInGateway(t, tc.opts)
			verifier := oauth2.GenerateVerifier()
			opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
			for k := range tc.extra {
				opts = append(opts, oauth2.SetAuthURLParam(k, tc.extra.Get(k)))
			}
			f, workosURL := g.kit.AuthorizeAt(t, c, c.Config.AuthCodeURL("st-outcome", opts...), verifier)
			if tc.rewrite != nil {
				workosURL = testkit.RewriteQuery(t, workosURL, tc.rewrite)
			}
			f.SignIn(t, workosURL, tc.email)
			revokes := g.WorkOS.Hits(workosmock.EndpointRevoke)
			loc := f.Redirect(t)
			if !tc.refused {
				if loc.Query().Get("code") == "" {
					t.Fatalf("a sign-in as asked was refused: %s", loc)
				}
				if tok := f.Exchange(t, loc.Query().Get("code")); tok.AccessToken == "" {
					t.Fatal("no access token for a sign-in as asked")
				}
				return
			}
			if q := loc.Query(); q.Get("error") != respond.CodeAccessDenied || q.Has("code") {
				t.Errorf("callback after a sign-in otherwise than asked: %s, want access_denied and no code", loc)
			}
			if got := g.WorkOS.Hits(workosmock.EndpointRevoke) - revokes; got != 1 {
				t.Errorf("%d WorkOS session revocations for the refused sign-in, want 1", got)
			}
		})
	}
}
