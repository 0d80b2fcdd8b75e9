package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// RedisOptions configures OpenRedis. The zero value is usable.
type RedisOptions struct {
	// Prefix is prepended to every key, so several deployments (or tests)
	// can share one Redis database. Default "drio:". On a Cluster, a
	// prefix holding a hash tag ("{…}") would put every record in one slot.
	Prefix string
	// Logger receives the store's own log lines, and go-redis's (pool dial failures,
	// reconnections, topology changes: at Warn, each distinct line at most once per 10 s).
	// go-redis has one logger per process, so the last store opened with a Logger gets
	// them. Nil discards the store's lines and leaves go-redis's on stderr.
	Logger *zap.Logger
}

// DefaultRedisPrefix is the key prefix used when RedisOptions.Prefix is empty.
const DefaultRedisPrefix = "drio:"

// Redis is a Store on Redis 6.2 or newer (Take uses GETDEL): one server, a Redis Cluster or
// a master found through Sentinel (see OpenRedis). Every operation is one Redis command or
// one Lua script on one key, so single use and compare-and-swap hold across all gateway
// instances sharing the data, and no command spans two Cluster hash slots.
//
// Durability is the server's: configure appendonly/appendfsync on the Redis
// side for the promise you need; a reply means the server applied the write.
type Redis struct {
	c       redis.UniversalClient
	prefix  string
	log     *zap.Logger
	retries bool // the URL set max_retries: writes may be re-sent (see noRetry)

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Redis)(nil)

