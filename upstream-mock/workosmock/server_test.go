package workosmock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/workos_errors"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testClientID = "client_01TESTCLIENT"
	testAPIKey   = "sk_test_secret"
	testRedirect = "http://127.0.0.1:8080/callback"
)

// fakeClock is an injectable, advanceable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t      *testing.T
	mock   *workosmock.Server
	ts     *httptest.Server
	sdk    *usermanagement.Client
	http   *http.Client // follows no redirects
	clock  *fakeClock
	closed bool
}

func newFixture(t *testing.T, mutate func(*workosmock.Config)) *fixture {
	t.Helper()
	clock := &fakeClock{t: time.Now().Truncate(time.Second)}
	cfg := workosmock.Config{ClientID: testClientID, APIKey: testAPIKey, Now: clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	mock, err := workosmock.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(mock)
	mock.SetBaseURL(ts.URL)
	tr := &http.Transport{}
	sdk := usermanagement.NewClient(testAPIKey)
	sdk.Endpoint = ts.URL
	sdk.HTTPClient = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	f := &fixture{
		t: t, mock: mock, ts: ts, sdk: sdk, clock: clock,
		http: &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	t.Cleanup(func() {
		mock.Close() // first: releases hung handlers so ts.Close can return
		ts.Close()
		tr.CloseIdleConnections()
	})
	return f
}

// authorizeURL builds the authorize URL with the real SDK.
func (f *fixture) authorizeURL(loginHint, state, challenge string) string {
	f.t.Helper()
	opts := usermanagement.GetAuthorizationURLOpts{
		ClientID:    testClientID,
		RedirectURI: testRedirect,
		Provider:    "authkit",
		State:       state,
		LoginHint:   loginHint,
	}
	if challenge != "" {
		opts.CodeChallenge = challenge
		opts.CodeChallengeMethod = "S256"
	}
	u, err := f.sdk.GetAuthorizationURL(opts)
	if err != nil {
		f.t.Fatalf("GetAuthorizationURL: %v", err)
	}
	return u.String()
}

// code runs the authorize step for email and returns the code.
func (f *fixture) code(email, challenge string) string {
	f.t.Helper()
	res, err := f.http.Get(f.authorizeURL(email, "st-123", challenge))
	if err != nil {
		f.t.Fatalf("GET authorize: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		f.t.Fatalf("authorize status = %d, want 302", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		f.t.Fatalf("bad Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		f.t.Fatalf("redirected to %q, want %q", got, testRedirect)
	}
	if loc.Query().Get("state") != "st-123" {
		f.t.Fatalf("state = %q", loc.Query().Get("state"))
	}
	c := loc.Query().Get("code")
	if len(c) < 40 {
		f.t.Fatalf("code %q too short", c)
	}
	return c
}

// signIn does a full PKCE flow for email and returns the response.
func (f *fixture) signIn(email string) usermanagement.AuthenticateResponse {
	f.t.Helper()
	verifier := oauth2.GenerateVerifier()
	code := f.code(email, oauth2.S256ChallengeFromVerifier(verifier))
	resp, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: testClientID, Code: code, CodeVerifier: verifier,
	})
	if err != nil {
		f.t.Fatalf("AuthenticateWithCode: %v", err)
	}
	return resp
}

func (f *fixture) refresh(rt string) (usermanagement.RefreshAuthenticationResponse, error) {
	return f.sdk.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: testClientID, RefreshToken: rt,
	})
}

func (f *fixture) keySet() jwk.Set {
	f.t.Helper()
	res, err := f.http.Get(f.ts.URL + "/sso/jwks/" + testClientID)
	if err != nil {
		f.t.Fatalf("GET jwks: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		f.t.Fatalf("jwks status %d: %s", res.StatusCode, b)
	}
	set, err := jwk.Parse(b)
	if err != nil {
		f.t.Fatalf("parse jwks: %v", err)
	}
	return set
}

// wantHTTPError asserts err is a workos_errors.HTTPError (by value) with
// the given status and error code.
func wantHTTPError(t *testing.T, err error, status int, code string) workos_errors.HTTPError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %d %s, got success", status, code)
	}
	var he workos_errors.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %T %v is not a workos_errors.HTTPError", err, err)
	}
	if he.Code != status || he.ErrorCode != code {
		t.Fatalf("got status %d code %q (%v), want %d %q", he.Code, he.ErrorCode, err, status, code)
	}
	if he.RequestID == "" {
		t.Fatalf("error has no request id: %v", err)
	}
	return he
}

