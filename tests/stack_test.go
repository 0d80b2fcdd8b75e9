package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/resource"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// caddyBin is the Caddy binary with the plugin, built once by TestMain from ./cmd/caddy.
var caddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drio-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	caddyBin = filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", caddyBin, "./cmd/caddy")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building caddy with the plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testClientID = "client_e2e"
	testAPIKey   = "sk_test_e2e"
)

// stackOptions tune one gateway under test.
type stackOptions struct {
	// DrioExtra is added inside the drio global option block.
	DrioExtra string
	// DataDir reuses a data directory (restart tests); default a fresh temp dir.
	DataDir string
	// UpstreamURL overrides the resource API (fault tests); default the in-process mock.
	UpstreamURL string
	// ProxyExtra is added inside the reverse_proxy block.
	ProxyExtra string
	// ProtectExtra is added inside the drio_protect block.
	ProtectExtra string
	// Storage replaces the storage line (default: badger in DataDir).
	Storage string
	// SiteExtra is added inside the site block, after reverse_proxy: a handle block that
	// sends a path to another upstream, say (drio_protect still runs first).
	SiteExtra string
	// WorkOSTimeout is the gateway's workos timeout; default 2 s, so fault tests that hang
	// WorkOS end quickly.
	WorkOSTimeout time.Duration
	// Peer makes this gateway a second instance in front of the same WorkOS stand-in and
	// resource API as Peer (with a shared Storage, a second node of one deployment).
	Peer *stack
}

// stack is one gateway (a real Caddy process) in front of the two upstream-mock services.
type stack struct {
	t        *testing.T
	opts     stackOptions
	GW       string // gateway base URL, also the issuer
	gwAddr   string
	admin    string
	DataDir  string
	cfgDir   string
	home     string
	WorkOS   *workosmock.Server
	Resource *resource.Server
	workosTS *httptest.Server
	resTS    *httptest.Server

	// secrets holds what must never appear in a log line; peers share it.
	secrets *testkit.Secrets
	// kit drives flows and API calls against GW, noting what it sees in secrets.
	kit *testkit.Client

	mu   sync.Mutex
	proc *proc
	logs *syncBuffer
}

func startStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, opts: opts, cfgDir: t.TempDir(), home: t.TempDir()}
	s.DataDir = opts.DataDir
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	// Registered after the temp dirs, so it runs before their removal (cleanups are LIFO).
	if p := opts.Peer; p != nil {
		s.WorkOS, s.workosTS, s.Resource, s.resTS = p.WorkOS, p.workosTS, p.Resource, p.resTS
		s.secrets = p.secrets
		t.Cleanup(s.stopCaddy)
	} else {
		wm, err := workosmock.New(workosmock.Config{ClientID: testClientID, APIKey: testAPIKey})
		if err != nil {
			t.Fatal(err)
		}
		s.WorkOS = wm
		s.workosTS = httptest.NewServer(wm)
		wm.SetBaseURL(s.workosTS.URL)
		s.Resource = resource.New()
		s.resTS = httptest.NewServer(s.Resource)
		s.secrets = testkit.NewSecrets(testAPIKey)
		t.Cleanup(func() {
			s.stopCaddy()
			wm.Close()
			s.workosTS.Close()
			s.resTS.Close()
		})
	}
	// freeAddr's ports are free when picked, but another process (a parallel test package's
	// server) may bind one before Caddy does: then pick fresh ones.
	for attempt := 1; ; attempt++ {
		s.gwAddr = freeAddr(t)
		s.admin = freeAddr(t)
		s.GW = "http://" + s.gwAddr
		s.kit = &testkit.Client{Base: s.GW, WorkOS: s.workosTS.URL, Secrets: s.secrets}
		if !s.launchCaddy() {
			return s
		}
		if attempt == 3 {
			t.Fatalf("caddy found its ports taken three times:\n%s", s.Logs())
		}
		t.Logf("another process took caddy's port before it bound it; trying fresh ports")
	}
}

