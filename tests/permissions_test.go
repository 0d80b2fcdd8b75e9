package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPermissionRules: drio_protect's require and require_role lines in a real Caddy. A
// token without the permission a rule names gets 403 forbidden with the insufficient_scope
// challenge and never reaches the resource API; one with it gets the API's answer; methods no
// rule names stay open.
func TestPermissionRules(t *testing.T) {
	s := startStack(t, stackOptions{ProtectExtra: `require POST,PATCH,DELETE /api/v1/apps* apps:write
		require_role DELETE /api/v1/apps/* admin`})
	_, ada := s.login(t, "ada@example.com")     // admin: apps:read, apps:write
	_, grace := s.login(t, "grace@example.com") // member: apps:read
	newApp := map[string]any{"templateId": "support", "name": "Permission rules"}

	n := s.Resource.Requests()
	resp, body := s.call(t, http.MethodPost, "/api/v1/apps", grace.AccessToken, newApp)
	if resp.StatusCode != http.StatusForbidden || str(body, "error", "code") != "forbidden" || str(body, "error", "requestId") == "" {
		t.Errorf("grace POST /api/v1/apps: %d %v, want 403 forbidden in the drio envelope", resp.StatusCode, body)
	}
	if msg := str(body, "error", "message"); msg != "This request needs the apps:write permission" {
		t.Errorf("grace POST /api/v1/apps: message %q, want it to name the required permission and nothing else", msg)
	}
	ch := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, `Bearer error="insufficient_scope"`) || !strings.Contains(ch, `resource_metadata="`+s.GW+`/.well-known/oauth-protected-resource"`) {
		t.Errorf("grace POST /api/v1/apps: WWW-Authenticate %q, want insufficient_scope with resource_metadata", ch)
	}
	if s.Resource.Requests() != n {
		t.Error("grace POST /api/v1/apps reached the resource API")
	}

	resp, body = s.call(t, http.MethodPost, "/api/v1/apps", ada.AccessToken, newApp)
	id := str(body, "app", "id")
	if resp.StatusCode != http.StatusCreated || id == "" {
		t.Fatalf("ada POST /api/v1/apps: %d %v, want 201 with the app", resp.StatusCode, body)
	}
	if resp, body := s.call(t, http.MethodGet, "/api/v1/apps", grace.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("grace GET /api/v1/apps (no rule for GET): %d %v, want 200", resp.StatusCode, body)
	}
	if resp, body := s.call(t, http.MethodGet, "/api/v1/apps/"+id, ada.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("ada GET /api/v1/apps/%s: %d %v, want 200", id, resp.StatusCode, body)
	}
	for _, p := range []string{"/API/v1/apps", "//api/v1/apps", "/x/../api/v1/apps", "/api/v1/apps/"} {
		n := s.Resource.Requests()
		if resp, _ := s.call(t, http.MethodPost, p, grace.AccessToken, newApp); resp.StatusCode != http.StatusForbidden || s.Resource.Requests() != n {
			t.Errorf("grace POST %s: %d (forwarded: %v), want 403 and not forwarded", p, resp.StatusCode, s.Resource.Requests() != n)
		}
	}
	if resp, _ := s.call(t, http.MethodDelete, "/api/v1/apps/"+id, ada.AccessToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("ada (admin, apps:write) DELETE /api/v1/apps/%s: %d, want 204", id, resp.StatusCode)
	}

	metrics, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer metrics.Body.Close()
	raw, _ := io.ReadAll(metrics.Body)
	if want := `caddy_drio_bearer_refused_total{reason="forbidden"} 5`; !strings.Contains(string(raw), want) {
		t.Errorf("/metrics lacks %q", want)
	}
	s.checkLogs()
}

// TestPermissionRulesBadConfig: a rule with a mistake stops the config with a message that
// says what to change: `caddy adapt` for a malformed line (with its Caddyfile line), `caddy
// validate` for a rule on a public path, where it could never apply.
func TestPermissionRulesBadConfig(t *testing.T) {
	for _, tc := range []struct{ command, protect, want, line string }{
		{"adapt", "require POST api/v1/apps* apps:write", `require: path "api/v1/apps*" must start with / or *, e.g. /api/v1/apps*, at /`, "/Caddyfile:15"},
		{"adapt", "require_role DELETE /api/v1/apps/*", "require_role needs a method (or *), a path pattern and at least one role", "/Caddyfile:15"},
		{"validate", "public /api/v1/templates*\n\t\trequire GET /api/v1/templates* apps:read", `permission rule 1: path "/api/v1/templates*" is also public; a public path passes without a token`, ""},
	} {
		cfg := filepath.Join(t.TempDir(), "Caddyfile")
		caddyfile := fmt.Sprintf(`{
	admin off
	persist_config off
	drio {
		issuer http://127.0.0.1:1
		storage badger %s
		workos {
			client_id client_x
			api_key sk_test_x
		}
	}
}
http://127.0.0.1:1 {
	drio_protect {
		%s
	}
	respond 200
}
`, t.TempDir(), tc.protect)
		if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(caddyBin, tc.command, "--config", cfg, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		raw, err := cmd.CombinedOutput()
		out := strings.ReplaceAll(string(raw), `\"`, `"`) // Caddy logs the error as JSON
		if err == nil || !strings.Contains(out, tc.want) || !strings.Contains(out, tc.line) {
			t.Errorf("caddy %s with %q: %v\n%s\nwant an error containing %q (and %q)", tc.command, tc.protect, err, out, tc.want, tc.line)
		}
	}
}
