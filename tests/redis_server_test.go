package tests

// redis_server_test.go runs the private redis-servers of the Redis tests.

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// redisServerBinary returns the path of redis-server; without it the test skips, or fails
// when DRIO_REQUIRE_REDIS=1 (CI), saying how to install it.
func redisServerBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DRIO_REQUIRE_REDIS") == "1" {
			t.Fatal("DRIO_REQUIRE_REDIS=1 but redis-server is not installed: `sudo apt-get install -y redis-server` (or `make test-deps`)")
		}
		t.Skip("redis-server is not installed, so the Redis tests cannot run; enable them: `sudo apt-get install -y redis-server` (or `make test-deps`; macOS: brew install redis; or set DRIO_TEST_REDIS_URL=redis://host:port/db)")
	}
	return bin
}

// redisServer is a private redis-server on a loopback port with its own data directory, so a
// test can SIGKILL it and start it again on the same port (and, with appendonly, the same
// data), as an operator's service manager would.
type redisServer struct {
	url  string
	addr string
	bin  string
	args []string
	dir  string

	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

// aofSettings are the Redis settings the README's deployment section asks for.
var aofSettings = []string{"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"}

// startRedisServer starts redis-server with settings (each a --name value pair, or the path of
// a config file first) on a free loopback port, with a fresh data directory.
func startRedisServer(t *testing.T, settings ...string) *redisServer {
	t.Helper()
	bin := redisServerBinary(t)
	// freeAddr's port is free when picked, but another process may bind it first: then
	// pick a fresh one.
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		r := &redisServer{url: "redis://" + addr + "/0", addr: addr, bin: bin, dir: t.TempDir()}
		r.args = append(append(r.args, settings...), "--port", port, "--bind", "127.0.0.1", "--save", "", "--dir", r.dir)
		if !r.launch(t) {
			t.Cleanup(func() {
				if r.cmd != nil {
					_ = r.cmd.Process.Kill()
					<-r.done
				}
			})
			return r
		}
		if attempt == 3 {
			t.Fatalf("redis-server found its port taken three times:\n%s", r.logs.String())
		}
	}
}

// start runs redis-server and waits until it answers PING (after loading its append-only file).
func (r *redisServer) start(t *testing.T) {
	t.Helper()
	if r.launch(t) {
		t.Fatalf("redis-server could not listen again on %s: another process took the port:\n%s", r.addr, r.logs.String())
	}
}

// launch is start, except that it reports (instead of failing the test) when redis-server
// exited because its port was already in use.
func (r *redisServer) launch(t *testing.T) (portTaken bool) {
	t.Helper()
	r.logs = &syncBuffer{}
	r.cmd = exec.Command(r.bin, r.args...)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if redisCommand(r.addr, "PING") == "+PONG" {
			return false
		}
		select {
		case <-r.done:
			r.cmd = nil
			if strings.Contains(r.logs.String(), "Address already in use") {
				return true
			}
			t.Fatalf("redis-server exited at start:\n%s", r.logs.String())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("redis-server did not answer PING within 10 s:\n%s", r.logs.String())
	return false // not reached
}

// kill SIGKILLs redis-server (a crash: no shutdown, no final fsync) and waits until it is gone.
func (r *redisServer) kill(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-r.done:
		r.cmd = nil
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server survived SIGKILL for 10 s")
	}
}

// redisCommand sends one inline command and returns the first line of the answer ("" when the
// server cannot be reached).
func redisCommand(addr, command string) string {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, command+"\r\n"); err != nil {
		return ""
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// restart kills redis-server and starts it again on the same port and data directory.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	r.kill(t)
	r.start(t)
}

// aofFiles lists the append-only files of r (Redis 7 keeps them in appendonlydir).
func (r *redisServer) aofFiles() []string {
	entries, _ := os.ReadDir(filepath.Join(r.dir, "appendonlydir"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
