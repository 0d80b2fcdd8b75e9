package tests

// redis_failure_test.go: what clients get while the shared Redis is down, and that a Redis
// restarted with its append-only file (appendfsync everysec) gives back everything that was
// acknowledged, with the gateways recovering by themselves.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// aofWindow is how long the test waits after the last acknowledged write before it kills
// Redis. With appendfsync everysec Redis fsyncs its append-only file once a second, and a
// crash of the machine loses what was acknowledged since (up to about 2 s when the disk is slow
// and Redis postpones a write behind a running fsync). A SIGKILL of the process alone loses
// less (what Redis wrote is in the kernel's page cache), but the test asks only for what
// everysec promises: every write acknowledged more than a second before the crash.
const aofWindow = 1100 * time.Millisecond

// sessionCacheTTL is how long a gateway trusts a session it has seen live without asking the
// store (fixed in the plugin; the revocation broadcast evicts entries sooner).
const sessionCacheTTL = 2 * time.Second

// wantOAuthUnavailable checks a 503 temporarily_unavailable answer in the OAuth error shape
// with Retry-After.
func wantOAuthUnavailable(t *testing.T, what string, resp *testkit.Response) {
	t.Helper()
	body := resp.Object(t)
	if resp.StatusCode != http.StatusServiceUnavailable || str(body, "error") != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s with Redis down: %d %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			what, resp.StatusCode, resp.Body, resp.Header.Get("Retry-After"))
	}
}

// wantEnvelopeUnavailable checks a 503 in the drio envelope (internal_error, requestId) with
// Retry-After, the answer of a protected route whose check cannot be made now.
func wantEnvelopeUnavailable(t *testing.T, what string, resp *testkit.Response) {
	t.Helper()
	body := resp.Object(t)
	if resp.StatusCode != http.StatusServiceUnavailable || str(body, "error", "code") != "internal_error" ||
		str(body, "error", "requestId") == "" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s with Redis down: %d %s (Retry-After %q), want 503 in the envelope with Retry-After",
			what, resp.StatusCode, resp.Body, resp.Header.Get("Retry-After"))
	}
}

// get sends a GET to a full URL without following redirects.
func get(t *testing.T, u string) *testkit.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.RoundTrip(t, testkit.NoRedirects(nil), req)
}

// adminGet reads a path of a gateway's admin endpoint.
func (s *stack) adminGet(t *testing.T, path string) *testkit.Response {
	t.Helper()
	return get(t, "http://"+s.admin+path)
}

// metric sums the values of every series on the gateway's /metrics whose line starts with
// series (a metric name, optionally with the start of its labels).
func (s *stack) metric(t *testing.T, series string) float64 {
	t.Helper()
	return metricAt(t, s.admin, series)
}

