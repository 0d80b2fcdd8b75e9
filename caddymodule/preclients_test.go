package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
)

// Pre-registered clients, confidential client authentication and registration modes, at the
// handler level. The secrets are hashed with bcrypt's minimum cost so the tests stay fast;
// the cost changes nothing the tests look at.

const (
	pcRedirect   = "http://127.0.0.1:51004/cb"
	pcBasicID    = "acme-cli"
	pcPostID     = "acme-post"
	pcPublicID   = "acme-public"
	pcSecret     = "s3cret-of-acme-cli-0123456789"
	pcPostSecret = "s3cret-of-acme-post-0123456789"
)

func bcryptHash(t testing.TB, secret string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// pcClients configures a confidential client of each method and a first-party public client
// that may not refresh.
func pcClients(t testing.TB) []*ClientConfig {
	return []*ClientConfig{
		{ClientID: pcBasicID, Name: "Acme CLI", RedirectURIs: []string{pcRedirect}, SecretHash: bcryptHash(t, pcSecret)},
		{ClientID: pcPostID, RedirectURIs: []string{pcRedirect}, SecretHash: bcryptHash(t, pcPostSecret),
			TokenEndpointAuthMethod: "client_secret_post"},
		{ClientID: pcPublicID, RedirectURIs: []string{pcRedirect}, Public: true, SkipConsent: true,
			GrantTypes: []string{"authorization_code"}},
	}
}

func newPreclientGateway(t *testing.T, configure func(*App)) *testGateway {
	t.Helper()
	g := newTestGateway(t, func(a *App) {
		a.Clients = pcClients(t)
		if configure != nil {
			configure(a)
		}
	})
	g.noteSecret(pcSecret)
	g.noteSecret(pcPostSecret)
	return g
}

// staticReg is a configured client as the flow driver sees it, with its secret sent the way
// style says.
func (g *testGateway) staticReg(id, secret string, style oauth2.AuthStyle) *testkit.Registration {
	cfg := g.kit.OAuth2Config(id, pcRedirect)
	cfg.ClientSecret = secret
	cfg.Endpoint.AuthStyle = style
	return &testkit.Registration{ClientID: id, RedirectURI: pcRedirect, Config: cfg}
}

func basicAuth(id, secret string) http.Header {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(raw))}}
}

// A confidential client does the whole flow with client_secret_basic through x/oauth2, calls
// the API, refreshes and revokes with its secret; its secret never reaches a log.
func TestPreclientConfidentialBasicFlow(t *testing.T) {
	g := newPreclientGateway(t, nil)
	reg := g.staticReg(pcBasicID, pcSecret, oauth2.AuthStyleInHeader)
	tok := g.kit.Login(t, reg, "ada@example.com")
	if resp := g.kit.Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("protected call with the confidential client's token: %d %s", resp.StatusCode, resp.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := reg.Config.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh with client_secret_basic: %v", err)
	}
	g.noteSecret(fresh.AccessToken)
	g.noteSecret(fresh.RefreshToken)
	if fresh.RefreshToken == tok.RefreshToken {
		t.Error("refresh returned the same refresh token")
	}
	// Revocation authenticates the same way: a wrong secret is refused, the right one ends it.
	form := url.Values{"token": {fresh.RefreshToken}}
	resp := g.do(t, http.MethodPost, "/api/v1/auth/revoke", "application/x-www-form-urlencoded", form.Encode(), basicAuth(pcBasicID, "wrong"))
	if resp.StatusCode != http.StatusUnauthorized || resp.JSON["error"] != "invalid_client" {
		t.Fatalf("revoke with a wrong secret: %d %s", resp.StatusCode, resp.Body)
	}
	resp = g.do(t, http.MethodPost, "/api/v1/auth/revoke", "application/x-www-form-urlencoded", form.Encode(), basicAuth(pcBasicID, pcSecret))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke with the right secret: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := g.kit.Call(t, http.MethodGet, "/api/v1/me", fresh.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token after revocation: %d, want 401", resp.StatusCode)
	}
}

// client_secret_post works for the client configured for it, through x/oauth2.
func TestPreclientConfidentialPostFlow(t *testing.T) {
	g := newPreclientGateway(t, nil)
	tok := g.kit.Login(t, g.staticReg(pcPostID, pcPostSecret, oauth2.AuthStyleInParams), "grace@example.com")
	if resp := g.kit.Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("protected call: %d %s", resp.StatusCode, resp.Body)
	}
}

