package tests

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// A real Caddy with a Caddyfile `client` block, `registration off` and client metadata
// documents off, so that client is the only one: it signs in with client_secret_basic through
// golang.org/x/oauth2 and calls the API, while registration is refused and not advertised.
func TestPreregisteredClientWithRegistrationOff(t *testing.T) {
	const (
		clientID = "acme-cli"
		secret   = "e2e-acme-secret-0123456789abcdef"
		redirect = "http://127.0.0.1:51004/cb"
	)
	hash, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost) // what `caddy hash-password` prints, cheaper
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{DrioExtra: `registration off
		client_metadata_documents off
		client ` + clientID + ` {
			name "Acme CLI"
			redirect_uri ` + redirect + `
			secret_hash ` + string(hash) + `
		}`})
	s.noteSecret(secret)

	cfg := s.kit.OAuth2Config(clientID, redirect)
	cfg.ClientSecret = secret
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	tok := s.kit.Login(t, &testkit.Registration{ClientID: clientID, RedirectURI: redirect, Config: cfg}, "ada@example.com")
	if resp, body := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("protected call with the configured client's token: %d %v", resp.StatusCode, body)
	}

	// Without its secret the same client gets nothing.
	cfg.ClientSecret = "wrong"
	f := s.kit.StartFlow(t, &testkit.Registration{ClientID: clientID, RedirectURI: redirect, Config: cfg}, "ada@example.com")
	form := f.TokenForm(f.Code(t))
	form.Del("client_id")
	header := http.Header{"Authorization": {"Basic " + basic(clientID, "wrong")}}
	resp := s.kit.Do(t, http.MethodPost, "/api/v1/auth/token", "application/x-www-form-urlencoded", form.Encode(), header)
	if resp.StatusCode != http.StatusUnauthorized || resp.JSON["error"] != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("token with a wrong secret: %d %s (WWW-Authenticate %q), want 401 invalid_client with a challenge",
			resp.StatusCode, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}

	resp = s.kit.Do(t, http.MethodPost, "/api/v1/auth/register", "application/json", `{"redirect_uris":["`+redirect+`"]}`, nil)
	if resp.StatusCode != http.StatusForbidden || resp.JSON["error"] != "access_denied" {
		t.Errorf("register with registration off: %d %s, want 403 access_denied", resp.StatusCode, resp.Body)
	}
	_, meta := s.call(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil)
	if _, ok := meta["registration_endpoint"]; ok {
		t.Error("registration_endpoint is advertised with registration off")
	}
	if got := str(meta, "token_endpoint_auth_methods_supported"); got != "[client_secret_basic]" {
		t.Errorf("token_endpoint_auth_methods_supported = %s, want [client_secret_basic]", got)
	}
	if _, ok := meta["client_id_metadata_document_supported"]; ok {
		t.Error("client_id_metadata_document_supported is advertised with client_metadata_documents off")
	}
}

// basic is the HTTP Basic credential of RFC 6749 §2.3.1: id and secret form-urlencoded.
func basic(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}