func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatalf("parse jws: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(msg.Payload(), &c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return c
}

func TestNewRequiresClientID(t *testing.T) {
	if _, err := workosmock.New(workosmock.Config{}); err == nil {
		t.Fatal("New without a client id succeeded")
	}
}

func TestDemoUsers(t *testing.T) {
	users := workosmock.DemoUsers()
	if len(users) < 3 {
		t.Fatalf("got %d demo users", len(users))
	}
	byEmail := map[string]workosmock.User{}
	for _, u := range users {
		byEmail[u.Email] = u
	}
	ada, grace, linus := byEmail["ada@example.com"], byEmail["grace@example.com"], byEmail["linus@example.com"]
	if ada.OrganizationID == "" || ada.Role != "admin" || strings.Join(ada.Permissions, ",") != "apps:read,apps:write" {
		t.Errorf("ada = %+v", ada)
	}
	if grace.Role != "member" || strings.Join(grace.Permissions, ",") != "apps:read" {
		t.Errorf("grace = %+v", grace)
	}
	if linus.ID == "" || linus.OrganizationID != "" {
		t.Errorf("linus = %+v", linus)
	}
}

func TestCodeFlowWithPKCE(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.signIn("ada@example.com")
	if resp.User.Email != "ada@example.com" || resp.User.FirstName != "Ada" || resp.User.ID != workosmock.DemoAdaID {
		t.Errorf("user = %+v", resp.User)
	}
	if !resp.User.EmailVerified || resp.User.CreatedAt == "" {
		t.Errorf("user = %+v", resp.User)
	}
	if resp.OrganizationID != workosmock.DemoOrgID {
		t.Errorf("organization_id = %q", resp.OrganizationID)
	}
	if resp.AuthenticationMethod != usermanagement.Password {
		t.Errorf("authentication_method = %q", resp.AuthenticationMethod)
	}
	if len(resp.RefreshToken) < 40 || strings.Count(resp.AccessToken, ".") != 2 {
		t.Errorf("tokens = %q / %q", resp.AccessToken, resp.RefreshToken)
	}
	if f.mock.Hits(workosmock.EndpointAuthenticateCode) != 1 || f.mock.Hits(workosmock.EndpointAuthorize) != 1 {
		t.Errorf("hits code=%d authorize=%d", f.mock.Hits(workosmock.EndpointAuthenticateCode), f.mock.Hits(workosmock.EndpointAuthorize))
	}
}

func TestAuthenticateRawBody(t *testing.T) {
	f := newFixture(t, nil)
	code := f.code("linus@example.com", "")
	body := `{"client_id":"` + testClientID + `","code":"` + code + `","client_secret":"` + testAPIKey + `","grant_type":"authorization_code"}`
	res, err := f.http.Post(f.ts.URL+"/user_management/authenticate", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %v", res.StatusCode, got)
	}
	if v, ok := got["organization_id"]; !ok || v != nil {
		t.Errorf("organization_id = %v (present %v), want null", v, ok)
	}
	user := got["user"].(map[string]any)
	for _, k := range []string{"object", "id", "email", "first_name", "last_name", "email_verified", "profile_picture_url", "created_at", "updated_at", "metadata"} {
		if _, ok := user[k]; !ok {
			t.Errorf("user lacks %q", k)
		}
	}
	if user["object"] != "user" {
		t.Errorf("object = %v", user["object"])
	}
	c := claimsOf(t, got["access_token"].(string))
	for _, k := range []string{"org_id", "role", "permissions", "aud"} {
		if _, ok := c[k]; ok {
			t.Errorf("token of a user without org has %q", k)
		}
	}
}

func TestWrongVerifier(t *testing.T) {
	f := newFixture(t, nil)
	verifier := oauth2.GenerateVerifier()
	code := f.code("ada@example.com", oauth2.S256ChallengeFromVerifier(verifier))
	_, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: testClientID, Code: code, CodeVerifier: oauth2.GenerateVerifier(),
	})
	he := wantHTTPError(t, err, 400, "invalid_grant")
	if !strings.Contains(he.Message, "has expired or is invalid") {
		t.Errorf("message = %q", he.Message)
	}
}