func metricAt(t *testing.T, admin, series string) float64 {
	t.Helper()
	resp := get(t, "http://"+admin+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d", admin, resp.StatusCode)
	}
	sum := 0.0
	for _, line := range strings.Split(resp.Body, "\n") {
		if !strings.HasPrefix(line, series) {
			continue
		}
		rest := line[len(series):]
		if !strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{") && !strings.HasPrefix(rest, ",") {
			continue // another metric whose name starts with series
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// clientIDs lists the client ids the gateway's admin API reports.
func (s *stack) clientIDs(t *testing.T) map[string]bool {
	t.Helper()
	resp := s.adminGet(t, "/drio/clients")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /drio/clients: %d %s", resp.StatusCode, resp.Body)
	}
	ids := map[string]bool{}
	list, _ := resp.Object(t)["clients"].([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			ids[str(m, "client_id")] = true
		}
	}
	return ids
}

// waitRecovered waits (at most 20 s) until every gateway reports itself ready and hears other
// instances' revocations again, and returns how long that took.
func waitRecovered(t *testing.T, gws ...*stack) time.Duration {
	t.Helper()
	start := time.Now()
	for _, s := range gws {
		for {
			resp, body := s.call(t, http.MethodGet, "/api/v1/auth/health", "", nil)
			if resp.StatusCode == http.StatusOK && s.metric(t, "caddy_drio_revocation_broadcast_up") == 1 {
				break
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("%s did not recover within 20 s of Redis restarting: health %d %v, broadcast up %v",
					s.GW, resp.StatusCode, body, s.metric(t, "caddy_drio_revocation_broadcast_up"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// TestRedisDownAndRestart runs two gateway instances on one Redis (appendonly yes, appendfsync
// everysec), makes acknowledged writes through both (registrations, code redemptions,
// revocations), kills Redis with SIGKILL, and checks:
//
//   - while it is down, every auth route (register, authorize, callback, token, refresh,
//     revoke, logout) answers 503 temporarily_unavailable with Retry-After, and health 503; a protected
//     request whose session the instance cached as live in the last 2 s passes (the session
//     cache is the documented grace), one whose session it has not cached gets 503 in the drio
//     envelope with Retry-After, and so does the cached one once those 2 s are over;
//   - after Redis restarts on the same append-only file, both instances recover by themselves
//     (health 200, revocation broadcast up) without being restarted;
//   - every acknowledged registration, code redemption and revocation is still there: the
//     clients exist, the redeemed codes are refused as replays, the revoked sessions are
//     refused, the other sessions are live;
//   - nothing was half-written while Redis was down: the registration attempted then does not
//     exist, and the code, callback, refresh token and sessions whose requests (redemption,
//     callback, refresh, revocation, logout) failed then all work afterwards as if those
//     requests had never been made.
func TestRedisDownAndRestart(t *testing.T) {
	redis := startRedisServer(t, aofSettings...)
	storage := fmt.Sprintf("storage redis %s {\n\t\t\tprefix fail:\n\t\t}", redis.url)
	a := startStack(t, stackOptions{Storage: storage})
	b := startStack(t, stackOptions{Storage: storage, Peer: a})

	// Acknowledged writes, through both instances.
	var regs []*testkit.Registration
	for i, s := range []*stack{a, b, a, b, a} {
		regs = append(regs, s.register(t, fmt.Sprintf("acknowledged %d", i)))
	}
	c := regs[0]
	type redeemed struct {
		form url.Values
		tok  *oauth2.Token
	}
	var codes []redeemed
	for i, s := range []*stack{a, b, b} { // codes issued by A, redeemed at s
		flow := a.kit.StartFlow(t, c, "ada@example.com")
		form := flow.TokenForm(flow.Code(t))
		resp, tok := s.postForm(t, "/api/v1/auth/token", form)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("redemption %d: %d %v", i+1, resp.StatusCode, tok)
		}
		rt := &oauth2.Token{AccessToken: str(tok, "access_token"), RefreshToken: str(tok, "refresh_token")}
		a.noteSecret(rt.AccessToken)
		a.noteSecret(rt.RefreshToken)
		codes = append(codes, redeemed{form, rt})
	}
	var revoked []*oauth2.Token
	for i, s := range []*stack{a, b} {
		tok := a.kit.Login(t, regs[1], "grace@example.com")
		resp := s.kit.PostForm(t, "/api/v1/auth/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {regs[1].ClientID}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation %d: %d %s", i+1, resp.StatusCode, resp.Body)
		}
		revoked = append(revoked, tok)
	}
	// Grants whose next step will be attempted while Redis is down: a code issued but not yet
	// redeemed, and a consented sign-in whose browser has not yet come back to the callback.
	pendingCode := a.kit.StartFlow(t, c, "ada@example.com")
	pendingForm := pendingCode.TokenForm(pendingCode.Code(t))
	pendingCallback := b.kit.StartFlow(t, c, "ada@example.com") // the last acknowledged write
	clientsBefore := a.clientIDs(t)
	if len(clientsBefore) != len(regs) {
		t.Fatalf("clients before the crash: %d, want %d", len(clientsBefore), len(regs))
	}

	// Past the append-only file's fsync window, and past A's session cache (2 s by default),
	// which holds every session A's callbacks just recorded.
	time.Sleep(max(aofWindow, sessionCacheTTL+100*time.Millisecond))
	// codes[0] was issued and redeemed at A only: A caches its session as live now, B never
	// looked at it.
	live := codes[0].tok
	if resp, body := a.call(t, http.MethodGet, "/api/v1/me", live.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("A before the crash: %d %v", resp.StatusCode, body)
	}
	cachedAt := time.Now()
	redis.kill(t)
	t.Logf("Redis killed %v after A cached the session", time.Since(cachedAt).Round(time.Millisecond))
	if files := redis.aofFiles(); len(files) == 0 {
		t.Fatalf("Redis left no append-only file in %s", redis.dir)
	}

	// Protected routes.
	if resp, body := a.call(t, http.MethodGet, "/api/v1/me", live.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("A, session cached %v ago, Redis down: %d %v; want 200 from the session cache",
			time.Since(cachedAt).Round(time.Millisecond), resp.StatusCode, body)
	}
	start := time.Now()
	resp, _ := b.call(t, http.MethodGet, "/api/v1/me", live.AccessToken, nil)
	wantEnvelopeUnavailable(t, "protected route at B (session not cached)", resp)
	t.Logf("with Redis down, a protected request whose session is not cached was answered 503 after %v", time.Since(start).Round(time.Millisecond))
	resp, _ = a.call(t, http.MethodGet, "/api/v1/me", codes[1].tok.AccessToken, nil)
	wantEnvelopeUnavailable(t, "protected route at A (session not cached)", resp)
	if resp, body := a.call(t, http.MethodGet, "/api/v1/templates", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("public route with Redis down: %d %v, want 200 (no store needed)", resp.StatusCode, body)
	}
	if resp, _ := a.call(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("discovery with Redis down: %d, want 200", resp.StatusCode)
	}

	// Auth routes.
	start = time.Now()
	wantOAuthUnavailable(t, "register at A", a.kit.Do(t, http.MethodPost, "/api/v1/auth/register", "application/json",
		`{"client_name":"during the outage","redirect_uris":["`+testkit.DefaultRedirect+`"]}`, nil))
	t.Logf("with Redis down, a registration was answered 503 after %v", time.Since(start).Round(time.Millisecond))
	verifier := oauth2.GenerateVerifier()
	authURL := strings.Replace(c.Config.AuthCodeURL("st-outage", oauth2.S256ChallengeOption(verifier)), a.GW, b.GW, 1)
	wantOAuthUnavailable(t, "authorize at B", get(t, authURL))
	if resp := testkit.NewBrowser().Get(t, authURL); resp.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(resp.Body, "temporarily_unavailable") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("authorize at B from a browser with Redis down: %d (Retry-After %q), want the local 503 page with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wantOAuthUnavailable(t, "callback at A", pendingCallback.Browser.Get(t, strings.Replace(pendingCallback.CallbackURL, b.GW, a.GW, 1)))
	wantOAuthUnavailable(t, "token (authorization_code) at B", b.kit.PostForm(t, "/api/v1/auth/token", pendingForm))
	refreshForm := url.Values{"client_id": {c.ClientID}, "refresh_token": {live.RefreshToken}}
	wantOAuthUnavailable(t, "refresh at A", a.kit.PostForm(t, "/api/v1/auth/refresh", refreshForm))
	wantOAuthUnavailable(t, "token (refresh_token) at B", b.kit.PostForm(t, "/api/v1/auth/token",
		url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID}, "refresh_token": {live.RefreshToken}}))
	wantOAuthUnavailable(t, "revoke at B", b.kit.PostForm(t, "/api/v1/auth/revoke",
		url.Values{"token": {codes[2].tok.RefreshToken}, "client_id": {c.ClientID}}))
	wantOAuthUnavailable(t, "logout at A", a.kit.PostForm(t, "/api/v1/auth/logout",
		url.Values{"token": {codes[1].tok.AccessToken}, "client_id": {c.ClientID}, "state": {"bye"}}))
	for _, s := range []*stack{a, b} {
		if resp, body := s.call(t, http.MethodGet, "/api/v1/auth/health", "", nil); resp.StatusCode != http.StatusServiceUnavailable || str(body, "store") == "ok" {
			t.Errorf("health at %s with Redis down: %d %v, want 503 naming the store", s.GW, resp.StatusCode, body)
		}
	}

	// The session cache holds a live answer for 2 s, no longer.
	time.Sleep(time.Until(cachedAt.Add(2100 * time.Millisecond)))
	resp, _ = a.call(t, http.MethodGet, "/api/v1/me", live.AccessToken, nil)
	wantEnvelopeUnavailable(t, "protected route at A, 2.1 s after it cached the session", resp)
	downFor := time.Since(cachedAt)

	// Redis comes back on the same data; the gateways are not restarted.
	redis.start(t)
	recovery := waitRecovered(t, a, b)
	t.Logf("Redis down for %v; both gateways ready and the revocation broadcast up %v after Redis answered again",
		downFor.Round(time.Millisecond), recovery.Round(time.Millisecond))

	// Every acknowledged registration is there, and nothing else.
	for name, s := range map[string]*stack{"A": a, "B": b} {
		after := s.clientIDs(t)
		for _, r := range regs {
			if !after[r.ClientID] {
				t.Errorf("%s after the restart: acknowledged client %s is gone", name, r.ClientID)
			}
		}
		if len(after) != len(regs) {
			t.Errorf("%s after the restart: %d clients, want the %d acknowledged ones (the registration attempted during the outage must not exist)",
				name, len(after), len(regs))
		}
	}
	// Every acknowledged revocation holds, at both instances.
	for i, tok := range revoked {
		for name, s := range map[string]*stack{"A": a, "B": b} {
			if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("revoked session %d at %s after the restart: %d, want 401", i+1, name, resp.StatusCode)
			}
		}
		resp, body := b.postForm(t, "/api/v1/auth/refresh", url.Values{"client_id": {regs[1].ClientID}, "refresh_token": {tok.RefreshToken}})
		if resp.StatusCode != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
			t.Errorf("refresh token of revoked session %d after the restart: %d %v, want invalid_grant", i+1, resp.StatusCode, body)
		}
	}
	// The sessions of the redeemed codes are live, including those whose revocation and logout
	// failed during the outage.
	for i, r := range codes {
		if resp, body := b.call(t, http.MethodGet, "/api/v1/me", r.tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("session of redeemed code %d at B after the restart: %d %v, want 200", i+1, resp.StatusCode, body)
		}
	}
	// What failed during the outage works now, exactly once: the refresh token was not spent,
	// the code not redeemed, the sign-in not taken.
	resp, pair := a.postForm(t, "/api/v1/auth/refresh", refreshForm)
	if resp.StatusCode != http.StatusOK || str(pair, "access_token") == "" {
		t.Errorf("refresh that failed during the outage, retried: %d %v, want 200", resp.StatusCode, pair)
	}
	a.noteSecret(str(pair, "access_token"))
	a.noteSecret(str(pair, "refresh_token"))
	if resp, body := b.postForm(t, "/api/v1/auth/token", pendingForm); resp.StatusCode != http.StatusOK {
		t.Errorf("code whose redemption failed during the outage, redeemed now: %d %v, want 200", resp.StatusCode, body)
	} else {
		a.noteSecret(str(body, "access_token"))
		a.noteSecret(str(body, "refresh_token"))
	}
	if tok := pendingCallback.Exchange(t, pendingCallback.Code(t)); tok.AccessToken == "" {
		t.Error("sign-in whose callback failed during the outage: no token after retrying the callback")
	}
	// Every acknowledged redemption holds: a replay is refused (and, as always, revokes the
	// grant; B, which just saw that session live, refuses it at once through the broadcast).
	for i, r := range codes {
		s := []*stack{a, b}[i%2]
		resp, body := s.postForm(t, "/api/v1/auth/token", r.form)
		if resp.StatusCode != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
			t.Errorf("replay of code %d redeemed before the crash: %d %v, want invalid_grant", i+1, resp.StatusCode, body)
		}
	}
	start = time.Now()
	for {
		resp, _ := b.call(t, http.MethodGet, "/api/v1/me", codes[2].tok.AccessToken, nil)
		if resp.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Since(start) > time.Second {
			t.Errorf("B still accepts a session revoked by a replay at A after 1 s: the broadcast did not come back")
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Both instances serve new sign-ins normally.
	for _, s := range []*stack{a, b} {
		cl, tok := s.login(t, "ada@example.com")
		if resp, body := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("new sign-in at %s after the restart (client %s): /me %d %v", s.GW, cl.ClientID, resp.StatusCode, body)
		}
	}
	a.checkLogs()
	b.checkLogs()
	if !strings.Contains(a.Logs()+b.Logs(), "store failure") {
		t.Error("the gateways logged no store failure during the outage")
	}
}

// TestRedisDownRateLimiterFailsOpen: by default the shared rate limiter lets a request it
// cannot count through, and the endpoint answers for itself (503 temporarily_unavailable with
// Retry-After), even for an address that had used up its burst: while Redis is down, nobody
// gets 429.
func TestRedisDownRateLimiterFailsOpen(t *testing.T) {
	redis := startRedisServer(t, aofSettings...)
	const window = 2000 * time.Second // rate_limit 0.001 2: 2 per window, windows aligned to the epoch
	s := startStack(t, stackOptions{
		Storage:   fmt.Sprintf("storage redis %s {\n\t\t\tprefix open:\n\t\t}", redis.url),
		DrioExtra: "rate_limit 0.001 2",
	})
	win := time.Now().UnixNano() / int64(window)
	register := func() *testkit.Response {
		return s.kit.Do(t, http.MethodPost, "/api/v1/auth/register", "application/json", `{"redirect_uris":["`+testkit.DefaultRedirect+`"]}`, nil)
	}
	for i := range 2 {
		if resp := register(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	if resp := register(); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("3rd registration in the window, Redis up: %d, want 429", resp.StatusCode)
	}
	time.Sleep(aofWindow)
	redis.kill(t)
	for i := range 3 {
		wantOAuthUnavailable(t, fmt.Sprintf("registration %d over the limit", i+1), register())
	}
	wantOAuthUnavailable(t, "token", s.kit.PostForm(t, "/api/v1/auth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"drio_x"}}))
	redis.start(t)
	waitRecovered(t, s)
	// After a failure the limiter leaves Redis alone for a second (requests meanwhile get the
	// failure policy at once); then it counts again, and the counts survived the restart: the
	// window is still used up.
	time.Sleep(1100 * time.Millisecond)
	if time.Now().UnixNano()/int64(window) != win {
		t.Log("a new rate-limit window began during the test; not checking that the count survived")
	} else if resp := register(); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("registration after Redis came back, same window: %d, want 429", resp.StatusCode)
	}
	if n := strings.Count(s.Logs(), "shared rate limiter unavailable"); n != 1 {
		t.Errorf("the limiter logged its store failure %d times, want once", n)
	}
}

// TestRedisDownRateLimiterFailsClosed: with `rate_limit … { on_store_error closed }` a request
// the shared limiter cannot count is refused with 429 temporarily_unavailable and Retry-After
// on every rate-limited route; routes without a rate limit answer as they do by default; and
// once Redis is back requests are counted and served again.
func TestRedisDownRateLimiterFailsClosed(t *testing.T) {
	redis := startRedisServer(t, aofSettings...)
	s := startStack(t, stackOptions{
		Storage:   fmt.Sprintf("storage redis %s {\n\t\t\tprefix closed:\n\t\t}", redis.url),
		DrioExtra: "rate_limit 5 50 {\n\t\t\ton_store_error closed\n\t\t}",
	})
	c, tok := s.login(t, "ada@example.com")
	// Past the fsync window and past the session cache that holds the session just recorded,
	// so the protected call below has to ask Redis.
	time.Sleep(max(aofWindow, sessionCacheTTL+100*time.Millisecond))
	redis.kill(t)
	for _, tc := range []struct {
		name string
		do   func() *testkit.Response
	}{
		{"register", func() *testkit.Response {
			return s.kit.Do(t, http.MethodPost, "/api/v1/auth/register", "application/json", `{"redirect_uris":["`+testkit.DefaultRedirect+`"]}`, nil)
		}},
		{"authorize", func() *testkit.Response {
			return get(t, c.Config.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		}},
		{"token", func() *testkit.Response {
			return s.kit.PostForm(t, "/api/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID}, "refresh_token": {tok.RefreshToken}})
		}},
		{"refresh", func() *testkit.Response {
			return s.kit.PostForm(t, "/api/v1/auth/refresh", url.Values{"client_id": {c.ClientID}, "refresh_token": {tok.RefreshToken}})
		}},
		{"revoke", func() *testkit.Response {
			return s.kit.PostForm(t, "/api/v1/auth/revoke", url.Values{"client_id": {c.ClientID}, "token": {tok.RefreshToken}})
		}},
	} {
		resp := tc.do()
		if body := resp.Object(t); resp.StatusCode != http.StatusTooManyRequests || str(body, "error") != "temporarily_unavailable" || resp.Header.Get("Retry-After") != "2" {
			t.Errorf("%s with Redis down, on_store_error closed: %d %s (Retry-After %q), want 429 temporarily_unavailable, Retry-After 2",
				tc.name, resp.StatusCode, resp.Body, resp.Header.Get("Retry-After"))
		}
	}
	resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil)
	wantEnvelopeUnavailable(t, "protected route (not rate limited)", resp)
	if resp, _ := s.call(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("discovery (not rate limited) with Redis down: %d, want 200", resp.StatusCode)
	}

	redis.start(t)
	waitRecovered(t, s)
	// A client that honours Retry-After gets through once Redis is back (the limiter asks
	// Redis again a second after its last failure).
	var pair map[string]any
	for attempt := 1; ; attempt++ {
		resp, body := s.postForm(t, "/api/v1/auth/refresh", url.Values{"client_id": {c.ClientID}, "refresh_token": {tok.RefreshToken}})
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 3 {
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(secs) * time.Second)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh after Redis came back (attempt %d): %d %v, want 200 (the refusals spent nothing)", attempt, resp.StatusCode, body)
		}
		pair = body
		break
	}
	s.noteSecret(str(pair, "access_token"))
	s.noteSecret(str(pair, "refresh_token"))
	if resp, body := s.call(t, http.MethodGet, "/api/v1/me", str(pair, "access_token"), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/me after Redis came back: %d %v", resp.StatusCode, body)
	}
	if !strings.Contains(s.Logs(), "requests refused (on_store_error closed)") {
		t.Error("the limiter did not log that it refuses requests while Redis is down")
	}
	s.checkLogs()
}