// Every way a token request can fail to authenticate a client is 401 invalid_client (with a
// Basic challenge whenever a secret was involved), touches no record and calls nothing at
// WorkOS; the code they all carry is still redeemable afterwards.
func TestPreclientAuthenticationRefusals(t *testing.T) {
	g := newPreclientGateway(t, nil)
	dyn := g.register(t)
	f := g.kit.StartFlow(t, g.staticReg(pcBasicID, pcSecret, oauth2.AuthStyleInHeader), "linus@example.com")
	code := f.Code(t)
	base := f.TokenForm(code)
	base.Del("client_id")
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = slices.Clone(vs)
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	rows := []struct {
		name      string
		form      url.Values
		header    http.Header
		status    int
		code      string
		challenge bool
	}{
		{"wrong secret", with(), basicAuth(pcBasicID, "not-the-secret"), 401, "invalid_client", true},
		{"secret in the body of a basic client", with("client_id", pcBasicID, "client_secret", pcSecret), nil, 401, "invalid_client", true},
		{"no secret at all", with("client_id", pcBasicID), nil, 401, "invalid_client", true},
		{"Basic with an empty password", with(), basicAuth(pcBasicID, ""), 401, "invalid_client", true},
		{"Basic for a post client", with(), basicAuth(pcPostID, pcPostSecret), 401, "invalid_client", true},
		{"post client without its secret", with("client_id", pcPostID), nil, 401, "invalid_client", true},
		{"secret on a configured public client", with("client_id", pcPublicID, "client_secret", "x"), nil, 401, "invalid_client", false},
		{"secret in Basic on a configured public client", with(), basicAuth(pcPublicID, "x"), 401, "invalid_client", true},
		{"secret on a registered client", with("client_id", dyn.ClientID, "client_secret", "x"), nil, 401, "invalid_client", false},
		{"unknown client in Basic", with(), basicAuth("nobody", "x"), 401, "invalid_client", true},
		{"unknown client in the body", with("client_id", "nobody"), nil, 401, "invalid_client", false},
		{"malformed Basic", with(), http.Header{"Authorization": {"Basic !!!"}}, 401, "invalid_client", true},
		{"Basic without a colon", with(), http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(pcBasicID))}}, 401, "invalid_client", true},
		{"secret twice", with("client_secret", pcSecret), basicAuth(pcBasicID, pcSecret), 400, "invalid_request", false},
		{"client ids differ", with("client_id", pcPostID), basicAuth(pcBasicID, pcSecret), 400, "invalid_request", false},
		{"right secret, other client's code", with("client_secret", pcPostSecret, "client_id", pcPostID), nil, 400, "invalid_grant", false},
	}
	for _, row := range rows {
		before := g.snapshot(t)
		resp := g.do(t, http.MethodPost, tokenPath, "application/x-www-form-urlencoded", row.form.Encode(), row.header)
		wantOAuthError(t, row.name, resp, row.status, row.code)
		g.assertInvariants(t, before, resp, changes())
		challenge := resp.Header.Get("WWW-Authenticate")
		if row.challenge != (challenge == `Basic realm="drio"`) {
			t.Errorf("%s: WWW-Authenticate %q, want a Basic challenge: %v", row.name, challenge, row.challenge)
		}
	}
	resp := g.do(t, http.MethodPost, tokenPath, "application/x-www-form-urlencoded", base.Encode(), basicAuth(pcBasicID, pcSecret))
	wantTokens(t, g, "the right secret after the refusals", resp)
}

// A verified secret is remembered per client: a second request with it is served without
// bcrypt, and a wrong secret is still refused after a right one was remembered.
func TestPreclientSecretCacheKeepsRefusing(t *testing.T) {
	g := newPreclientGateway(t, nil)
	for i, c := range []struct {
		secret string
		want   int
	}{{pcSecret, 400}, {pcSecret, 400}, {pcSecret + "x", 401}, {"", 401}, {pcSecret, 400}} {
		// An unknown code: authentication passes (400 invalid_grant) or fails (401).
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "code_verifier": {strings.Repeat("a", 43)}}
		resp := g.do(t, http.MethodPost, tokenPath, "application/x-www-form-urlencoded", form.Encode(), basicAuth(pcBasicID, c.secret))
		if resp.StatusCode != c.want {
			t.Errorf("request %d: %d %s, want %d", i, resp.StatusCode, resp.Body, c.want)
		}
	}
}

