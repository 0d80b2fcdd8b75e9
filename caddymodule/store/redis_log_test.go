package store

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestRedisLibraryLogRouted: once a store is opened with a logger, go-redis's own lines go
// to it at Warn (not to stderr), without go-redis's repeated prefix, and the same line is
// logged once however often go-redis repeats it.
func TestRedisLibraryLogRouted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now: every dial fails

	core, logs := observer.New(zapcore.DebugLevel)
	if _, err := OpenRedis(context.Background(), "redis://"+addr, RedisOptions{Logger: zap.New(core)}); err == nil {
		t.Fatal("OpenRedis reached a closed port")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for range 3 {
		if err := c.Ping(context.Background()).Err(); err == nil {
			t.Fatal("Ping reached a closed port")
		}
	}
	lines := logs.FilterMessageSnippet(addr).All()
	if len(lines) != 1 {
		t.Fatalf("%d log entries naming %s, want 1 (the open's dial failure, repeats sampled away): %v", len(lines), addr, lines)
	}
	if e := lines[0]; e.Level != zapcore.WarnLevel || strings.HasPrefix(e.Message, "redis: ") || !strings.Contains(e.Message, "failed to dial") {
		t.Errorf("go-redis line logged as %v %q, want Warn, a dial failure, no repeated prefix", e.Level, e.Message)
	}
}
