package tests

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunAndReadmeWalkthrough does what a new user does: `make run` (xcaddy build,
// upstream-mock, Caddy with the shipped Caddyfile), then the README's curl walkthrough, as
// written. It uses the fixed ports of `make run` (8080, 9000, 9001, 2019).
func TestMakeRunAndReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Caddy with xcaddy, so it is skipped in -short mode; run it with `make test` (no -short)")
	}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:2019"} {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("%s is already in use; stop whatever listens there (another `make run`?)", addr)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)<!-- walkthrough:start -->\\s*```bash\\n(.*?)```\\s*<!-- walkthrough:end -->").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no walkthrough block between <!-- walkthrough:start --> and <!-- walkthrough:end -->")
	}

	out := &syncBuffer{}
	run := exec.Command("make", "run")
	run.Dir = ".."
	run.Env = append(os.Environ(), "DRIO_DATA="+t.TempDir(), "HOME="+t.TempDir())
	run.Stdout, run.Stderr = out, out
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = run.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-run.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})

	deadline := time.Now().Add(20 * time.Minute) // the first xcaddy build compiles all of Caddy
	for {
		resp, err := http.Get("http://localhost:8080/.well-known/oauth-authorization-server")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("make run exited:\n%s", out.String())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not serve within 20m:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "drio gateway on http://localhost:8080") || !strings.Contains(out.String(), "Try:") {
		t.Errorf("make run did not print what to try:\n%s", out.String())
	}

	checkShippedCaddyfileTools(t)
	checkNoSecretInRunningConfig(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	walk := exec.CommandContext(ctx, "bash", "-c", string(block[1]))
	walk.Env = append(os.Environ(), "GW=http://localhost:8080")
	got, err := walk.CombinedOutput()
	if err != nil {
		t.Fatalf("the README walkthrough failed: %v\n%s\n--- make run output ---\n%s", err, got, out.String())
	}
	for _, want := range []string{
		`"registration_endpoint":"http://localhost:8080/api/v1/auth/register"`,
		"client_id: drio_",
		"sign-in page: http://127.0.0.1:9001/user_management/authorize?",
		"back at the client: http://127.0.0.1:9876/callback?code=",
		`"email":"ada@example.com"`,
		`"config":`,
		`"templates":`,
		`"apps":[`,
		"HTTP/1.1 401",
		`Bearer resource_metadata="http://localhost:8080/.well-known/oauth-protected-resource"`,
		`"requestId":"`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, got)
		}
	}
	// WorkOS access tokens live 300 s; a second may pass between issuing and answering.
	if !regexp.MustCompile(`expires_in (29[0-9]|300)s`).Match(got) {
		t.Errorf("walkthrough output lacks an expires_in of about 300 s:\n%s", got)
	}
}

// checkShippedCaddyfileTools runs the xcaddy-built binary's validate, adapt and fmt on the
// shipped Caddyfile, as an operator would before deploying it.
func checkShippedCaddyfileTools(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"validate", "--config", "Caddyfile", "--adapter", "caddyfile"},
		{"adapt", "--config", "Caddyfile", "--validate"},
	} {
		cmd := exec.Command("./caddy", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "DRIO_DATA="+t.TempDir(), "WORKOS_API_KEY=sk_test_from_env")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("caddy %s: %v\n%s", args[0], err, out)
		}
		if strings.Contains(string(out), "sk_test_from_env") {
			t.Errorf("caddy %s printed the WorkOS API key from the environment:\n%s", args[0], out)
		}
	}
	src, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("./caddy", "fmt", "Caddyfile")
	cmd.Dir = ".."
	formatted, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy fmt: %v", err)
	}
	if string(formatted) != string(src) {
		t.Errorf("the shipped Caddyfile is not `caddy fmt` formatted:\n%s", formatted)
	}
}

// checkNoSecretInRunningConfig reads the running config from Caddy's admin endpoint, as anyone
// who can reach it could, and checks that the WorkOS API key `make run` set is not in it: the
// shipped Caddyfile names it with a runtime placeholder.
func checkNoSecretInRunningConfig(t *testing.T) {
	t.Helper()
	resp, err := http.Get("http://localhost:2019/config/")
	if err != nil {
		t.Fatalf("admin endpoint: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /config/: %d %v", resp.StatusCode, err)
	}
	if strings.Contains(string(body), "sk_test_dev") {
		t.Errorf("the running config served by the admin endpoint holds the WorkOS API key:\n%s", body)
	}
	if !strings.Contains(string(body), `"api_key":"{env.WORKOS_API_KEY}"`) {
		t.Errorf("the running config does not name the API key by its placeholder:\n%s", body)
	}
}