// skip_consent sends a configured client's user straight to WorkOS; another configured
// client still gets the consent page.
func TestPreclientSkipConsent(t *testing.T) {
	g := newPreclientGateway(t, nil)
	for _, c := range []struct {
		id     string
		status int
	}{{pcPublicID, http.StatusFound}, {pcBasicID, http.StatusOK}} {
		q := url.Values{"client_id": {c.id}, "redirect_uri": {pcRedirect}, "response_type": {"code"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		resp := testkit.NewBrowser().Get(t, g.URL+authorizePath+"?"+q.Encode())
		if resp.StatusCode != c.status {
			t.Errorf("%s: authorize answered %d, want %d", c.id, resp.StatusCode, c.status)
		}
		if c.status == http.StatusFound && !strings.HasPrefix(resp.Header.Get("Location"), g.kit.WorkOS+"/") {
			t.Errorf("%s: redirected to %q, want the WorkOS sign-in", c.id, resp.Header.Get("Location"))
		}
	}
	// The public client signs in without a secret.
	tok := g.kit.Login(t, g.staticReg(pcPublicID, "", oauth2.AuthStyleInParams), "ada@example.com")
	if tok.AccessToken == "" {
		t.Fatal("no access token for the public configured client")
	}
}

// A configured client's grant_types are enforced: one without refresh_token cannot refresh.
func TestPreclientGrantTypes(t *testing.T) {
	g := newPreclientGateway(t, nil)
	tok := g.kit.Login(t, g.staticReg(pcPublicID, "", oauth2.AuthStyleInParams), "grace@example.com")
	g.refuse(t, "refresh by a client without the grant", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tok.RefreshToken}, "client_id": {pcPublicID}}, http.StatusBadRequest, "unauthorized_client")
}

