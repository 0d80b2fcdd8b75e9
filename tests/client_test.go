package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// registered is a client registered through /api/v1/auth/register.
type registered struct {
	ClientID    string
	RedirectURI string
	Config      *oauth2.Config
}

func (s *stack) register(t *testing.T, name string) *registered {
	t.Helper()
	return s.registerWithRedirect(t, name, "http://127.0.0.1:51004/callback")
}

// registerWithRedirect registers a public client with one redirect URI.
func (s *stack) registerWithRedirect(t *testing.T, name, redirect string) *registered {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"client_name":    name,
		"redirect_uris":  []string{redirect},
		"grant_types":    []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"},
	})
	resp, err := http.Post(s.GW+"/api/v1/auth/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: status %d, body %s", resp.StatusCode, raw)
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || out.ClientID == "" {
		t.Fatalf("register: no client_id in %s", raw)
	}
	return &registered{
		ClientID:    out.ClientID,
		RedirectURI: redirect,
		Config: &oauth2.Config{
			ClientID:    out.ClientID,
			RedirectURL: redirect,
			Scopes:      []string{"openid", "profile", "email"},
			Endpoint: oauth2.Endpoint{
				AuthURL:   s.GW + "/api/v1/auth/authorize",
				TokenURL:  s.GW + "/api/v1/auth/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
	}
}

// browser is a cookie-keeping HTTP client that stops at every redirect, as a test drives the
// browser leg one hop at a time.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, readAll(b.t, resp.Body)
}

func (b *browser) postForm(u, origin string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, readAll(b.t, resp.Body)
}

var hiddenField = regexp.MustCompile(`name="(txn|csrf)" value="([^"]*)"`)

// consentForm extracts the hidden fields of the consent page.
func consentForm(t *testing.T, page string) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("txn") == "" || form.Get("csrf") == "" {
		t.Fatalf("no consent form in page:\n%s", page)
	}
	return form
}

// authorizeResult is where the browser leg ended: the client's redirect URI with its query.
type authorizeResult struct {
	Redirect *url.URL
	Code     string
	State    string
}

// authorize runs the browser leg: authorize, consent (approve), WorkOS sign-in as email,
// callback, and returns the redirect to the client.
func (s *stack) authorize(t *testing.T, b *browser, c *registered, authURL, email string) *authorizeResult {
	t.Helper()
	resp, body := b.get(authURL)
	var workosURL string
	switch resp.StatusCode {
	case http.StatusOK: // consent page
		form := consentForm(t, body)
		form.Set("decision", "approve")
		s.noteSecret(form.Get("txn"))
		resp, body = b.postForm(s.GW+"/api/v1/auth/authorize", s.GW, form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("consent approve: status %d, body %s", resp.StatusCode, body)
		}
		workosURL = resp.Header.Get("Location")
	case http.StatusFound: // consent remembered or disabled
		workosURL = resp.Header.Get("Location")
	default:
		t.Fatalf("authorize: status %d, body %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(workosURL, s.workosTS.URL+"/user_management/authorize?") {
		t.Fatalf("authorize did not lead to WorkOS: %q", workosURL)
	}
	resp, body = b.get(workosURL + "&login_hint=" + url.QueryEscape(email))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("WorkOS sign-in: status %d, body %s", resp.StatusCode, body)
	}
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, s.GW+"/api/v1/auth/callback?") {
		t.Fatalf("WorkOS did not redirect to our callback: %q", callback)
	}
	if u, err := url.Parse(callback); err == nil {
		s.noteSecret(u.Query().Get("code"))
		s.noteSecret(u.Query().Get("state"))
	}
	resp, body = b.get(callback)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: status %d, body %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), c.RedirectURI) {
		t.Fatalf("callback redirected to %q, want the client's %q", loc, c.RedirectURI)
	}
	q := loc.Query()
	s.noteSecret(q.Get("code"))
	return &authorizeResult{Redirect: loc, Code: q.Get("code"), State: q.Get("state")}
}

// login runs a full flow for a new client and returns the client and its first token.
func (s *stack) login(t *testing.T, email string) (*registered, *oauth2.Token) {
	t.Helper()
	c := s.register(t, "e2e client")
	verifier := oauth2.GenerateVerifier()
	state := "st-" + oauth2.GenerateVerifier()[:10]
	res := s.authorize(t, newBrowser(t), c, c.Config.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), email)
	if res.State != state {
		t.Fatalf("state = %q, want %q", res.State, state)
	}
	tok, err := c.Config.Exchange(ctxT(t), res.Code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	s.noteSecret(tok.AccessToken)
	s.noteSecret(tok.RefreshToken)
	return c, tok
}

// call sends a request to the gateway with an optional bearer token.
func (s *stack) call(t *testing.T, method, path, token string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.GW+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := readAll(t, resp.Body)
	var out map[string]any
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("%s %s: body is not JSON (%v): %s", method, path, err, raw)
		}
	}
	return resp, out
}

// postForm posts a form to a gateway path and decodes the JSON answer.
func (s *stack) postForm(t *testing.T, path string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.GW+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := readAll(t, resp.Body)
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("POST %s: body is not JSON: %s", path, raw)
	}
	return resp, out
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	if s, ok := cur.(string); ok {
		return s
	}
	if cur == nil {
		return ""
	}
	return fmt.Sprint(cur)
}
