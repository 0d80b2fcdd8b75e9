package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// The official MCP Go SDK (github.com/modelcontextprotocol/go-sdk, pinned in go.mod), as an
// MCP client uses it: its authorization-code handler finds the gateway from a 401, registers,
// has the user sign in (a browser the test drives), redeems the code and refreshes; its
// streamable HTTP transport calls a tool on an MCP server of the same SDK that sits behind
// drio_protect and reverse_proxy at /mcp.

// whoami is what the upstream MCP server's tool reports: the identity headers the gateway
// set on the request, and whether a bearer token reached the upstream at all.
type whoami struct {
	UserID        string `json:"user_id"`
	Email         string `json:"email"`
	SessionID     string `json:"session_id"`
	Authorization bool   `json:"authorization_forwarded"`
}

// startWhoAmI serves, on loopback, an MCP server (the Go SDK's streamable HTTP handler) with
// one tool, whoami, and returns its host:port. It closes after the gateway in front of it
// stops when started before startStack.
func startWhoAmI(t *testing.T) string {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "drio-whoami", Version: "test"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "The caller as the gateway identified it"},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoami, error) {
			h := req.Extra.Header
			return nil, whoami{
				UserID:        h.Get("X-Drio-User-Id"),
				Email:         h.Get("X-Drio-User-Email"),
				SessionID:     h.Get("X-Drio-Session-Id"),
				Authorization: h.Get("Authorization") != "",
			}, nil
		})
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}

// mcpRoute is the site-block addition that sends /mcp, once drio_protect has let it through,
// to the MCP server at upstream instead of the resource API.
func mcpRoute(upstream string) string {
	return "handle /mcp {\n\t\treverse_proxy " + upstream + "\n\t}"
}

// requestLog records every request an HTTP client sends as "METHOD path -> status".
type requestLog struct {
	mu   sync.Mutex
	base http.RoundTripper
	reqs []string
}

func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	entry := req.Method + " " + req.URL.Path + " -> "
	if err != nil {
		entry += "error"
	} else {
		entry += fmt.Sprint(resp.StatusCode)
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, entry)
	l.mu.Unlock()
	return resp, err
}

// count returns how many recorded requests are entry.
func (l *requestLog) count(entry string) int {
	return l.countIf(func(r string) bool { return r == entry })
}

// countIf returns how many recorded requests match.
func (l *requestLog) countIf(match func(string) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if match(r) {
			n++
		}
	}
	return n
}

func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.reqs, "\n")
}

// fatalAsPanic turns the test kit's Fatal into a panic that an AuthorizationCodeFetcher
// recovers into an error: the SDK may call the fetcher on a goroutine of its own, where
// t.Fatal must not be called.
type fatalAsPanic struct{ testing.TB }

// fatal is the panic value of fatalAsPanic.
type fatal string

func (fatalAsPanic) Helper()                           {}
func (fatalAsPanic) FailNow()                          { panic(fatal("FailNow")) }
func (fatalAsPanic) Fatal(args ...any)                 { panic(fatal(fmt.Sprint(args...))) }
func (fatalAsPanic) Fatalf(format string, args ...any) { panic(fatal(fmt.Sprintf(format, args...))) }