// casSource swaps KEYS[1] from ARGV[1] to ARGV[2] if it currently holds
// ARGV[1]. ARGV[3] is the TTL in milliseconds; "0" means none (a plain SET
// discards any earlier TTL). Lua strings compare byte-for-byte. It touches
// KEYS[1] only, so it runs on a Cluster whatever the key's slot.
const casSource = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur ~= ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
`

// casSHA is casSource's SHA-1, for EVALSHA.
var casSHA = redis.NewScript(casSource).Hash()

// OpenRedis connects to Redis at rawURL and pings it. The scheme picks the
// topology; the rest is go-redis's URL syntax, parsed by go-redis:
//
//	redis://[user:password@]host[:port][/db][?options]        one server
//	rediss://…                                                 the same over TLS
//	unix://[user:password@]/path/to/socket[?db=N]              one server, Unix socket
//	redis+cluster://[user:password@]host:port[?addr=host2:port&addr=host3:port]
//	rediss+cluster://…                                         Redis Cluster (TLS)
//	redis+sentinel://[sentinel_user:sentinel_password@]host:port[/db]?master_name=NAME[&addr=host2:port][&username=U&password=P]
//	rediss+sentinel://…                                        Sentinel (TLS)
//
// For Cluster, the host and each addr= are seed nodes (any reachable master
// or replica; the client discovers the rest), and the database is always 0.
// For Sentinel, the host and each addr= are sentinels and master_name= is the
// name they monitor; as in go-redis, the user:password before the host
// authenticate to the sentinels, and the username= and password= parameters
// to the master. With rediss+, every node's certificate is checked against
// the first host name of the URL (go-redis's behaviour). Options (go-redis's
// names) include dial_timeout, read_timeout, write_timeout, pool_size and
// max_retries; options that send reads to replicas are refused, since a
// replica can lag behind its master. Any other scheme is refused with the
// list of these forms; passwords never appear in errors or logs (see
// RedactRedisURL). A password holding ':', '@', '/', '?', '#', '&' or '%'
// must be percent-encoded.
//
// Unless the URL sets max_retries, go-redis's automatic retries are turned
// off: a retried write whose first reply was lost would report the wrong
// outcome (a won Take or swap seen as lost), so such failures surface as
// errors instead. On a Cluster, Take, PutIfAbsent and CompareAndSwap are
// also never re-sent after a network error (MOVED and ASK redirects are
// still followed: the node that answers them did not run the command).
func OpenRedis(ctx context.Context, rawURL string, opts RedisOptions) (*Redis, error) {
	t, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	routeLibraryLog(opts.Logger)
	c := t.newClient()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		hint := "check that the server is running and that the url and credentials are right"
		if t.topology == topoCluster && strings.Contains(err.Error(), "cluster support disabled") {
			hint = "it is not a cluster: use redis:// for a single server"
		}
		return nil, fmt.Errorf("store: %s at %s is unreachable: %s; %s", t.topology, t.where, scrub(err.Error(), t.secrets), hint)
	}
	log.Debug("redis store connected", zap.String("topology", t.topology), zap.String("addr", t.where),
		zap.Int("db", t.db), zap.String("prefix", prefix))
	return &Redis{c: c, prefix: prefix, log: log, retries: t.retries}, nil
}

// Close closes the connection pool. It is idempotent.
func (s *Redis) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.c.Close(); err != nil {
			s.closeErr = fmt.Errorf("store: closing redis client: %w", err)
		}
	})
	return s.closeErr
}

func (s *Redis) k(key string) string { return s.prefix + key }

// pxMillis converts a ttl to whole milliseconds, rounding up so a record
// never expires before ttl; ttl <= 0 gives 0 (no expiry).
func pxMillis(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

func (s *Redis) pre(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

func (s *Redis) mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, redis.ErrClosed) && s.closed.Load():
		return errors.New("store: the redis store is closed; this is a bug in the caller, which used it after Close")
	case strings.Contains(strings.ToLower(err.Error()), "unknown command"):
		return fmt.Errorf("store: redis %s: %w; the server is too old, upgrade to Redis 6.2 or newer", op, err)
	default:
		return fmt.Errorf("store: redis %s: %w", op, err)
	}
}

// value returns the record a GET-like command (GET, GETDEL) replied with:
// a nil reply is ErrNotFound, any other failure is mapped for op.
func (s *Redis) value(op string, cmd *redis.StringCmd) ([]byte, error) {
	v, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, s.mapErr(op, err)
	}
	return v, nil
}

// setArgs builds SET key value, then flags (such as NX), then PX when
// ttl > 0.
func (s *Redis) setArgs(key string, value []byte, ttl time.Duration, flags ...any) []any {
	args := append([]any{"set", s.k(key), value}, flags...)
	if px := pxMillis(ttl); px > 0 {
		args = append(args, "px", px)
	}
	return args
}

// noRetry marks a command go-redis must not send twice. A Cluster client
// re-sends a command after a network error whatever MaxRetries says; for a
// GETDEL, SET NX or swap whose first reply was lost, the second run would
// report the wrong outcome (a won Take seen as lost). MOVED and ASK are
// still followed. go-redis honours Cmder.NoRetry on every client.
type noRetry struct{ redis.Cmder }

func (noRetry) NoRetry() bool { return true }

// once runs cmd, which must not run twice, and returns its error: marked
// noRetry unless the URL asked for retries with max_retries.
func (s *Redis) once(ctx context.Context, cmd redis.Cmder) error {
	if s.retries {
		return s.c.Process(ctx, cmd)
	}
	return s.c.Process(ctx, noRetry{cmd})
}

// Get implements Store with GET.
func (s *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.pre(ctx, key); err != nil {
		return nil, err
	}
	return s.value("get", s.c.Get(ctx, s.k(key)))
}

// Put implements Store with SET (PX when ttl > 0).
func (s *Redis) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.pre(ctx, key); err != nil {
		return err
	}
	return s.mapErr("put", s.c.Do(ctx, s.setArgs(key, value, ttl)...).Err())
}

// PutIfAbsent implements Store with SET NX (PX when ttl > 0).
func (s *Redis) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.pre(ctx, key); err != nil {
		return false, err
	}
	err := s.once(ctx, redis.NewCmd(ctx, s.setArgs(key, value, ttl, "nx")...))
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, s.mapErr("put-if-absent", err)
	}
	return true, nil
}

// Take implements Store with GETDEL, atomic on the server.
func (s *Redis) Take(ctx context.Context, key string) ([]byte, error) {
	if err := s.pre(ctx, key); err != nil {
		return nil, err
	}
	cmd := redis.NewStringCmd(ctx, "getdel", s.k(key))
	_ = s.once(ctx, cmd)
	return s.value("take", cmd)
}

// CompareAndSwap implements Store with one Lua script (GET, compare, SET).
func (s *Redis) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := s.pre(ctx, key); err != nil {
		return false, err
	}
	run := func(cmd string, script any) *redis.Cmd {
		c := redis.NewCmd(ctx, cmd, script, 1, s.k(key), old, new, pxMillis(ttl))
		_ = s.once(ctx, c)
		return c
	}
	cmd := run("evalsha", casSHA)
	if err := cmd.Err(); errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = run("eval", casSource) // not cached on that server (a restart, a new node): nothing ran
	}
	n, err := cmd.Int64()
	if err != nil {
		return false, s.mapErr("compare-and-swap", err)
	}
	return n == 1, nil
}

// Delete implements Store with DEL.
func (s *Redis) Delete(ctx context.Context, key string) error {
	if err := s.pre(ctx, key); err != nil {
		return err
	}
	return s.mapErr("delete", s.c.Del(ctx, s.k(key)).Err())
}
