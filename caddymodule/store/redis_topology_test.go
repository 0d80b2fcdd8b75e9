// redis_topology_test.go runs the conformance suite, and the checks that matter between
// gateway instances, on a Redis Cluster of three masters and on a master behind a Sentinel,
// both started by the test on loopback ports (or given by DRIO_TEST_REDIS_CLUSTER_URL and
// DRIO_TEST_REDIS_SENTINEL_URL).

package store_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
)

// The credentials the test topologies require: an ACL user on the Cluster, a
// requirepass on the Sentinel's master.
const (
	topoUser     = "drio"
	topoPassword = "s3cret-Pa55"
)

func TestRedisCluster(t *testing.T) {
	url, masters := redisClusterURL(t)
	runTopology(t, url)
	if masters == nil {
		return // an external cluster: its masters are not known here
	}
	t.Run("ScanVisitsEveryMaster", func(t *testing.T) {
		s := openRedis(t, url, uniquePrefix(t))
		want := map[string]bool{}
		for i := range 300 {
			id := fmt.Sprint("c", i)
			want[id] = true
			if err := s.Put(bg, store.Key(store.KindClient, id), []byte(id), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range masters {
			n, err := m.DBSize(bg).Result()
			if err != nil || n == 0 {
				t.Fatalf("master %s holds %d keys (%v); the records should spread over every master", m.Options().Addr, n, err)
			}
		}
		if n, err := s.Count(bg, store.KindClient); err != nil || n != len(want) {
			t.Fatalf("Count = %d, %v; want %d", n, err, len(want))
		}
		got := 0
		if err := s.Scan(bg, store.KindClient, func(id string, v []byte) bool {
			if !want[id] || string(v) != id {
				t.Errorf("Scan gave %q = %q", id, v)
			}
			got++
			return true
		}); err != nil || got != len(want) {
			t.Fatalf("Scan saw %d records, %v; want %d", got, err, len(want))
		}
	})
	t.Run("WrongPasswordIsNotLogged", func(t *testing.T) {
		bad := strings.Replace(url, ":"+topoPassword+"@", ":wrong-Pa55word@", 1)
		if bad == url {
			t.Skip("the cluster URL has no password")
		}
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		_, err := store.OpenRedis(ctx, bad, store.RedisOptions{})
		if err == nil || strings.Contains(err.Error(), "wrong-Pa55word") || !strings.Contains(err.Error(), "redis cluster") {
			t.Fatalf("OpenRedis(wrong password) = %v; want an error naming the cluster and not the password", err)
		}
	})
}

func TestRedisSentinel(t *testing.T) {
	runTopology(t, redisSentinelURL(t))
}

// runTopology runs what every Redis topology must pass against url.
func runTopology(t *testing.T, url string) {
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openRedis(t, url, uniquePrefix(t)) })
	})
	t.Run("TwoInstancesSingleTake", func(t *testing.T) { testTwoInstancesSingleTake(t, url) })
	t.Run("Broadcast", func(t *testing.T) { testBroadcast(t, url) })
}