// signIn is the SDK's AuthorizationCodeFetcher played by a browser: it opens the SDK's
// authorization URL, approves the gateway's consent page, signs in at the WorkOS stand-in as
// email, and hands back what the gateway put on the redirect (code, state, iss), after
// tamper when it is not nil. Each authorization URL it was given is appended to *seen.
func (s *stack) signIn(t *testing.T, email string, seen *[]*url.URL, tamper func(*auth.AuthorizationResult)) auth.AuthorizationCodeFetcher {
	var mu sync.Mutex
	return func(_ context.Context, args *auth.AuthorizationArgs) (res *auth.AuthorizationResult, err error) {
		defer func() {
			if r := recover(); r != nil {
				msg, ok := r.(fatal)
				if !ok {
					panic(r)
				}
				res, err = nil, errors.New("the browser's sign-in failed: "+string(msg))
			}
		}()
		u, err := url.Parse(args.URL)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		*seen = append(*seen, u)
		mu.Unlock()
		q := u.Query()
		reg := &testkit.Registration{ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri")}
		tb := fatalAsPanic{t}
		// The SDK keeps its PKCE verifier to itself; the flow needs none before the token
		// request, which the SDK sends.
		loc := s.kit.StartFlowAt(tb, reg, args.URL, "", email).Redirect(tb)
		back := loc.Query()
		res = &auth.AuthorizationResult{Code: back.Get("code"), State: back.Get("state"), Iss: back.Get("iss")}
		if tamper != nil {
			tamper(res)
		}
		return res, nil
	}
}

// refreshable is the token source the SDK builds by default (oauth2.Config.TokenSource over
// the SDK's own configuration and HTTP client), which expire makes refresh on its next use:
// the refresh request is the SDK's, only its moment is the test's.
type refreshable struct {
	mu  sync.Mutex
	ctx context.Context
	cfg *oauth2.Config
	ts  oauth2.TokenSource
}

func (r *refreshable) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	ts := r.ts
	r.mu.Unlock()
	return ts.Token()
}

// expire replaces the current token with a copy that expired a minute ago.
func (r *refreshable) expire(t *testing.T) {
	t.Helper()
	tok, err := r.Token()
	if err != nil {
		t.Fatal(err)
	}
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	r.mu.Lock()
	r.ts = r.cfg.TokenSource(r.ctx, &stale)
	r.mu.Unlock()
}

// goSDKHandler is the SDK's authorization-code handler as an MCP client configures it:
// dynamic registration of a public loopback client, requests through log.
func goSDKHandler(t *testing.T, log *requestLog, fetch auth.AuthorizationCodeFetcher, src **refreshable) *auth.AuthorizationCodeHandler {
	t.Helper()
	cfg := &auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:              "go-sdk e2e",
				RedirectURIs:            []string{testkit.DefaultRedirect},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				ResponseTypes:           []string{"code"},
				TokenEndpointAuthMethod: "none",
			},
		},
		AuthorizationCodeFetcher: fetch,
		RequestRefreshToken:      true,
		Client:                   &http.Client{Transport: log, Timeout: 30 * time.Second},
	}
	if src != nil {
		cfg.NewTokenSource = func(ctx context.Context, c *oauth2.Config, tok *oauth2.Token) (oauth2.TokenSource, error) {
			*src = &refreshable{ctx: ctx, cfg: c, ts: c.TokenSource(ctx, tok)}
			return *src, nil
		}
	}
	h, err := auth.NewAuthorizationCodeHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// connectMCP opens an MCP session to endpoint with h authorizing it; the session is closed
// at the end of the test unless the test closes it first.
func connectMCP(ctx context.Context, endpoint string, h auth.OAuthHandler, log *requestLog) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "drio-e2e", Version: "test"}, nil)
	return client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     endpoint,
		HTTPClient:   &http.Client{Transport: log},
		OAuthHandler: h,
		MaxRetries:   -1,
	}, nil)
}

// callWhoAmI calls the whoami tool and decodes its structured result.
func callWhoAmI(ctx context.Context, t *testing.T, cs *mcp.ClientSession) whoami {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("tools/call whoami: %v", err)
	}
	if res.IsError {
		t.Fatalf("tools/call whoami: tool error %+v", res.Content)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var w whoami
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("whoami result %s: %v", raw, err)
	}
	return w
}

