package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process (Caddy or upstream-mock) with its output kept for failures.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 4<<20 { // keep memory bounded on a chatty process
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(name, home string, bin string, args ...string) (*proc, error) {
	return startProcEnv(name, home, bin, nil, args...)
}

// startProcEnv is startProc with env added to the child's environment.
func startProcEnv(name, home string, bin string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits (then SIGKILL) for this process only.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHTTP waits until url answers with want (or any status when want is 0).
func (p *proc) waitHTTP(url string, want int) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during startup:\n%s", p.name, tail(p.out.String(), 3000))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if want == 0 || resp.StatusCode == want {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %s within 60s:\n%s", p.name, url, tail(p.out.String(), 3000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// cpuSeconds is utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat")
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state); utime is field 14, stime 15
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad stat fields")
	}
	return (ut + st) / float64(clockTicks), nil
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// memKiB returns VmRSS and VmHWM of pid in KiB.
func memKiB(pid int) (rss, hwm int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm, nil
}

// freeAddr returns a free loopback address.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gatewayConfig is a gateway Caddyfile: drio_oauth and drio_protect in front of the upstream,
// on Badger in DataDir or, with RedisURL, on Redis. Issuer defaults to http://Addr; the
// instances of one deployment share it.
type gatewayConfig struct {
	Addr, Admin, Upstream, WorkOS, DataDir string
	SyncWrites                             bool
	Issuer, RedisURL                       string
}

func (c gatewayConfig) caddyfile() string {
	storage := "badger " + c.DataDir
	if c.SyncWrites {
		storage += " {\n\t\t\tsync_writes\n\t\t}"
	}
	if c.RedisURL != "" {
		storage = "redis " + c.RedisURL
	}
	issuer := c.Issuer
	if issuer == "" {
		issuer = "http://" + c.Addr
	}
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	default_bind 127.0.0.1
	drio {
		issuer %s
		workos {
			client_id %s
			api_key %s
			endpoint %s
			timeout 5s
		}
		storage %s
		rate_limit off
	}
}

http://%s {
	drio_oauth
	drio_protect {
		public /api/v1/templates /api/v1/templates/*
	}
	reverse_proxy %s
}
`, c.Admin, issuer, workosClientID, workosAPIKey, c.WorkOS, storage, c.Addr, c.Upstream)
}

// plainCaddyfile is Caddy with nothing but reverse_proxy: the limit no auth can beat.
func plainCaddyfile(addr, admin, upstream string) string {
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	default_bind 127.0.0.1
}

http://%s {
	reverse_proxy %s
}
`, admin, addr, upstream)
}

// startCaddy writes cfg to dir/Caddyfile and runs the Caddy binary on it.
func startCaddy(name, bin, dir, cfg, probe string) (*proc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	p, err := startProc(name, dir, bin, "run", "--config", path, "--adapter", "caddyfile")
	if err != nil {
		return nil, err
	}
	if err := p.waitHTTP(probe, 0); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}
