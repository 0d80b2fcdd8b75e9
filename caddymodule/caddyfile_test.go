package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestAppUnmarshalCaddyfile(t *testing.T) {
	tests := []caddyfileCase{
		{
			name: "full",
			input: `drio {
				issuer https://api.example.com
				api_base /api/v1
				workos {
					client_id client_1
					api_key {env.WORKOS_API_KEY}
					endpoint https://api.workos.com
					timeout 5s
				}
				storage badger /var/lib/drio {
					sync_writes
				}
				consent off
				token_issuers https://a https://b
				audience https://api.example.com
				allow_foreign_sessions
				redirect_schemes myapp
				pending_ttl 5m
				code_ttl 30s
				session_ttl 24h
				refresh_grace 10s
				rate_limit 2 20
			}`,
			want: App{
				Issuer:  "https://api.example.com",
				APIBase: "/api/v1",
				WorkOS: &WorkOSConfig{ClientID: "client_1", APIKey: "{env.WORKOS_API_KEY}",
					Endpoint: "https://api.workos.com", Timeout: caddy.Duration(5 * time.Second)},
				Storage:              &StorageConfig{Backend: "badger", Dir: "/var/lib/drio", SyncWrites: true},
				DisableConsent:       true,
				TokenIssuers:         []string{"https://a", "https://b"},
				Audience:             "https://api.example.com",
				AllowForeignSessions: true,
				RedirectSchemes:      []string{"myapp"},
				PendingTTL:           caddy.Duration(5 * time.Minute),
				CodeTTL:              caddy.Duration(30 * time.Second),
				SessionTTL:           caddy.Duration(24 * time.Hour),
				RefreshGrace:         caddy.Duration(10 * time.Second),
				RateLimit:            &RateLimitConfig{PerSecond: 2, Burst: 20},
			},
		},
		{
			name:  "api key from a file",
			input: "drio {\n workos {\n client_id client_1\n api_key_file /run/secrets/workos\n }\n }",
			want:  App{WorkOS: &WorkOSConfig{ClientID: "client_1", APIKeyFile: "/run/secrets/workos"}},
		},
		{
			name:  "redis and rate limit off",
			input: "drio {\n storage redis redis://127.0.0.1:6379/0 {\n prefix gw1:\n }\n rate_limit off\n }",
			want: App{
				Storage:   &StorageConfig{Backend: "redis", URL: "redis://127.0.0.1:6379/0", Prefix: "gw1:"},
				RateLimit: &RateLimitConfig{Disabled: true},
			},
		},
		{name: "unknown option", input: "drio {\n frobnicate on\n}", wantErr: "unrecognized drio option 'frobnicate', at Testfile:2"},
		{name: "repeated option", input: "drio {\n issuer https://a\n issuer https://b\n}", wantErr: "issuer specified more than once"},
		{name: "issuer without value", input: "drio {\n issuer\n}", wantErr: "wrong argument count or unexpected line ending after 'issuer', at Testfile:2"},
		{name: "unknown storage", input: "drio {\n storage etcd\n}", wantErr: "unknown storage backend 'etcd'"},
		{name: "redis without URL", input: "drio {\n storage redis\n}", wantErr: "storage redis needs a URL"},
		{name: "sync_writes on redis", input: "drio {\n storage redis redis://x {\n sync_writes\n }\n}", wantErr: "unrecognized redis storage option 'sync_writes'"},
		{name: "bad consent", input: "drio {\n consent maybe\n}", wantErr: `consent must be on or off, not "maybe"`},
		{name: "bad duration", input: "drio {\n code_ttl soon\n}", wantErr: `bad duration "soon"`},
		{name: "negative rate", input: "drio {\n rate_limit -1\n}", wantErr: "is not a positive number"},
		{name: "unknown workos option", input: "drio {\n workos {\n secret x\n }\n}", wantErr: "unrecognized workos option 'secret', at Testfile:3"},
	}
	runCaddyfileCases(t, tests)
}

func TestProtectUnmarshalCaddyfile(t *testing.T) {
	var p Protect
	err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`drio_protect {
		public /api/v1/templates /api/v1/templates/*
		forward_token
		strip_header X-Tenant
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Protect{Public: []string{"/api/v1/templates", "/api/v1/templates/*"}, ForwardToken: true, StripHeaders: []string{"X-Tenant"}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %+v, want %+v", p, want)
	}
	for _, bad := range []string{"drio_protect extra", "drio_protect {\n nope\n}", "drio_protect {\n public\n}"} {
		var p Protect
		if err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("UnmarshalCaddyfile(%q) succeeded, want an error", bad)
		}
	}
	var o OAuth
	if err := o.UnmarshalCaddyfile(caddyfile.NewTestDispenser("drio_oauth extra")); err == nil {
		t.Error("drio_oauth with an argument was accepted")
	}
}

// TestShippedCaddyfileAdapts pins the JSON the shipped Caddyfile adapts to, including the
// directive order the plugin registers (drio_oauth before drio_protect before reverse_proxy).
// Run `go test ./caddymodule -run TestShippedCaddyfileAdapts -update` after an intended change.
func TestShippedCaddyfileAdapts(t *testing.T) {
	for _, env := range []string{"DRIO_ADMIN", "DRIO_BIND", "DRIO_ISSUER", "DRIO_SITE", "DRIO_DATA", "WORKOS_CLIENT_ID", "WORKOS_API_KEY", "WORKOS_ENDPOINT", "UPSTREAM"} {
		if v, ok := os.LookupEnv(env); ok {
			os.Unsetenv(env)
			t.Cleanup(func() { os.Setenv(env, v) })
		}
	}
	src, err := os.ReadFile(filepath.Join("..", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	adapter := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}
	out, warnings, err := adapter.Adapt(src, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the shipped Caddyfile: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("adapt warning: %s:%d %s", w.File, w.Line, w.Message)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "Caddyfile.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("the shipped Caddyfile adapts to\n%s\nwant (%s)\n%s", pretty.String(), golden, want)
	}
	order := []string{`"handler": "drio_oauth"`, `"handler": "drio_protect"`, `"handler": "reverse_proxy"`}
	last := -1
	for _, h := range order {
		i := strings.Index(pretty.String(), h)
		if i < 0 || i < last {
			t.Errorf("handler order: %s missing or out of order (want %v)", h, order)
		}
		last = i
	}
}

// caddyfileCase is one drio global option in Caddyfile form and the App it must parse into,
// or the error it must give.
type caddyfileCase struct {
	name    string
	input   string
	want    App
	wantErr string
}

// runCaddyfileCases parses each case's input as the drio global option and compares.
func runCaddyfileCases(t *testing.T, tests []caddyfileCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got App
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("UnmarshalCaddyfile() error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalCaddyfile() error = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				gotJ, _ := json.Marshal(got)
				wantJ, _ := json.Marshal(tc.want)
				t.Errorf("UnmarshalCaddyfile() =\n%s\nwant\n%s", gotJ, wantJ)
			}
		})
	}
}
