package testkit

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// DefaultRedirect is the loopback redirect URI Register uses when given none.
const DefaultRedirect = "http://127.0.0.1:51004/callback"

// Client drives one gateway over HTTP. It does not follow redirects.
type Client struct {
	// Base is the gateway's base URL, which is also its issuer.
	Base string
	// WorkOS is the base URL of the WorkOS stand-in; when set, a flow checks that the
	// gateway sends the browser there to sign in.
	WorkOS string
	// Secrets receives every transaction id, code, state, verifier and token a flow sees;
	// nil notes nothing.
	Secrets *Secrets
}

// Do sends a request to path on the gateway with an optional body, Content-Type (empty for
// none) and extra headers.
func (c *Client) Do(tb testing.TB, method, path, contentType, body string, header http.Header) *Response {
	tb.Helper()
	req, err := http.NewRequest(method, c.Base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return RoundTrip(tb, NoRedirects(nil), req)
}

// PostForm posts form, URL-encoded, to path on the gateway.
func (c *Client) PostForm(tb testing.TB, path string, form url.Values) *Response {
	tb.Helper()
	return c.Do(tb, http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode(), nil)
}

// Call sends an API request to path: body, unless nil, as JSON, and token, unless empty, as
// a bearer token.
func (c *Client) Call(tb testing.TB, method, path, token string, body any) *Response {
	tb.Helper()
	var raw []byte
	contentType := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			tb.Fatal(err)
		}
		contentType = "application/json"
	}
	var header http.Header
	if token != "" {
		header = Bearer(token)
	}
	return c.Do(tb, method, path, contentType, string(raw), header)
}

// Registration is a public client registered at the gateway.
type Registration struct {
	ClientID    string
	RedirectURI string
	// Config is an x/oauth2 configuration for the client against the gateway (scopes openid,
	// profile and email; client_id in the request parameters).
	Config *oauth2.Config
}

// Register registers a public client named name with the single redirect URI redirect
// (DefaultRedirect when empty) and the authorization_code and refresh_token grants, and
// stops the test unless the gateway answers 201 with a client_id.
func (c *Client) Register(tb testing.TB, name, redirect string) *Registration {
	tb.Helper()
	if redirect == "" {
		redirect = DefaultRedirect
	}
	body, err := json.Marshal(map[string]any{
		"client_name":    name,
		"redirect_uris":  []string{redirect},
		"grant_types":    []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	resp := c.Do(tb, http.MethodPost, "/api/v1/auth/register", "application/json", string(body), nil)
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("register: status %d, body %s", resp.StatusCode, resp.Body)
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || out.ClientID == "" {
		tb.Fatalf("register: no client_id in %s", resp.Body)
	}
	return &Registration{
		ClientID:    out.ClientID,
		RedirectURI: redirect,
		Config:      c.OAuth2Config(out.ClientID, redirect),
	}
}

// OAuth2Config is the x/oauth2 configuration of a public client of the gateway: client_id
// in the request parameters, scopes openid, profile and email.
func (c *Client) OAuth2Config(clientID, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: redirect,
		Scopes:      []string{"openid", "profile", "email"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.Base + "/api/v1/auth/authorize",
			TokenURL:  c.Base + "/api/v1/auth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}
