package tests

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startRedis runs a private redis-server on a free loopback port for the test.
func startRedis(t *testing.T) string {
	t.Helper()
	if url := os.Getenv("DRIO_TEST_REDIS_URL"); url != "" {
		return url
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DRIO_REQUIRE_REDIS") == "1" {
			t.Fatal("DRIO_REQUIRE_REDIS=1 but redis-server is not installed: `sudo apt-get install -y redis-server` (or `make test-deps`)")
		}
		t.Skip("redis-server is not installed, so the Redis tests cannot run; enable them: `sudo apt-get install -y redis-server` (or `make test-deps`; macOS: brew install redis; or set DRIO_TEST_REDIS_URL=redis://host:port/db)")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return "redis://" + addr + "/0"
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

// TestTwoInstancesShareRedis is row S11 (SECURITY.md): two gateway processes on one
// Redis. A client registered at one exists at the other, a code issued by one redeems at
// the other exactly once, a replay at the first revokes the grant for both, and refresh
// works across them.
func TestTwoInstancesShareRedis(t *testing.T) {
	redisURL := startRedis(t)
	storage := fmt.Sprintf("storage redis %s {\n\t\t\tprefix e2e:\n\t\t}", redisURL)
	a := startStack(t, stackOptions{Storage: storage})
	b := startStack(t, stackOptions{Storage: storage, Peer: a})

	c := a.register(t, "two instances")
	flow := a.kit.StartFlow(t, c, "ada@example.com")

	// Redeem at B what A issued.
	form := flow.TokenForm(flow.Code(t))
	resp, tok := b.postForm(t, "/api/v1/auth/token", form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("code issued by A redeemed at B: %d %v", resp.StatusCode, tok)
	}
	access, refresh := str(tok, "access_token"), str(tok, "refresh_token")
	a.noteSecret(access) // a and b share their secrets, as one deployment
	a.noteSecret(refresh)
	if resp, body := a.call(t, http.MethodGet, "/api/v1/me", access, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("token from B used at A: %d %v", resp.StatusCode, body)
	}

	// Refresh at A what B issued.
	resp, pair := a.postForm(t, "/api/v1/auth/refresh", url.Values{"client_id": {c.ClientID}, "refresh_token": {refresh}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh at A of B's token: %d %v", resp.StatusCode, pair)
	}
	a.noteSecret(str(pair, "access_token"))
	a.noteSecret(str(pair, "refresh_token"))

	// Replay at A: refused, and the grant is revoked everywhere (B has not cached it yet).
	resp, e := a.postForm(t, "/api/v1/auth/token", form)
	if resp.StatusCode != http.StatusBadRequest || str(e, "error") != "invalid_grant" {
		t.Fatalf("replay at A: %d %v", resp.StatusCode, e)
	}
	time.Sleep(2100 * time.Millisecond) // A's session cache (2 s) saw the session live before
	for name, s := range map[string]*stack{"A": a, "B": b} {
		if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", str(pair, "access_token"), nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("instance %s still accepts a revoked session: %d", name, resp.StatusCode)
		}
	}
	a.checkLogs()
	b.checkLogs()
}

// TestTwoInstancesShareTheRateLimit checks that with Redis storage the rate limit counts
// requests at every instance, so two instances allow one limit, not two.
func TestTwoInstancesShareTheRateLimit(t *testing.T) {
	redisURL := startRedis(t)
	storage := fmt.Sprintf("storage redis %s {\n\t\t\tprefix rl:\n\t\t}", redisURL)
	a := startStack(t, stackOptions{Storage: storage, DrioExtra: "rate_limit 0.1 3"}) // 3 per 30 s
	b := startStack(t, stackOptions{Storage: storage, DrioExtra: "rate_limit 0.1 3", Peer: a})
	register := func(s *stack) *http.Response {
		resp, err := http.Post(s.GW+"/api/v1/auth/register", "application/json",
			strings.NewReader(`{"redirect_uris":["http://127.0.0.1:5000/cb"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i, s := range []*stack{a, b, a} {
		if resp := register(s); resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d of the burst: %d", i+1, resp.StatusCode)
		}
	}
	resp := register(b)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("4th registration across both instances: %d (Retry-After %q), want 429 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
