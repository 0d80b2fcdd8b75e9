package testkit

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Flow is one browser's way through the gateway's authorization flow: authorize, consent,
// sign-in at the WorkOS stand-in, then (not yet visited) the gateway's callback.
type Flow struct {
	// Client is the gateway the flow runs against; its Secrets receive what the flow sees.
	Client *Client
	// Reg is the client the flow authorizes.
	Reg *Registration
	// Browser carries the flow's cookies; later steps must use it.
	Browser *Browser
	// Verifier is the PKCE code verifier of the authorization request.
	Verifier string
	// State is the client's state in the authorization request ("" for none).
	State string
	// CallbackURL is the gateway's callback URL with the WorkOS code and the gateway's own
	// state, where the WorkOS stand-in sent the browser; Callback visits it.
	CallbackURL string
}

// StartFlow builds an authorization request for reg with a fresh PKCE verifier, a random
// state and opts (for example a resource parameter), and runs it with StartFlowAt.
func (c *Client) StartFlow(tb testing.TB, reg *Registration, email string, opts ...oauth2.AuthCodeOption) *Flow {
	tb.Helper()
	verifier := oauth2.GenerateVerifier()
	state := "st-" + oauth2.GenerateVerifier()[:10]
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, opts...)
	return c.StartFlowAt(tb, reg, reg.Config.AuthCodeURL(state, opts...), verifier, email)
}

// StartFlowAt navigates a new browser to authURL, approves the consent page (if the gateway
// shows one) as a same-origin page, signs in at the WorkOS stand-in as email, and stops
// before the callback. verifier is the PKCE verifier whose challenge authURL carries. It
// stops the test if any hop answers otherwise.
func (c *Client) StartFlowAt(tb testing.TB, reg *Registration, authURL, verifier, email string) *Flow {
	tb.Helper()
	f, workosURL := c.AuthorizeAt(tb, reg, authURL, verifier)
	f.SignIn(tb, workosURL, email)
	return f
}