// TestClientsGoMCPSDK: the Go SDK's authorization-code handler, from nothing but the MCP
// endpoint's 401, discovers the gateway (RFC 9728 PRM, RFC 8414 metadata), registers once
// (DCR), authorizes with PKCE and the endpoint as resource (RFC 8707), checks iss (RFC 9207),
// redeems the code, and its transport calls the tool with the token; the upstream sees the
// signed-in user as the gateway put it in X-Drio-User-Id and never the token. Then a forced
// refresh goes through the SDK's own token source, and a second session reuses the handler
// without registering or signing in again.
func TestClientsGoMCPSDK(t *testing.T) {
	upstream := startWhoAmI(t)
	s := startStack(t, stackOptions{SiteExtra: mcpRoute(upstream)})
	ctx := ctxT(t)
	endpoint := s.GW + "/mcp"
	log := &requestLog{base: http.DefaultTransport}
	var authURLs []*url.URL
	var src *refreshable
	h := goSDKHandler(t, log, s.signIn(t, "ada@example.com", &authURLs, nil), &src)

	cs, err := connectMCP(ctx, endpoint, h, log)
	if err != nil {
		t.Fatalf("connect: %v\nrequests:\n%s\ngateway logs:\n%s", err, log, s.Logs())
	}
	defer cs.Close()
	if src == nil {
		t.Fatal("the SDK connected without building a token source")
	}
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	s.noteSecret(tok.AccessToken)
	s.noteSecret(tok.RefreshToken)
	if tok.RefreshToken == "" {
		t.Fatal("the token answer the SDK got has no refresh token")
	}
	sub := testkit.JWTClaim(t, tok.AccessToken, "sub")

	me := callWhoAmI(ctx, t, cs)
	if me.UserID != workosmock.DemoAdaID || me.UserID != sub {
		t.Errorf("X-Drio-User-Id at the upstream = %q, want Ada's id %q (the token's sub %q)", me.UserID, workosmock.DemoAdaID, sub)
	}
	if me.Email != "ada@example.com" {
		t.Errorf("X-Drio-User-Email at the upstream = %q, want ada@example.com", me.Email)
	}
	if me.SessionID != testkit.JWTClaim(t, tok.AccessToken, "sid") {
		t.Errorf("X-Drio-Session-Id at the upstream = %q, want the token's sid", me.SessionID)
	}
	if me.Authorization {
		t.Error("the bearer token reached the upstream; drio_protect must strip it")
	}

	// What the SDK sent to sign in: one authorization request, with PKCE S256 and the
	// endpoint it was refused at as the resource.
	if len(authURLs) != 1 {
		t.Fatalf("the SDK asked for %d sign-ins, want 1", len(authURLs))
	}
	q := authURLs[0].Query()
	if got := authURLs[0].Scheme + "://" + authURLs[0].Host + authURLs[0].Path; got != s.GW+"/api/v1/auth/authorize" {
		t.Errorf("authorization endpoint %q, want the one the gateway advertises", got)
	}
	if q.Get("resource") != endpoint {
		t.Errorf("resource = %q, want %q", q.Get("resource"), endpoint)
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Errorf("PKCE: code_challenge_method %q, code_challenge %q", q.Get("code_challenge_method"), q.Get("code_challenge"))
	}
	if scopes := strings.Fields(q.Get("scope")); !slices.Contains(scopes, "openid") {
		t.Errorf("scope = %q, want the scopes the challenge named", q.Get("scope"))
	}
	t.Logf("the SDK's requests:\n%s", log)
	for entry, want := range map[string]int{
		"POST /mcp -> 401": 1, // the refusal the handler starts from
		// The challenge's resource_metadata names the origin's document, whose resource is
		// the origin; the SDK reads it but, holding RFC 9728 §3.3 to the letter (a document
		// found through a challenge must name the very URL that was refused), sets it aside
		// and asks for the document of /mcp itself, which the gateway serves.
		"GET /.well-known/oauth-protected-resource -> 200":     1,
		"GET /.well-known/oauth-protected-resource/mcp -> 200": 1,
		"GET /.well-known/oauth-authorization-server -> 200":   1,
		"POST /api/v1/auth/register -> 201":                    1,
		"POST /api/v1/auth/token -> 200":                       1,
	} {
		if got := log.count(entry); got != want {
			t.Errorf("the SDK sent %q %d times, want %d", entry, got, want)
		}
	}

	// Refresh: the SDK's token source, its token expired, refreshes before the next call.
	src.expire(t)
	again := callWhoAmI(ctx, t, cs)
	if got := log.count("POST /api/v1/auth/token -> 200"); got != 2 {
		t.Errorf("after the token expired the SDK sent %d successful token requests, want 2 (code, refresh)", got)
	}
	refreshed, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	s.noteSecret(refreshed.AccessToken)
	s.noteSecret(refreshed.RefreshToken)
	if refreshed.AccessToken == tok.AccessToken {
		t.Error("the refresh returned the same access token")
	}
	if again.UserID != workosmock.DemoAdaID || again.SessionID != me.SessionID {
		t.Errorf("after the refresh the upstream saw user %q session %q, want %q in the same session %q", again.UserID, again.SessionID, workosmock.DemoAdaID, me.SessionID)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("closing the session: %v", err)
	}

	// A new session with the same handler: the token is reused, nothing is registered again.
	cs2, err := connectMCP(ctx, endpoint, h, log)
	if err != nil {
		t.Fatalf("second connect: %v\nrequests:\n%s", err, log)
	}
	defer cs2.Close()
	if w := callWhoAmI(ctx, t, cs2); w.UserID != workosmock.DemoAdaID {
		t.Errorf("second session: upstream saw user %q, want %q", w.UserID, workosmock.DemoAdaID)
	}
	if n := log.count("POST /api/v1/auth/register -> 201"); n != 1 || len(authURLs) != 1 {
		t.Errorf("after a second session: %d registrations and %d sign-ins, want 1 and 1", n, len(authURLs))
	}
	if n := log.count("POST /mcp -> 401"); n != 1 {
		t.Errorf("the gateway refused the SDK %d times, want only the first request", n)
	}
	s.checkLogs()
}

