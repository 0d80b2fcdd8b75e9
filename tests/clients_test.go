package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The clients people use, unmodified, against a real gateway: the official MCP TypeScript SDK
// and panva's openid-client, each driven by a script in tests/js (versions pinned by
// tests/js/package-lock.json). golang.org/x/oauth2 is the client of flow_test.go; a real
// browser is browser_test.go.

// jsDir is tests/js; its node_modules comes from `npm ci --prefix tests/js` (.ci/run).
const jsDir = "js"

func requireJSClients(t *testing.T) {
	t.Helper()
	missing, enable := "", "`make test-deps` (it runs npm ci --prefix tests/js --ignore-scripts)"
	if _, err := exec.LookPath("node"); err != nil {
		missing, enable = "node is not on the PATH", "`sudo apt-get install -y nodejs npm && make test-deps`"
	} else if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		missing = "tests/js/node_modules is missing @modelcontextprotocol/sdk"
	} else if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "openid-client", "package.json")); err != nil {
		missing = "tests/js/node_modules is missing openid-client"
	}
	if missing == "" {
		return
	}
	msg := missing + ", so the real JS client tests (MCP TypeScript SDK, openid-client) cannot run; enable them: " + enable
	if os.Getenv("DRIO_REQUIRE_CLIENTS") == "1" {
		t.Fatal(msg + " (DRIO_REQUIRE_CLIENTS=1)")
	}
	t.Skip(msg)
}

// runClientScript runs `node tests/js/<script>` against the stack, with env (KEY=value) added
// to the environment, and decodes its JSON summary.
func runClientScript(t *testing.T, s *stack, script string, env ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = jsDir
	cmd.Env = append(append(os.Environ(), "GW="+s.GW, "NODE_NO_WARNINGS=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var summary map[string]any
	jerr := json.Unmarshal(stdout.Bytes(), &summary)
	if err != nil || jerr != nil || summary["ok"] != true {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s\ngateway logs:\n%s", script, err, stdout.String(), stderr.String(), s.Logs())
	}
	t.Logf("node %s:\n%s", script, stdout.String())
	return summary
}

func wantField(t *testing.T, summary map[string]any, want string, path ...string) {
	t.Helper()
	if got := str(summary, path...); got != want {
		t.Errorf("summary %s = %q, want %q", strings.Join(path, "."), got, want)
	}
}

// TestClientsMCPTypeScriptSDK: the MCP SDK's auth() finds everything from the 401's
// WWW-Authenticate (RFC 9728 PRM, RFC 8414 metadata), registers (DCR), starts PKCE with the
// PRM's resource (RFC 8707), exchanges the code, calls the API, is refused a replayed code
// with InvalidGrantError, and refreshes.
func TestClientsMCPTypeScriptSDK(t *testing.T) {
	requireJSClients(t)
	s := startStack(t, stackOptions{})
	sum := runClientScript(t, s, "mcp-sdk.mjs")
	wantField(t, sum, "1.32.2", "version")
	wantField(t, sum, s.GW+"/.well-known/oauth-protected-resource", "wwwAuthenticate", "resourceMetadataUrl")
	wantField(t, sum, "openid profile email", "wwwAuthenticate", "scope")
	wantField(t, sum, "none", "tokenEndpointAuthMethod")
	wantField(t, sum, s.GW, "authorizeParams", "resource")
	wantField(t, sum, "S256", "authorizeParams", "codeChallengeMethod")
	wantField(t, sum, s.GW, "iss")
	wantField(t, sum, "REDIRECT", "firstAuth")
	wantField(t, sum, "AUTHORIZED", "secondAuth")
	wantField(t, sum, "ada@example.com", "me", "email")
	wantField(t, sum, "InvalidGrantError", "replay")
	wantField(t, sum, "200", "refreshedCallStatus")
	wantField(t, sum, "401", "afterReplayStatus") // the replay revoked the session (RFC 6749 §4.1.2)
	if str(sum, "clientId") == "" {
		t.Errorf("no client_id in the summary")
	}
	// The SDK's own requests: discovery from the PRM, AS metadata, registration, token.
	reqs := str(sum, "sdkRequests")
	for _, want := range []string{
		"GET /.well-known/oauth-protected-resource -> 200",
		"GET /.well-known/oauth-authorization-server -> 200",
		"POST /api/v1/auth/register -> 201",
		"POST /api/v1/auth/token -> 200",
	} {
		if !strings.Contains(reqs, want) {
			t.Errorf("the SDK did not send %q; it sent %s", want, reqs)
		}
	}
	s.checkLogs()
}

// TestClientsOpenIDClient: openid-client 6 (strict: issuer equality, RFC 9207 iss, exact
// state) discovers /.well-known/oauth-authorization-server, registers with None(), runs the
// code flow with PKCE and resource, calls the API, refreshes, and is refused a replayed code.
func TestClientsOpenIDClient(t *testing.T) {
	requireJSClients(t)
	s := startStack(t, stackOptions{})
	sum := runClientScript(t, s, "openid-client.mjs")
	if v := str(sum, "version"); !strings.HasPrefix(v, "6.") {
		t.Errorf("openid-client version %q, want 6.x", v)
	}
	wantField(t, sum, s.GW, "issuer")
	wantField(t, sum, "none", "tokenEndpointAuthMethod")
	wantField(t, sum, s.GW, "iss")
	wantField(t, sum, "ada@example.com", "me", "email")
	wantField(t, sum, "200", "refreshedCallStatus")
	wantField(t, sum, "invalid_grant", "replay")
	wantField(t, sum, "400", "replayStatus")
	s.checkLogs()
}
