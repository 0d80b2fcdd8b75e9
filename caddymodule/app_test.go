package caddymodule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestAppProvisionRejectsBadConfig checks that a bad configuration fails at load with a
// message that says what to fix.
func TestAppProvisionRejectsBadConfig(t *testing.T) {
	workos := func() *WorkOSConfig { return &WorkOSConfig{ClientID: "client_1", APIKey: "sk_1"} }
	tests := []struct {
		name string
		app  App
		want string
	}{
		{"no issuer", App{WorkOS: workos()}, "issuer is required: add `issuer https://"},
		{"relative issuer", App{Issuer: "api.example.com", WorkOS: workos()}, "must be an absolute URL"},
		{"http issuer off loopback", App{Issuer: "http://api.example.com", WorkOS: workos()}, "must use https"},
		{"issuer with path", App{Issuer: "https://api.example.com/v1", WorkOS: workos()}, "must not have a path"},
		{"issuer with query", App{Issuer: "https://api.example.com?x=1", WorkOS: workos()}, "must not have a query"},
		{"no workos", App{Issuer: "https://api.example.com"}, "workos client_id is required"},
		{"no client id", App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{APIKey: "sk"}}, "workos client_id is required"},
		{"no api key", App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "client_1", APIKey: "{env.DRIO_TEST_UNSET_KEY}"}}, "api_key is empty"},
		{"api key and key file", App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "c", APIKey: "k", APIKeyFile: "/dev/null"}}, "both api_key and api_key_file"},
		{"missing key file", App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "c", APIKeyFile: "/nonexistent/drio-key"}}, "api_key_file: open /nonexistent/drio-key"},
		{"empty key file", App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "c", APIKeyFile: "/dev/null"}}, "api_key_file /dev/null is empty"},
		{"bad endpoint", App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "c", APIKey: "k", Endpoint: "ftp://x"}}, "must be an absolute http(s) URL"},
		{"unknown storage", App{Issuer: "https://api.example.com", WorkOS: workos(), Storage: &StorageConfig{Backend: "etcd"}}, "unknown storage backend"},
		{"redis without url", App{Issuer: "https://api.example.com", WorkOS: workos(), Storage: &StorageConfig{Backend: "redis"}}, "storage redis needs a URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			app := tc.app
			err := app.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Provision() error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAppProvisionDefaultsAndPlaceholders(t *testing.T) {
	t.Setenv("DRIO_TEST_API_KEY", "sk_from_env")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := App{
		Issuer:  "http://localhost:8080/",
		WorkOS:  &WorkOSConfig{ClientID: "client_1", APIKey: "{env.DRIO_TEST_API_KEY}"},
		Storage: &StorageConfig{Dir: t.TempDir()},
	}
	if err := app.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if app.Issuer != "http://localhost:8080" {
		t.Errorf("Issuer = %q, want the trailing slash trimmed", app.Issuer)
	}
	if app.WorkOS.APIKey != "sk_from_env" {
		t.Errorf("APIKey placeholder not resolved: %q", app.WorkOS.APIKey)
	}
	if app.WorkOS.Endpoint != "https://api.workos.com" {
		t.Errorf("Endpoint default = %q", app.WorkOS.Endpoint)
	}
	wantIss := []string{"https://api.workos.com/user_management/client_1", "https://api.workos.com/"}
	if strings.Join(app.TokenIssuers, " ") != strings.Join(wantIss, " ") {
		t.Errorf("TokenIssuers = %v, want %v", app.TokenIssuers, wantIss)
	}
	if app.callbackURL() != "http://localhost:8080/api/v1/auth/callback" {
		t.Errorf("callbackURL = %q", app.callbackURL())
	}
	if err := app.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

// TestAppValidateDataDir is S9: an unusable data directory is a clear config error, and
// Validate creates nothing.
func TestAppValidateDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	app := App{Storage: &StorageConfig{Backend: "badger", Dir: file}}
	if err := app.Validate(); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("Validate() with a file as data dir = %v", err)
	}
	missing := filepath.Join(dir, "a", "b")
	app.Storage.Dir = missing
	if err := app.Validate(); err != nil {
		t.Errorf("Validate() with a creatable dir = %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Validate created %s", missing)
	}
	app.RedirectSchemes = []string{"javascript"}
	if err := app.Validate(); err == nil {
		t.Error("Validate() accepted javascript as a redirect scheme")
	}
}

// TestAppAPIKeyFile reads the WorkOS key from a file, as from a mounted secret, and keeps the
// file's name (not the key) in the configuration.
func TestAppAPIKeyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "workos")
	if err := os.WriteFile(file, []byte("  sk_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := App{Issuer: "https://api.example.com", WorkOS: &WorkOSConfig{ClientID: "client_1", APIKeyFile: file},
		Storage: &StorageConfig{Dir: t.TempDir()}}
	if err := app.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if app.WorkOS.APIKey != "sk_from_file" {
		t.Errorf("APIKey = %q, want the file's content without white space", app.WorkOS.APIKey)
	}
}
