package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// lossyRedis is a fake Redis Cluster of one node owning every slot. It runs
// each write (SET, GETDEL, EVALSHA, EVAL) it receives by counting it, then
// drops the connection before replying: the reply is lost, as when a network
// fails after the server applied a command.
type lossyRedis struct {
	addr string
	mu   sync.Mutex
	runs map[string]int
}

func startLossyRedis(t *testing.T) *lossyRedis {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &lossyRedis{addr: l.Addr().String(), runs: map[string]int{}}
	var wg sync.WaitGroup
	var cmu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		cmu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return f
}

func (f *lossyRedis) count(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[cmd]
}

func (f *lossyRedis) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readRESPArray(r)
		if err != nil {
			return
		}
		var reply string
		switch name := strings.ToLower(args[0]); name {
		case "ping":
			reply = "+PONG\r\n"
		case "cluster":
			host, port, _ := net.SplitHostPort(f.addr)
			reply = fmt.Sprintf("*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$%d\r\n%s\r\n:%s\r\n$40\r\n%s\r\n",
				len(host), host, port, strings.Repeat("a", 40))
		case "set", "getdel", "evalsha", "eval":
			f.mu.Lock()
			f.runs[name]++
			f.mu.Unlock()
			return // applied; the reply is lost
		default:
			reply = "-ERR unknown command '" + name + "'\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// readRESPArray reads one command: an array of bulk strings.
func readRESPArray(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 3 || line[0] != '*' {
		return nil, errors.New("not an array")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, errors.New("bad array length")
	}
	args := make([]string, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil || len(line) < 3 || line[0] != '$' {
			return nil, errors.New("not a bulk string")
		}
		size, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil || size < 0 {
			return nil, errors.New("bad bulk length")
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

// A Cluster client re-sends a command after a network error whatever
// MaxRetries says: this is why the store marks its one-shot writes noRetry.
func TestClusterClientResendsUnlessNoRetry(t *testing.T) {
	f := startLossyRedis(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{f.addr}, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = c.GetDel(ctx, "k").Err()
	unmarked := f.count("getdel")
	if unmarked < 2 {
		t.Fatalf("go-redis ran a lost GETDEL %d times; the store's noRetry guard may no longer be needed", unmarked)
	}
	_ = c.Process(ctx, noRetry{redis.NewStringCmd(ctx, "getdel", "k2")})
	if n := f.count("getdel") - unmarked; n != 1 {
		t.Fatalf("go-redis ran a lost GETDEL marked noRetry %d times; want once", n)
	}
}

// On a Cluster, a Take, PutIfAbsent, CompareAndSwap or Incr whose reply is
// lost runs once and fails: it is not re-sent, which could report the wrong
// outcome (or, for Incr, count twice). Put, which may run twice harmlessly, is not checked.
func TestRedisClusterOneShotWritesRunOnce(t *testing.T) {
	for _, c := range []struct {
		name, cmd string
		op        func(ctx context.Context, s *Redis) error
	}{
		{"Take", "getdel", func(ctx context.Context, s *Redis) error {
			_, err := s.Take(ctx, Key(KindCode, "c"))
			return err
		}},
		{"PutIfAbsent", "set", func(ctx context.Context, s *Redis) error {
			_, err := s.PutIfAbsent(ctx, Key(KindClient, "c"), []byte("v"), time.Minute)
			return err
		}},
		{"CompareAndSwap", "evalsha", func(ctx context.Context, s *Redis) error {
			_, err := s.CompareAndSwap(ctx, Key(KindSession, "s"), []byte("a"), []byte("b"), time.Minute)
			return err
		}},
		{"Incr", "evalsha", func(ctx context.Context, s *Redis) error {
			_, err := s.Incr(ctx, Key(KindRateLimit, "w"), time.Minute)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := startLossyRedis(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := OpenRedis(ctx, "redis+cluster://"+f.addr, RedisOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = c.op(ctx, s)
			if err == nil || errors.Is(err, ErrNotFound) {
				t.Fatalf("%s with its reply lost = %v; want an error", c.name, err)
			}
			if n := f.count(c.cmd); n != 1 {
				t.Fatalf("%s sent %s %d times; want once", c.name, strings.ToUpper(c.cmd), n)
			}
			if n := f.count("eval"); n != 0 {
				t.Fatalf("a lost EVALSHA fell back to EVAL %d times", n)
			}
		})
	}
}