func TestMissingVerifier(t *testing.T) {
	f := newFixture(t, nil)
	verifier := oauth2.GenerateVerifier()
	code := f.code("ada@example.com", oauth2.S256ChallengeFromVerifier(verifier))
	_, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code})
	he := wantHTTPError(t, err, 400, "invalid_request")
	if he.Message != "invalid_request code_verifier is required." {
		t.Errorf("message = %q", he.Message)
	}
	// The code survives a missing verifier.
	if _, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: testClientID, Code: code, CodeVerifier: verifier,
	}); err != nil {
		t.Fatalf("retry with verifier: %v", err)
	}
}

func TestCodeSingleUseAndExpiry(t *testing.T) {
	f := newFixture(t, nil)
	code := f.code("grace@example.com", "")
	opts := usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code}
	if _, err := f.sdk.AuthenticateWithCode(context.Background(), opts); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := f.sdk.AuthenticateWithCode(context.Background(), opts)
	he := wantHTTPError(t, err, 400, "invalid_grant")
	if he.Message != "invalid_grant The code '"+code+"' has expired or is invalid." {
		t.Errorf("message = %q", he.Message)
	}

	code = f.code("grace@example.com", "")
	f.clock.Advance(10*time.Minute + time.Second)
	_, err = f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code})
	wantHTTPError(t, err, 400, "invalid_grant")
}

func TestClientAuthentication(t *testing.T) {
	f := newFixture(t, nil)
	code := f.code("ada@example.com", "")
	bad := usermanagement.NewClient("sk_wrong")
	bad.Endpoint = f.ts.URL
	bad.HTTPClient = f.sdk.HTTPClient
	_, err := bad.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code})
	he := wantHTTPError(t, err, 400, "invalid_client")
	if he.Message != "invalid_client Invalid client secret." {
		t.Errorf("message = %q", he.Message)
	}
	_, err = f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: "client_other", Code: code})
	wantHTTPError(t, err, 400, "invalid_client")
}

func postForm(t *testing.T, f *fixture, path string, v url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	res, err := f.http.PostForm(f.ts.URL+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body, res.Header
}

func TestAuthenticateFormAndGrantErrors(t *testing.T) {
	f := newFixture(t, nil)
	code := f.code("ada@example.com", "")
	st, body, _ := postForm(t, f, "/user_management/authenticate", url.Values{
		"client_id": {testClientID}, "client_secret": {testAPIKey}, "grant_type": {"authorization_code"}, "code": {code},
	})
	if st != 200 || body["access_token"] == nil {
		t.Fatalf("form code grant: %d %v", st, body)
	}
	cases := []struct {
		name   string
		v      url.Values
		status int
		code   string
	}{
		{"missing grant_type", url.Values{"client_id": {testClientID}, "client_secret": {testAPIKey}}, 400, "invalid_request"},
		{"unsupported grant", url.Values{"client_id": {testClientID}, "client_secret": {testAPIKey}, "grant_type": {"password"}}, 400, "invalid_request"},
		{"missing refresh token", url.Values{"client_id": {testClientID}, "client_secret": {testAPIKey}, "grant_type": {"refresh_token"}}, 400, "invalid_request"},
		{"unknown refresh token", url.Values{"client_id": {testClientID}, "client_secret": {testAPIKey}, "grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, 400, "invalid_grant"},
	}
	for _, c := range cases {
		st, body, h := postForm(t, f, "/user_management/authenticate", c.v)
		if st != c.status || body["error"] != c.code {
			t.Errorf("%s: %d %v", c.name, st, body)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") || h.Get("X-Request-ID") == "" {
			t.Errorf("%s: headers %v", c.name, h)
		}
	}
	res, err := f.http.Post(f.ts.URL+"/user_management/authenticate", "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("malformed JSON: %d", res.StatusCode)
	}
}

func TestRefreshRotationAndGrace(t *testing.T) {
	f := newFixture(t, nil)
	first := f.signIn("ada@example.com")
	sid := claimsOf(t, first.AccessToken)["sid"].(string)
	if !strings.HasPrefix(sid, "session_") {
		t.Fatalf("sid = %q", sid)
	}

	f.clock.Advance(time.Minute)
	second, err := f.refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	c := claimsOf(t, second.AccessToken)
	if c["sid"] != sid || c["org_id"] != workosmock.DemoOrgID || c["role"] != "admin" {
		t.Errorf("claims after refresh = %v", c)
	}
	if c["jti"] == claimsOf(t, first.AccessToken)["jti"] {
		t.Error("jti reused")
	}

	// Replay within the grace window: the same pair.
	f.clock.Advance(10 * time.Second)
	replay, err := f.refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("grace replay: %v", err)
	}
	if replay != second {
		t.Errorf("grace replay returned a different pair")
	}

	// After the grace window: invalid_grant.
	f.clock.Advance(21 * time.Second)
	_, err = f.refresh(first.RefreshToken)
	he := wantHTTPError(t, err, 400, "invalid_grant")
	if he.Message != "invalid_grant Invalid refresh token." {
		t.Errorf("message = %q", he.Message)
	}

	// The rotated token still works, once more.
	third, err := f.refresh(second.RefreshToken)
	if err != nil {
		t.Fatalf("refresh rotated token: %v", err)
	}
	if claimsOf(t, third.AccessToken)["sid"] != sid {
		t.Error("sid changed")
	}
	if f.mock.Hits(workosmock.EndpointAuthenticateRefresh) != 4 {
		t.Errorf("refresh hits = %d", f.mock.Hits(workosmock.EndpointAuthenticateRefresh))
	}
}

func TestRefreshOrganizationSwitch(t *testing.T) {
	f := newFixture(t, nil)
	first := f.signIn("ada@example.com")
	_, err := f.sdk.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: testClientID, RefreshToken: first.RefreshToken, OrganizationID: "org_other",
	})
	wantHTTPError(t, err, 400, "invalid_request")
	got, err := f.sdk.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: testClientID, RefreshToken: first.RefreshToken, OrganizationID: workosmock.DemoOrgID,
	})
	if err != nil || claimsOf(t, got.AccessToken)["org_id"] != workosmock.DemoOrgID {
		t.Fatalf("switch to own org: %v", err)
	}
}