// A redirect URI the configured client does not have is refused on a local page.
func TestPreclientRedirectMismatch(t *testing.T) {
	g := newPreclientGateway(t, nil)
	q := url.Values{"client_id": {pcBasicID}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	resp := testkit.NewBrowser().Get(t, g.URL+authorizePath+"?"+q.Encode())
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("unregistered redirect: %d Location %q, want a local 400", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// registration off (and client metadata documents off): /register is refused, the metadata
// does not advertise it and names only the methods the configured clients use, and a client registered earlier (still in the
// store) is refused at authorize and at the token endpoint.
func TestPreclientRegistrationOff(t *testing.T) {
	g := newTestGateway(t, func(a *App) {
		a.Clients = pcClients(t)[:1]
		a.Registration = &RegistrationConfig{Mode: "off"}
		a.ClientMetadataDocuments = &ClientDocumentsConfig{Disabled: true}
	})
	resp := g.do(t, http.MethodPost, "/api/v1/auth/register", "application/json", `{"redirect_uris":["`+pcRedirect+`"]}`, nil)
	if resp.StatusCode != http.StatusForbidden || resp.JSON["error"] != "access_denied" {
		t.Errorf("register with registration off: %d %s, want 403 access_denied", resp.StatusCode, resp.Body)
	}
	meta := g.do(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", "", nil).Object(t)
	if _, ok := meta["registration_endpoint"]; ok {
		t.Error("registration_endpoint is advertised with registration off")
	}
	for _, field := range []string{"token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
		if got := dacStrings(meta[field]); !slices.Equal(got, []string{"client_secret_basic"}) {
			t.Errorf("%s = %v, want [client_secret_basic]", field, got)
		}
	}
	old := &grants.Client{ID: "drio_registeredbefore", RedirectURIs: []string{pcRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, IssuedAt: time.Now().Unix(), GrantTypesEnforced: true}
	if err := g.grants().Clients.Put(context.Background(), old, time.Hour); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {old.ID}, "redirect_uri": {pcRedirect}, "response_type": {"code"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	if resp := testkit.NewBrowser().Get(t, g.URL+authorizePath+"?"+q.Encode()); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("authorize by a registered client with registration off: %d, want a local 400", resp.StatusCode)
	}
	g.refuse(t, "token by a registered client with registration off", url.Values{"grant_type": {"authorization_code"},
		"code": {"x"}, "code_verifier": {strings.Repeat("a", 43)}, "client_id": {old.ID}}, http.StatusUnauthorized, "invalid_client")
	// The configured client still signs in.
	g.noteSecret(pcSecret)
	g.kit.Login(t, g.staticReg(pcBasicID, pcSecret, oauth2.AuthStyleInHeader), "linus@example.com")
}

// With an initial access token configured, registration needs it as a bearer token.
func TestPreclientInitialAccessToken(t *testing.T) {
	const token = "iat-0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	g := newTestGateway(t, func(a *App) {
		a.Registration = &RegistrationConfig{InitialAccessTokenSHA256: hex.EncodeToString(sum[:])}
	})
	g.noteSecret(token)
	body := `{"redirect_uris":["` + pcRedirect + `"]}`
	for _, c := range []struct {
		name, authz, challenge string
		status                 int
	}{
		{"missing", "", `Bearer realm="drio registration"`, 401},
		{"wrong", "Bearer wrong-token", `Bearer realm="drio registration", error="invalid_token"`, 401},
		{"wrong scheme", "Basic " + token, `Bearer realm="drio registration", error="invalid_token"`, 401},
		{"right", "Bearer " + token, "", 201},
	} {
		var h http.Header
		if c.authz != "" {
			h = http.Header{"Authorization": {c.authz}}
		}
		before := g.count(store.KindClient)
		resp := g.do(t, http.MethodPost, "/api/v1/auth/register", "application/json", body, h)
		if resp.StatusCode != c.status || resp.Header.Get("WWW-Authenticate") != c.challenge {
			t.Errorf("%s: %d WWW-Authenticate %q, want %d %q", c.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), c.status, c.challenge)
		}
		if c.status == 401 && resp.JSON["error"] != "invalid_token" {
			t.Errorf("%s: error %v, want invalid_token", c.name, resp.JSON["error"])
		}
		if grew := g.count(store.KindClient) - before; grew != map[bool]int{true: 1, false: 0}[c.status == 201] {
			t.Errorf("%s: %d clients stored", c.name, grew)
		}
	}
	meta := g.do(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", "", nil).Object(t)
	if meta["registration_endpoint"] == nil {
		t.Error("registration_endpoint is not advertised while registration is open with a token")
	}
}

// The advertised client authentication methods follow the configuration.
func TestPreclientDiscoveryAuthMethods(t *testing.T) {
	for _, c := range []struct {
		name      string
		configure func(*App)
		want      []string
	}{
		{"open, no clients", nil, []string{"none"}},
		{"open with both confidential kinds", func(a *App) { a.Clients = pcClients(t)[:2] }, []string{"none", "client_secret_basic", "client_secret_post"}},
		{"off with a public client", func(a *App) {
			a.Clients = pcClients(t)[2:]
			a.Registration = &RegistrationConfig{Mode: "off"}
		}, []string{"none"}},
		{"off with a post client", func(a *App) {
			a.Clients = pcClients(t)[1:2]
			a.Registration = &RegistrationConfig{Mode: "off"}
			a.ClientMetadataDocuments = &ClientDocumentsConfig{Disabled: true}
		}, []string{"client_secret_post"}},
		{"off with a post client, metadata documents on", func(a *App) {
			a.Clients = pcClients(t)[1:2]
			a.Registration = &RegistrationConfig{Mode: "off"}
		}, []string{"none", "client_secret_post"}},
	} {
		g := newGateway(t, gatewayOptions{configure: c.configure, noWait: true})
		meta := g.do(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", "", nil).Object(t)
		if got := dacStrings(meta["token_endpoint_auth_methods_supported"]); !slices.Equal(got, c.want) {
			t.Errorf("%s: token_endpoint_auth_methods_supported = %v, want %v", c.name, got, c.want)
		}
		// The revocation endpoint authenticates exactly as the token endpoint; registration and
		// metadata documents are advertised exactly when they are accepted.
		if got := dacStrings(meta["revocation_endpoint_auth_methods_supported"]); !slices.Equal(got, c.want) {
			t.Errorf("%s: revocation_endpoint_auth_methods_supported = %v, want %v", c.name, got, c.want)
		}
		if _, ok := meta["registration_endpoint"]; ok != (g.App.Registration.Mode == "open") {
			t.Errorf("%s: registration_endpoint advertised = %v with registration %s", c.name, ok, g.App.Registration.Mode)
		}
		if got, want := meta["client_id_metadata_document_supported"] == true, !g.App.ClientMetadataDocuments.Disabled; got != want {
			t.Errorf("%s: client_id_metadata_document_supported = %v, want %v", c.name, got, want)
		}
		if got := dacStrings(meta["introspection_endpoint_auth_methods_supported"]); !slices.Equal(got, []string{"bearer"}) {
			t.Errorf("%s: introspection_endpoint_auth_methods_supported = %v, want [bearer]", c.name, got)
		}
	}
}
