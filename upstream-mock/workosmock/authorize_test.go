package workosmock_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

func get(t *testing.T, f *fixture, u string) (*http.Response, string) {
	t.Helper()
	res, err := f.http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formFor extracts the form whose button has data-email=email (or the
// cancel form) from the sign-in page and returns its fields.
func formFor(t *testing.T, page, marker string) url.Values {
	t.Helper()
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("marker %q not in page", marker)
	}
	start := strings.LastIndex(page[:i], "<form")
	if start < 0 {
		t.Fatalf("no form before %q", marker)
	}
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page[start:i], -1) {
		v.Set(unescape(m[1]), unescape(m[2]))
	}
	return v
}

func unescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`)
	return r.Replace(s)
}

func TestSignInPageAndComplete(t *testing.T) {
	users := append(workosmock.DemoUsers(), workosmock.User{
		ID: "user_evil", Email: "evil+<x>@example.com", FirstName: `<script>alert(1)</script>`, LastName: `"quoted"`,
	})
	f := newFixture(t, func(c *workosmock.Config) { c.Users = users })
	verifier := oauth2.GenerateVerifier()
	state := `st "&<>`
	u, err := f.sdk.GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
		ClientID: testClientID, RedirectURI: testRedirect, Provider: "authkit", State: state,
		CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier), CodeChallengeMethod: "S256",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, page := get(t, f, u.String())
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("sign-in page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'unsafe-inline'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// Chromium applies form-action to the redirects after the post (callback, then the
	// relying party's client): a restriction here broke the flow in a real browser.
	if strings.Contains(csp, "form-action") {
		t.Errorf("CSP %q restricts form-action", csp)
	}
	if !strings.Contains(page, "Sign in to continue") {
		t.Error("heading missing")
	}
	for _, email := range []string{"ada@example.com", "grace@example.com", "linus@example.com"} {
		if !strings.Contains(page, `data-email="`+email+`"`) {
			t.Errorf("no button for %s", email)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "evil+<x>") {
		t.Error("user data not escaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("escaped name missing")
	}
	if strings.Contains(page, "src=") || strings.Contains(page, "href=\"http") {
		t.Error("page loads external resources")
	}

	// Pick Grace.
	form := formFor(t, page, `data-email="grace@example.com"`)
	if form.Get("state") != state || form.Get("user_id") != workosmock.DemoGraceID || form.Get("code_challenge") == "" {
		t.Fatalf("form fields = %v", form)
	}
	res, err = f.http.PostForm(f.ts.URL+"/user_management/authorize/complete", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("complete status = %d", res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("complete Location = %s", loc)
	}
	resp, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: testClientID, Code: loc.Query().Get("code"), CodeVerifier: verifier,
	})
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if resp.User.Email != "grace@example.com" {
		t.Errorf("signed in as %s", resp.User.Email)
	}

	// Cancel.
	cancel := formFor(t, page, `data-action="cancel"`)
	if cancel.Get("cancel") == "" {
		t.Fatalf("cancel form = %v", cancel)
	}
	res, err = f.http.PostForm(f.ts.URL+"/user_management/authorize/complete", cancel)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ = url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" ||
		loc.Query().Get("error_description") == "" || loc.Query().Get("state") != state || loc.Query().Get("code") != "" {
		t.Errorf("cancel: %d %s", res.StatusCode, loc)
	}

	// Tampered form: unknown user, foreign redirect.
	bad := formFor(t, page, `data-email="ada@example.com"`)
	bad.Set("user_id", "user_nobody")
	res, err = f.http.PostForm(f.ts.URL+"/user_management/authorize/complete", bad)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 || res.Header.Get("Location") != "" {
		t.Errorf("unknown user: %d", res.StatusCode)
	}
	bad = formFor(t, page, `data-email="ada@example.com"`)
	bad.Set("redirect_uri", "https://evil.example/cb")
	res, err = f.http.PostForm(f.ts.URL+"/user_management/authorize/complete", bad)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 || res.Header.Get("Location") != "" {
		t.Errorf("foreign redirect on complete: %d", res.StatusCode)
	}
}

func TestUnknownLoginHintRendersPage(t *testing.T) {
	f := newFixture(t, nil)
	res, page := get(t, f, f.authorizeURL("nobody@example.com", "s", ""))
	if res.StatusCode != 200 || !strings.Contains(page, "nobody@example.com") || !strings.Contains(page, `data-email="ada@example.com"`) {
		t.Errorf("unknown hint: %d", res.StatusCode)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	f := newFixture(t, nil)
	base := func(mod func(url.Values)) string {
		v := url.Values{
			"client_id": {testClientID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
			"provider": {"authkit"}, "state": {"s1"}, "login_hint": {"ada@example.com"},
		}
		mod(v)
		return f.ts.URL + "/user_management/authorize?" + v.Encode()
	}
	pageErrors := []struct {
		name string
		mod  func(url.Values)
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "client_other") }},
		{"missing client", func(v url.Values) { v.Del("client_id") }},
		{"missing redirect", func(v url.Values) { v.Del("redirect_uri") }},
		{"non-loopback redirect", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }},
		{"loopback lookalike", func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1.evil.example/cb") }},
		{"bad scheme", func(v url.Values) { v.Set("redirect_uri", "javascript://127.0.0.1/x") }},
		{"fragment", func(v url.Values) { v.Set("redirect_uri", testRedirect+"#x") }},
	}
	for _, c := range pageErrors {
		res, body := get(t, f, base(c.mod))
		if res.StatusCode != 400 || res.Header.Get("Location") != "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q", c.name, res.StatusCode, res.Header.Get("Location"))
		}
		if !strings.Contains(body, "<h1>") {
			t.Errorf("%s: not an HTML page", c.name)
		}
	}
	redirectErrors := []struct {
		name string
		mod  func(url.Values)
	}{
		{"response_type", func(v url.Values) { v.Set("response_type", "token") }},
		{"no selector", func(v url.Values) { v.Del("provider") }},
		{"unknown provider", func(v url.Values) { v.Set("provider", "MySpaceOAuth") }},
		{"plain pkce", func(v url.Values) {
			v.Set("code_challenge", "abcdefghijabcdefghijabcdefghijabcdefghij123")
			v.Set("code_challenge_method", "plain")
		}},
		{"challenge without method", func(v url.Values) { v.Set("code_challenge", "abcdefghijabcdefghijabcdefghijabcdefghij123") }},
	}
	for _, c := range redirectErrors {
		res, _ := get(t, f, base(c.mod))
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != 302 || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "s1" {
			t.Errorf("%s: %d %s", c.name, res.StatusCode, loc)
		}
	}
	for _, ok := range []string{"http://localhost:3000/cb", "http://[::1]:9/cb", "https://127.0.0.1/cb?x=1"} {
		res, _ := get(t, f, base(func(v url.Values) { v.Set("redirect_uri", ok) }))
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != 302 || loc.Query().Get("code") == "" {
			t.Errorf("%s refused: %d", ok, res.StatusCode)
		}
		if ok == "https://127.0.0.1/cb?x=1" && loc.Query().Get("x") != "1" {
			t.Errorf("existing query lost: %s", loc)
		}
	}
	// Connection selectors are accepted and reported as SSO.
	res, _ := get(t, f, base(func(v url.Values) { v.Del("provider"); v.Set("connection_id", "conn_1") }))
	loc, _ := url.Parse(res.Header.Get("Location"))
	resp, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: loc.Query().Get("code")})
	if err != nil || resp.AuthenticationMethod != usermanagement.SSO {
		t.Errorf("connection_id flow: %v %q", err, resp.AuthenticationMethod)
	}
}

func TestAuthorizeAllowlist(t *testing.T) {
	allowed := "https://gateway.example/api/v1/auth/callback"
	f := newFixture(t, func(c *workosmock.Config) { c.AllowedRedirectURIs = []string{allowed} })
	u := func(redirect string) string {
		v := url.Values{"client_id": {testClientID}, "redirect_uri": {redirect}, "response_type": {"code"},
			"provider": {"authkit"}, "login_hint": {"ada@example.com"}}
		return f.ts.URL + "/user_management/authorize?" + v.Encode()
	}
	if res, _ := get(t, f, u(allowed)); res.StatusCode != 302 {
		t.Errorf("allowed uri: %d", res.StatusCode)
	}
	if res, _ := get(t, f, u(testRedirect)); res.StatusCode != 400 {
		t.Errorf("loopback uri outside the allowlist: %d", res.StatusCode)
	}
	if _, err := workosmock.New(workosmock.Config{ClientID: "c", AllowedRedirectURIs: []string{"not a url"}}); err == nil {
		t.Error("bad allowlist entry accepted")
	}
}