func TestRevokeSession(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.signIn("grace@example.com")
	sid := claimsOf(t, resp.AccessToken)["sid"].(string)
	if f.mock.SessionRevoked(sid) {
		t.Fatal("revoked before revoke")
	}

	bad := usermanagement.NewClient("sk_wrong")
	bad.Endpoint = f.ts.URL
	bad.HTTPClient = f.sdk.HTTPClient
	wantHTTPError(t, bad.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: sid}), 401, "unauthorized")
	wantHTTPError(t, f.sdk.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: "session_unknown"}), 404, "not_found")
	wantHTTPError(t, f.sdk.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{}), 400, "invalid_request")

	if err := f.sdk.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: sid}); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if !f.mock.SessionRevoked(sid) || len(f.mock.RevokedSessions()) != 1 || f.mock.RevokedSessions()[0] != sid {
		t.Errorf("revoked = %v", f.mock.RevokedSessions())
	}
	_, err := f.refresh(resp.RefreshToken)
	wantHTTPError(t, err, 400, "invalid_grant")
	if got := f.mock.Hits(workosmock.EndpointRevoke); got != 4 {
		t.Errorf("revoke hits = %d", got)
	}
}

func TestExpireSession(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.signIn("ada@example.com")
	sid := claimsOf(t, resp.AccessToken)["sid"].(string)
	f.mock.ExpireSession(sid)
	if !f.mock.SessionRevoked(sid) {
		t.Error("not reported revoked")
	}
	_, err := f.refresh(resp.RefreshToken)
	wantHTTPError(t, err, 400, "invalid_grant")
}