// TestClientsGoMCPSDKChecksIss: the gateway advertises
// authorization_response_iss_parameter_supported, so the SDK requires iss on the redirect to
// be the gateway's issuer (RFC 9207, mix-up defence): a redirect with another issuer or
// none is refused before the code is redeemed.
func TestClientsGoMCPSDKChecksIss(t *testing.T) {
	upstream := startWhoAmI(t)
	s := startStack(t, stackOptions{SiteExtra: mcpRoute(upstream)})
	ctx := ctxT(t)
	for _, tc := range []struct {
		name, iss, wantErr string
	}{
		{"another issuer", "https://as.attacker.example", "does not match expected issuer"},
		{"no iss", "", "none was received"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &requestLog{base: http.DefaultTransport}
			var authURLs []*url.URL
			gotIss := ""
			tamper := func(r *auth.AuthorizationResult) { gotIss, r.Iss = r.Iss, tc.iss }
			h := goSDKHandler(t, log, s.signIn(t, "ada@example.com", &authURLs, tamper), nil)
			cs, err := connectMCP(ctx, s.GW+"/mcp", h, log)
			if err == nil {
				cs.Close()
				t.Fatalf("the SDK accepted a redirect with iss %q\nrequests:\n%s", tc.iss, log)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("connect error %q, want one saying %q", err, tc.wantErr)
			}
			if gotIss != s.GW {
				t.Errorf("the gateway's redirect carried iss %q, want %q", gotIss, s.GW)
			}
			toToken := func(r string) bool { return strings.HasPrefix(r, "POST /api/v1/auth/token ") }
			if n := log.countIf(toToken); n != 0 {
				t.Errorf("the SDK redeemed the code (%d token requests) despite the bad iss", n)
			}
		})
	}
	s.checkLogs()
}
