package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
)

// redisURL returns the URL of a Redis server for the test: DRIO_TEST_REDIS_URL
// if set, otherwise a redis-server from PATH started on a free loopback port
// for this test and stopped in t.Cleanup.
func redisURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("DRIO_TEST_REDIS_URL"); u != "" {
		return u
	}
	bin := requireRedisBinary(t, "redis-server", "DRIO_TEST_REDIS_URL=redis://host:port/db")
	port := startRedisServer(t, bin, func(port int, _ string) []string { return redisArgs(port) })
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// requireRedisBinary returns the path of prog, or skips the test when prog is
// not installed (fails it when DRIO_REQUIRE_REDIS=1). orURL names the
// variable that points the test at an existing server instead.
func requireRedisBinary(t *testing.T, prog, orURL string) string {
	t.Helper()
	bin, err := exec.LookPath(prog)
	if err == nil {
		return bin
	}
	if os.Getenv("DRIO_REQUIRE_REDIS") == "1" {
		t.Fatalf("DRIO_REQUIRE_REDIS=1 but %s is not installed (%v): `sudo apt-get install -y redis-server redis-tools` (or `make test-deps`)", prog, err)
	}
	t.Skipf("%s is not installed, so this Redis test cannot run; enable it: `sudo apt-get install -y redis-server redis-tools` (or `make test-deps`; macOS: brew install redis; or set %s)", prog, orURL)
	return ""
}

// redisArgs are the redis-server flags of a throwaway server on port:
// loopback only, no persistence, in the foreground.
func redisArgs(port int) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}
}

// startRedisServer runs bin with args(port, dir) in a fresh directory dir,
// waits (10 s at most) until port accepts connections, and returns port; the
// server is killed in t.Cleanup. It tries three free ports, since one can be
// taken between its probe and the server's bind.
func startRedisServer(t *testing.T, bin string, args func(port int, dir string) []string) int {
	t.Helper()
	var lastErr error
	for range 3 {
		port, dir := freePort(t), t.TempDir()
		cmd := exec.Command(bin, args(port, dir)...)
		cmd.Dir = dir
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		lastErr = fmt.Errorf("%s did not accept connections on port %d within 10s", bin, port)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-exited:
				lastErr = fmt.Errorf("%s exited: %s", bin, out.String())
			default:
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
				if err != nil {
					continue
				}
				_ = c.Close()
				t.Cleanup(stop)
				return port
			}
			break
		}
		stop()
	}
	t.Fatalf("could not start %s: %v", bin, lastErr)
	return 0
}

// syncBuffer is a strings.Builder safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var prefixSeq atomic.Int64

// uniquePrefix isolates stores sharing one server (and one DRIO_TEST_REDIS_URL).
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("drio-test-%d-%d-%d:", os.Getpid(), time.Now().UnixNano(), prefixSeq.Add(1))
}

func openRedis(t *testing.T, url, prefix string) *store.Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := store.OpenRedis(ctx, url, store.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRedisConformance(t *testing.T) {
	url := redisURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openRedis(t, url, uniquePrefix(t))
	})
}

// Two handles on one server stand for two gateway instances behind a load
// balancer: a code must still be redeemed exactly once across them.
func TestRedisTwoInstancesSingleTake(t *testing.T) {
	testTwoInstancesSingleTake(t, redisURL(t))
}

func testTwoInstancesSingleTake(t *testing.T, url string) {
	prefix := uniquePrefix(t)
	a, b := openRedis(t, url, prefix), openRedis(t, url, prefix)
	instances := []store.Store{a, b}
	for round := range 50 {
		key := store.Key(store.KindCode, store.HashID(fmt.Sprint("code-", round)))
		if err := instances[round%2].Put(bg, key, []byte("grant"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var wins, notFound, other atomic.Int32
		winsBy := [2]atomic.Int32{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := instances[i%2].Take(bg, key)
				switch {
				case err == nil:
					wins.Add(1)
					winsBy[i%2].Add(1)
				case errors.Is(err, store.ErrNotFound):
					notFound.Add(1)
				default:
					other.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || notFound.Load() != 49 || other.Load() != 0 {
			t.Fatalf("round %d: %d winners (a=%d b=%d), %d ErrNotFound, %d errors; want 1, 49, 0",
				round, wins.Load(), winsBy[0].Load(), winsBy[1].Load(), notFound.Load(), other.Load())
		}
	}
	// A record written by one instance is visible to the other.
	key := store.Key(store.KindSession, "sid")
	if err := a.Put(bg, key, []byte("s"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(bg, key); err != nil || string(v) != "s" {
		t.Fatalf("instance b Get = %q, %v", v, err)
	}
}

func TestRedisPrefixIsolationAndGlobChars(t *testing.T) {
	url := redisURL(t)
	base := uniquePrefix(t)
	odd := openRedis(t, url, base+"a*[x]?\\:")
	plain := openRedis(t, url, base+"ab:")
	for i := range 3 {
		if err := odd.Put(bg, store.Key(store.KindClient, strconv.Itoa(i)), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.Put(bg, store.Key(store.KindClient, "x"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := odd.Count(bg, store.KindClient); err != nil || n != 3 {
		t.Fatalf("odd Count = %d, %v; want 3", n, err)
	}
	if n, err := plain.Count(bg, store.KindClient); err != nil || n != 1 {
		t.Fatalf("plain Count = %d, %v; want 1", n, err)
	}
	if _, err := plain.Get(bg, store.Key(store.KindClient, "0")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("prefixes leak: %v", err)
	}
	for _, c := range []struct {
		s    *store.Redis
		want string
	}{{odd, "0,1,2"}, {plain, "x"}} {
		var ids []string
		if err := c.s.Scan(bg, store.KindClient, func(id string, _ []byte) bool {
			ids = append(ids, id)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		if got := strings.Join(ids, ","); got != c.want {
			t.Fatalf("Scan = %q, want %q", got, c.want)
		}
	}
}

func TestRedisUnreachable(t *testing.T) {
	port := freePort(t) // closed again: nothing listens there
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.OpenRedis(ctx, fmt.Sprintf("redis://:hunter2@127.0.0.1:%d/0", port), store.RedisOptions{})
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("OpenRedis(closed port) = %v, want an unreachable error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestRedisBadURL(t *testing.T) {
	for _, u := range []string{"", "http://127.0.0.1:6379", "redis://:hunter2@127.0.0.1:6379/notadb"} {
		_, err := store.OpenRedis(context.Background(), u, store.RedisOptions{})
		if err == nil || !strings.Contains(err.Error(), "invalid redis url") {
			t.Errorf("OpenRedis(%q) = %v, want an invalid-url error", u, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestRedisBroadcast(t *testing.T) {
	testBroadcast(t, redisURL(t))
}

func TestRedisClusterURLOnSingleServer(t *testing.T) {
	url := redisURL(t)
	if !strings.HasPrefix(url, "redis://") {
		t.Skip("DRIO_TEST_REDIS_URL is not a redis:// url")
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	_, err := store.OpenRedis(ctx, "redis+cluster://"+strings.TrimPrefix(url, "redis://"), store.RedisOptions{})
	if err == nil || !strings.Contains(err.Error(), "not a cluster") {
		t.Fatalf("OpenRedis(redis+cluster:// on a single server) = %v; want a not-a-cluster error", err)
	}
}