func TestLogout(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.signIn("ada@example.com")
	sid := claimsOf(t, resp.AccessToken)["sid"].(string)

	res, err := f.http.Get(f.ts.URL + "/user_management/sessions/logout")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != 422 || body["code"] != "invalid_request" || body["message"] != "session_id is required" {
		t.Errorf("missing session_id: %d %v", res.StatusCode, body)
	}

	u, err := f.sdk.GetLogoutURL(usermanagement.GetLogoutURLOpts{SessionID: sid, ReturnTo: "http://127.0.0.1:8080/bye"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = f.http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 302 || res.Header.Get("Location") != "http://127.0.0.1:8080/bye" {
		t.Errorf("logout: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !f.mock.SessionRevoked(sid) {
		t.Error("logout did not end the session")
	}
	_, err = f.refresh(resp.RefreshToken)
	wantHTTPError(t, err, 400, "invalid_grant")

	res, err = f.http.Get(f.ts.URL + "/user_management/sessions/logout?session_id=session_whatever")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"success":true`) {
		t.Errorf("logout without return_to: %d %s", res.StatusCode, b)
	}
}

func TestAccessTokenVerifiesAgainstJWKS(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.signIn("ada@example.com")
	set := f.keySet()
	tok, err := jwt.Parse([]byte(resp.AccessToken), jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(f.clock.Now)))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if want := f.ts.URL + "/user_management/" + testClientID; tok.Issuer() != want {
		t.Errorf("iss = %q, want %q", tok.Issuer(), want)
	}
	if tok.Subject() != workosmock.DemoAdaID || len(tok.Audience()) != 0 {
		t.Errorf("sub = %q aud = %v", tok.Subject(), tok.Audience())
	}
	if d := tok.Expiration().Sub(tok.IssuedAt()); d != 5*time.Minute {
		t.Errorf("exp - iat = %v", d)
	}
	if !tok.IssuedAt().Equal(f.clock.Now()) {
		t.Errorf("iat = %v, clock = %v", tok.IssuedAt(), f.clock.Now())
	}
	c := claimsOf(t, resp.AccessToken)
	if c["role"] != "admin" || c["org_id"] != workosmock.DemoOrgID {
		t.Errorf("claims = %v", c)
	}
	if p, _ := c["permissions"].([]any); len(p) != 2 || p[0] != "apps:read" || p[1] != "apps:write" {
		t.Errorf("permissions = %v", c["permissions"])
	}
	if jti, _ := c["jti"].(string); len(jti) != 26 {
		t.Errorf("jti = %v", c["jti"])
	}

	msg, _ := jws.Parse([]byte(resp.AccessToken))
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Type() != "" || h.Algorithm().String() != "RS256" {
		t.Errorf("header typ=%q alg=%v", h.Type(), h.Algorithm())
	}
	kid, _ := f.mock.SigningKey()
	if h.KeyID() != kid || !strings.HasPrefix(kid, "sso_oidc_key_pair_") || len(kid) != len("sso_oidc_key_pair_")+26 {
		t.Errorf("kid = %q, signing kid %q", h.KeyID(), kid)
	}

	// Raw JWKS shape.
	res, err := f.http.Get(f.ts.URL + "/sso/jwks/" + testClientID)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Keys []map[string]string `json:"keys"`
	}
	_ = json.NewDecoder(res.Body).Decode(&raw)
	res.Body.Close()
	if len(raw.Keys) != 1 || raw.Keys[0]["alg"] != "RS256" || raw.Keys[0]["kty"] != "RSA" || raw.Keys[0]["use"] != "sig" || raw.Keys[0]["e"] != "AQAB" || raw.Keys[0]["kid"] != kid {
		t.Errorf("jwks = %v", raw.Keys)
	}

	res, err = f.http.Get(f.ts.URL + "/sso/jwks/client_unknown")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown client jwks: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestRotateKeys(t *testing.T) {
	f := newFixture(t, nil)
	old := f.signIn("ada@example.com").AccessToken
	oldKid, _ := f.mock.SigningKey()

	newKid := f.mock.RotateKeys(true)
	if newKid == oldKid {
		t.Fatal("kid unchanged")
	}
	set := f.keySet()
	if set.Len() != 2 {
		t.Fatalf("keepOld: %d keys", set.Len())
	}
	if _, err := jwt.Parse([]byte(old), jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(f.clock.Now))); err != nil {
		t.Errorf("old token after keepOld rotation: %v", err)
	}
	fresh := f.signIn("grace@example.com").AccessToken
	msg, _ := jws.Parse([]byte(fresh))
	if msg.Signatures()[0].ProtectedHeaders().KeyID() != newKid {
		t.Error("new token not signed with the new key")
	}

	f.mock.RotateKeys(false)
	set = f.keySet()
	if set.Len() != 1 {
		t.Fatalf("dropOld: %d keys", set.Len())
	}
	if _, err := jwt.Parse([]byte(old), jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(f.clock.Now))); err == nil {
		t.Error("old token still verifies after the key was dropped")
	}
}

func TestMintAccessToken(t *testing.T) {
	f := newFixture(t, nil)
	u := workosmock.DemoUsers()[1]
	tok := f.mock.MintAccessToken(u, "session_x", time.Hour, map[string]any{"aud": "client_x", "role": nil})
	parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(f.keySet()), jwt.WithClock(jwt.ClockFunc(f.clock.Now)))
	if err != nil {
		t.Fatalf("verify minted: %v", err)
	}
	if parsed.Expiration().Sub(parsed.IssuedAt()) != time.Hour || parsed.Subject() != u.ID {
		t.Errorf("minted exp/sub wrong")
	}
	c := claimsOf(t, tok)
	if c["sid"] != "session_x" || c["aud"] != "client_x" {
		t.Errorf("claims = %v", c)
	}
	if _, ok := c["role"]; ok {
		t.Error("nil extra did not remove role")
	}
}

func TestFaults(t *testing.T) {
	t.Run("status 500 then recovers", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.code("ada@example.com", "")
		f.mock.SetFault(workosmock.EndpointAuthenticateCode, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 500, Count: 1})
		opts := usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code}
		_, err := f.sdk.AuthenticateWithCode(context.Background(), opts)
		wantHTTPError(t, err, 500, "server_error")
		if _, err := f.sdk.AuthenticateWithCode(context.Background(), opts); err != nil {
			t.Fatalf("after the fault: %v", err)
		}
		if f.mock.Hits(workosmock.EndpointAuthenticateCode) != 2 {
			t.Errorf("hits = %d", f.mock.Hits(workosmock.EndpointAuthenticateCode))
		}
	})
	t.Run("429 with Retry-After until cleared", func(t *testing.T) {
		f := newFixture(t, nil)
		rt := f.signIn("ada@example.com").RefreshToken
		f.mock.SetFault(workosmock.EndpointAuthenticateRefresh, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 429, RetryAfter: "7"})
		for i := 0; i < 3; i++ {
			_, err := f.refresh(rt)
			wantHTTPError(t, err, 429, "server_error")
		}
		st, _, h := postForm(t, f, "/user_management/authenticate", url.Values{
			"client_id": {testClientID}, "client_secret": {testAPIKey}, "grant_type": {"refresh_token"}, "refresh_token": {rt},
		})
		if st != 429 || h.Get("Retry-After") != "7" {
			t.Errorf("raw: %d Retry-After %q", st, h.Get("Retry-After"))
		}
		f.mock.ClearFaults()
		if _, err := f.refresh(rt); err != nil {
			t.Fatalf("after ClearFaults: %v", err)
		}
		if got := f.mock.Hits(workosmock.EndpointAuthenticateRefresh); got != 5 {
			t.Errorf("hits = %d", got)
		}
	})
	t.Run("hang released by the client deadline", func(t *testing.T) {
		f := newFixture(t, nil)
		rt := f.signIn("ada@example.com").RefreshToken
		f.mock.SetFault(workosmock.EndpointAuthenticateRefresh, workosmock.Fault{Mode: workosmock.FaultHang, Count: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := f.sdk.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{ClientID: testClientID, RefreshToken: rt})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Error("hang took too long to release")
		}
		if _, err := f.refresh(rt); err != nil {
			t.Fatalf("after the hang: %v", err)
		}
	})
	t.Run("hang released by Close", func(t *testing.T) {
		f := newFixture(t, nil)
		f.mock.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultHang})
		done := make(chan int, 1)
		go func() {
			res, err := f.http.Get(f.ts.URL + "/sso/jwks/" + testClientID)
			if err != nil {
				done <- -1
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		for f.mock.Hits(workosmock.EndpointJWKS) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		f.mock.Close()
		select {
		case st := <-done:
			if st != 503 {
				t.Errorf("status after Close = %d", st)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release the hung request")
		}
	})
	t.Run("truncate", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.code("ada@example.com", "")
		f.mock.SetFault(workosmock.EndpointAuthenticateCode, workosmock.Fault{Mode: workosmock.FaultTruncate, Count: 1})
		_, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code})
		if err == nil {
			t.Fatal("truncated response decoded without error")
		}
		var he workos_errors.HTTPError
		if errors.As(err, &he) {
			t.Fatalf("truncate produced an HTTP error: %v", err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Logf("truncate error: %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.code("ada@example.com", "")
		f.mock.SetFault(workosmock.EndpointAuthenticateCode, workosmock.Fault{Mode: workosmock.FaultGarbage})
		_, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: testClientID, Code: code})
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a JSON syntax error", err)
		}
	})
	t.Run("empty json", func(t *testing.T) {
		f := newFixture(t, nil)
		rt := f.signIn("ada@example.com").RefreshToken
		f.mock.SetFault(workosmock.EndpointAuthenticateRefresh, workosmock.Fault{Mode: workosmock.FaultEmptyJSON, Count: 1})
		got, err := f.refresh(rt)
		if err != nil || got.AccessToken != "" || got.RefreshToken != "" {
			t.Fatalf("empty json: %+v %v", got, err)
		}
	})
	t.Run("empty key set and jwks status", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := f.signIn("ada@example.com").AccessToken
		f.mock.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultEmptyKeySet, Count: 1})
		set := f.keySet()
		if set.Len() != 0 {
			t.Fatalf("empty key set has %d keys", set.Len())
		}
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set)); err == nil {
			t.Error("token verified against an empty key set")
		}
		if f.keySet().Len() != 1 {
			t.Error("key set not restored after Count ran out")
		}
		f.mock.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 503, Count: 2})
		for i := 0; i < 2; i++ {
			res, err := f.http.Get(f.ts.URL + "/sso/jwks/" + testClientID)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 503 {
				t.Errorf("jwks fault %d: status %d", i, res.StatusCode)
			}
		}
		if got := f.mock.Hits(workosmock.EndpointJWKS); got != 4 {
			t.Errorf("jwks hits = %d", got)
		}
	})
	t.Run("revoke and authorize faults", func(t *testing.T) {
		f := newFixture(t, nil)
		f.mock.SetFault(workosmock.EndpointRevoke, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 502, Count: 1})
		wantHTTPError(t, f.sdk.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: "session_x"}), 502, "server_error")
		f.mock.SetFault(workosmock.EndpointAuthorize, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 500, Count: 1})
		res, err := f.http.Get(f.authorizeURL("ada@example.com", "s", ""))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 500 {
			t.Errorf("authorize fault: %d", res.StatusCode)
		}
		f.code("ada@example.com", "")
		if f.mock.Hits(workosmock.EndpointAuthorize) != 2 || f.mock.Hits(workosmock.EndpointRevoke) != 1 {
			t.Errorf("hits authorize=%d revoke=%d", f.mock.Hits(workosmock.EndpointAuthorize), f.mock.Hits(workosmock.EndpointRevoke))
		}
	})
}

func TestConcurrentFlows(t *testing.T) {
	f := newFixture(t, nil)
	emails := []string{"ada@example.com", "grace@example.com", "linus@example.com"}
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	sids := make(chan string, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			verifier := oauth2.GenerateVerifier()
			u := f.authorizeURL(emails[i%3], "s", oauth2.S256ChallengeFromVerifier(verifier))
			res, err := f.http.Get(u)
			if err != nil {
				errc <- err
				return
			}
			res.Body.Close()
			loc, _ := url.Parse(res.Header.Get("Location"))
			resp, err := f.sdk.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
				ClientID: testClientID, Code: loc.Query().Get("code"), CodeVerifier: verifier,
			})
			if err != nil {
				errc <- err
				return
			}
			if _, err := f.refresh(resp.RefreshToken); err != nil {
				errc <- err
				return
			}
			msg, err := jws.Parse([]byte(resp.AccessToken))
			if err != nil {
				errc <- err
				return
			}
			var c struct {
				Sid string `json:"sid"`
			}
			_ = json.Unmarshal(msg.Payload(), &c)
			sids <- c.Sid
		}(i)
	}
	wg.Wait()
	close(errc)
	close(sids)
	for err := range errc {
		t.Error(err)
	}
	seen := map[string]bool{}
	for s := range sids {
		if seen[s] {
			t.Errorf("duplicate sid %s", s)
		}
		seen[s] = true
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct sessions, want 100", len(seen))
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, nil)
	res, err := f.http.Get(f.ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("healthz: %d %q", res.StatusCode, b)
	}
}