func (s *stack) caddyfile() string {
	upstream := strings.TrimPrefix(s.resTS.URL, "http://")
	if s.opts.UpstreamURL != "" {
		upstream = strings.TrimPrefix(s.opts.UpstreamURL, "http://")
	}
	workosTimeout := 2 * time.Second
	if s.opts.WorkOSTimeout > 0 {
		workosTimeout = s.opts.WorkOSTimeout
	}
	storage := "storage badger " + s.DataDir
	if s.opts.Storage != "" {
		storage = s.opts.Storage
	}
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	grace_period 5s
	default_bind 127.0.0.1
	drio {
		issuer %s
		workos {
			client_id %s
			api_key %s
			endpoint %s
			timeout %s
		}
		%s
		%s
	}
}

%s {
	drio_oauth
	drio_protect {
		public /api/v1/templates /api/v1/templates/*
		%s
	}
	reverse_proxy %s {
		%s
	}
	%s
}
`, s.admin, s.GW, testClientID, testAPIKey, s.workosTS.URL, workosTimeout, storage, s.opts.DrioExtra, s.GW, s.opts.ProtectExtra, upstream, s.opts.ProxyExtra, s.opts.SiteExtra)
}

// startCaddy runs the Caddy binary with the stack's Caddyfile and waits until it serves.
func (s *stack) startCaddy() {
	s.t.Helper()
	if s.launchCaddy() {
		s.t.Fatalf("caddy could not listen: another process took its port\n%s", s.Logs())
	}
}

// launchCaddy is startCaddy, except that it reports (instead of failing the test) when Caddy
// exited because an address it was to listen on was already in use.
func (s *stack) launchCaddy() (portTaken bool) {
	t := s.t
	t.Helper()
	cfgPath := filepath.Join(s.cfgDir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(s.caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	home := s.home
	cmd := exec.Command(caddyBin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.proc, s.logs = p, logs
	s.mu.Unlock()
	// Bounded: whoever holds a taken port may accept and never answer.
	probe := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			s.takeProc()
			if strings.Contains(logs.String(), "address already in use") {
				return true
			}
			t.Fatalf("caddy exited during startup:\n%s", logs.String())
		default:
		}
		resp, err := probe.Get(s.GW + "/.well-known/oauth-authorization-server")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return false
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	t.Fatalf("caddy did not serve within 30s\n%s", logs.String())
	return false // not reached
}

// proc is a running gateway process; done is closed once it has exited and been reaped.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// signal sends sig to the process group and waits up to d for the exit; it reports whether
// the process is gone.
func (p *proc) signal(sig syscall.Signal, d time.Duration) bool {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// takeProc returns the running process, if any, and forgets it.
func (s *stack) takeProc() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc = nil
	return p
}

// kill SIGKILLs the gateway process (a crash, not a shutdown) and waits until it is gone.
func (s *stack) kill() {
	if p := s.takeProc(); p != nil && !p.signal(syscall.SIGKILL, 10*time.Second) {
		s.t.Errorf("caddy (pid %d) survived SIGKILL for 10s", p.cmd.Process.Pid)
	}
}

// stopCaddy asks the gateway to shut down and kills it if it has not exited within 10 s, so
// a test never leaves a process behind.
func (s *stack) stopCaddy() {
	p := s.takeProc()
	if p == nil || p.signal(syscall.SIGTERM, 10*time.Second) {
		return
	}
	s.t.Logf("caddy (pid %d) did not stop within 10s of SIGTERM; killing it", p.cmd.Process.Pid)
	if !p.signal(syscall.SIGKILL, 10*time.Second) {
		s.t.Errorf("caddy (pid %d) survived SIGKILL for 10s", p.cmd.Process.Pid)
	}
}

// Logs returns everything the gateway process wrote.
func (s *stack) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// noteSecret remembers a value that must never be logged; checkLogs fails if one was.
func (s *stack) noteSecret(v string) { s.secrets.Note(v) }

// checkLogs fails the test if the gateway's logs so far hold a noted secret, the WorkOS API
// key, a bearer token or a panic, or a line that is not a structured log entry: an operator's
// log pipeline parses every line Caddy writes, so a library printing to stderr on its own
// (as go-redis does unless told otherwise) would be lost or break it.
func (s *stack) checkLogs() {
	s.t.Helper()
	logs := s.Logs()
	s.secrets.CheckLog(s.t, "gateway logs", logs)
	for line := range strings.Lines(logs) {
		if line = strings.TrimSpace(line); line != "" && !json.Valid([]byte(line)) {
			s.t.Errorf("the gateway wrote a line that is not a JSON log entry: %q", line)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects process output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