// redisClusterURL returns the URL of a Redis Cluster: DRIO_TEST_REDIS_CLUSTER_URL if set,
// otherwise three masters started for the test (with clients on each, for checks).
func redisClusterURL(t *testing.T) (string, []*redis.Client) {
	t.Helper()
	if u := os.Getenv("DRIO_TEST_REDIS_CLUSTER_URL"); u != "" {
		return u, nil
	}
	orURL := "DRIO_TEST_REDIS_CLUSTER_URL=redis+cluster://host:port?addr=host2:port"
	bin := requireRedisBinary(t, "redis-server", orURL)
	cli := requireRedisBinary(t, "redis-cli", orURL)
	var addrs []string
	var masters []*redis.Client
	for range 3 {
		port := startRedisServer(t, bin, func(port int, _ string) []string {
			return append(redisArgs(port),
				"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(freePort(t)), "--cluster-node-timeout", "5000",
				"--user", "default", "off",
				"--user", topoUser, "on", ">"+topoPassword, "~*", "&*", "+@all")
		})
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		addrs = append(addrs, addr)
		c := redis.NewClient(&redis.Options{Addr: addr, Username: topoUser, Password: topoPassword})
		t.Cleanup(func() { _ = c.Close() })
		masters = append(masters, c)
	}
	ctx, cancel := context.WithTimeout(bg, 60*time.Second)
	defer cancel()
	args := append([]string{"--user", topoUser, "--pass", topoPassword, "--no-auth-warning", "--cluster", "create"}, addrs...)
	out, err := exec.CommandContext(ctx, cli, append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, m := range masters {
		waitFor(t, ctx, "cluster_state:ok on "+m.Options().Addr, func() bool {
			info, err := m.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
	}
	return fmt.Sprintf("redis+cluster://%s:%s@%s?addr=%s&addr=%s", topoUser, topoPassword, addrs[0], addrs[1], addrs[2]), masters
}

// redisSentinelURL returns the URL of a master behind Sentinel: DRIO_TEST_REDIS_SENTINEL_URL
// if set, otherwise a master (with a password) and one sentinel monitoring it, started for
// the test. The sentinel runs as `redis-server <conf> --sentinel`, the program that the
// redis-sentinel command is a link to.
func redisSentinelURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("DRIO_TEST_REDIS_SENTINEL_URL"); u != "" {
		return u
	}
	bin := requireRedisBinary(t, "redis-server", "DRIO_TEST_REDIS_SENTINEL_URL=redis+sentinel://host:port?master_name=NAME")
	master := startRedisServer(t, bin, func(port int, _ string) []string {
		return append(redisArgs(port), "--requirepass", topoPassword)
	})
	sentinel := startRedisServer(t, bin, func(port int, dir string) []string {
		conf := filepath.Join(dir, "sentinel.conf") // the sentinel rewrites it: writable
		body := fmt.Sprintf("sentinel monitor drio 127.0.0.1 %d 1\nsentinel auth-pass drio %s\n", master, topoPassword)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{conf, "--sentinel", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--daemonize", "no", "--loglevel", "warning"}
	})
	c := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sentinel)})
	defer c.Close()
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	want := []string{"127.0.0.1", strconv.Itoa(master)}
	waitFor(t, ctx, "the sentinel to report its master", func() bool {
		got, err := c.GetMasterAddrByName(ctx, "drio").Result()
		return err == nil && len(got) == 2 && got[0] == want[0] && got[1] == want[1]
	})
	return fmt.Sprintf("redis+sentinel://127.0.0.1:%d/0?master_name=drio&password=%s", sentinel, topoPassword)
}

// waitFor polls ok until it holds, failing the test when ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// testBroadcast checks that a message published through one store reaches a subscriber on
// another (two gateway instances), on every topology: classic pub/sub is cluster-wide.
func testBroadcast(t *testing.T, url string) {
	prefix := uniquePrefix(t)
	pub, sub := openRedis(t, url, prefix), openRedis(t, url, prefix)
	ctx, cancel := context.WithCancel(bg)
	up, got, done := make(chan struct{}, 8), make(chan string, 8), make(chan struct{})
	go func() {
		defer close(done)
		sub.Subscribe(ctx, "revoked", func(msg string) { got <- msg }, func(isUp bool) {
			if isUp {
				up <- struct{}{}
			}
		})
	}()
	defer func() { cancel(); <-done }()
	deadline := time.After(15 * time.Second)
	select {
	case <-up:
	case <-deadline:
		t.Fatal("the subscription did not come up within 15s")
	}
	for {
		if err := pub.Publish(bg, "revoked", "sid-1"); err != nil {
			t.Fatal(err)
		}
		select {
		case msg := <-got:
			if msg != "sid-1" {
				t.Fatalf("got %q, want sid-1", msg)
			}
			return
		case <-time.After(200 * time.Millisecond): // publish again: delivery is at most once
		case <-deadline:
			t.Fatal("no message within 15s")
		}
	}
}