// AuthorizeAt is StartFlowAt's first half: it navigates a new browser to authURL, approves
// the consent page if there is one, and returns the flow with the WorkOS sign-in URL the
// gateway sent the browser to, not yet visited (a test may rewrite it first, as the user's
// browser could).
func (c *Client) AuthorizeAt(tb testing.TB, reg *Registration, authURL, verifier string) (*Flow, string) {
	tb.Helper()
	f := &Flow{Client: c, Reg: reg, Browser: NewBrowser(), Verifier: verifier}
	if u, err := url.Parse(authURL); err == nil {
		f.State = u.Query().Get("state")
	}
	c.Secrets.Note(verifier)
	b := f.Browser
	resp := b.Get(tb, authURL)
	var workosURL string
	switch resp.StatusCode {
	case http.StatusOK: // the consent page
		form := ConsentFields(resp.Body)
		if form.Get("txn") == "" || form.Get("csrf") == "" {
			tb.Fatalf("authorize: no consent form in the page:\n%s", resp.Body)
		}
		c.Secrets.Note(form.Get("txn"))
		form.Set("decision", "approve")
		resp = b.PostForm(tb, c.Base+"/api/v1/auth/authorize", c.Base, form)
		if resp.StatusCode != http.StatusSeeOther {
			tb.Fatalf("consent approve: status %d, body %s", resp.StatusCode, resp.Body)
		}
		workosURL = resp.Header.Get("Location")
	case http.StatusFound: // consent remembered or disabled
		workosURL = resp.Header.Get("Location")
	default:
		tb.Fatalf("authorize: status %d, Location %q, body %s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
	signIn, err := url.Parse(workosURL)
	if err != nil || signIn.Path != "/user_management/authorize" || (c.WorkOS != "" && !strings.HasPrefix(workosURL, c.WorkOS+"/")) {
		tb.Fatalf("authorize did not lead to the WorkOS stand-in's sign-in: %q", workosURL)
	}
	c.Secrets.Note(signIn.Query().Get("state"))
	return f, workosURL
}

// SignIn is StartFlowAt's second half: it signs in at the WorkOS stand-in's workosURL as
// email in the flow's browser and keeps the callback URL WorkOS redirects to, not yet visited.
func (f *Flow) SignIn(tb testing.TB, workosURL, email string) {
	tb.Helper()
	c := f.Client
	resp := f.Browser.Get(tb, workosURL+"&login_hint="+url.QueryEscape(email))
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("WorkOS sign-in: status %d, body %s", resp.StatusCode, resp.Body)
	}
	f.CallbackURL = resp.Header.Get("Location")
	if !strings.HasPrefix(f.CallbackURL, c.Base+"/api/v1/auth/callback?") {
		tb.Fatalf("WorkOS did not redirect to the gateway's callback: %q", f.CallbackURL)
	}
	if u, err := url.Parse(f.CallbackURL); err == nil {
		c.Secrets.Note(u.Query().Get("code"))
		c.Secrets.Note(u.Query().Get("state"))
	}
}

// Callback visits the flow's callback URL in the flow's browser and returns the answer,
// whatever it is.
func (f *Flow) Callback(tb testing.TB) *Response {
	tb.Helper()
	return f.Browser.Get(tb, f.CallbackURL)
}

// Redirect visits the callback and returns where the gateway sent the browser: the client's
// redirect URI with the bridge code, the client's state and iss. It stops the test unless
// the answer is a 302 to the client's redirect URI carrying the flow's state (when it has
// one), and notes the code.
func (f *Flow) Redirect(tb testing.TB) *url.URL {
	tb.Helper()
	resp := f.Callback(tb)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		tb.Fatalf("callback: status %d, Location %q, body %s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
	if f.Reg != nil && !strings.HasPrefix(loc.String(), f.Reg.RedirectURI) {
		tb.Fatalf("callback redirected to %q, want the client's %q", loc, f.Reg.RedirectURI)
	}
	q := loc.Query()
	f.Client.Secrets.Note(q.Get("code"))
	if f.State != "" && q.Get("state") != f.State {
		tb.Fatalf("state at the client's redirect = %q, want %q", q.Get("state"), f.State)
	}
	return loc
}

// Code visits the callback and returns the bridge code the gateway sent to the client,
// stopping the test if there is none.
func (f *Flow) Code(tb testing.TB) string {
	tb.Helper()
	loc := f.Redirect(tb)
	code := loc.Query().Get("code")
	if code == "" {
		tb.Fatalf("callback: no code at the client's redirect %q", loc)
	}
	return code
}

// TokenForm is the token request that redeems code with the flow's verifier, for a test that
// posts it itself (Client.PostForm) or changes it first.
func (f *Flow) TokenForm(code string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"code_verifier": {f.Verifier},
		"client_id":     {f.Reg.ClientID},
		"redirect_uri":  {f.Reg.RedirectURI},
	}
}

// Exchange redeems code with the flow's verifier and opts through x/oauth2, notes the
// tokens, and stops the test if the gateway refuses.
func (f *Flow) Exchange(tb testing.TB, code string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts = append([]oauth2.AuthCodeOption{oauth2.VerifierOption(f.Verifier)}, opts...)
	tok, err := f.Reg.Config.Exchange(ctx, code, opts...)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			tb.Fatalf("token exchange: %s %s: %s", re.ErrorCode, re.ErrorDescription, re.Body)
		}
		tb.Fatalf("token exchange: %v", err)
	}
	f.Client.Secrets.Note(tok.AccessToken)
	f.Client.Secrets.Note(tok.RefreshToken)
	return tok
}

// Login runs a whole flow for reg, signed in as email, and returns the token answer.
func (c *Client) Login(tb testing.TB, reg *Registration, email string) *oauth2.Token {
	tb.Helper()
	f := c.StartFlow(tb, reg, email)
	return f.Exchange(tb, f.Code(tb))
}
