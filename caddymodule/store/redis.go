package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// RedisOptions configures OpenRedis. The zero value is usable.
type RedisOptions struct {
	// Prefix is prepended to every key, so several deployments (or tests)
	// can share one Redis database. Default "drio:".
	Prefix string
	// Logger receives the store's own log lines. Nil discards them.
	Logger *zap.Logger
}

// DefaultRedisPrefix is the key prefix used when RedisOptions.Prefix is empty.
const DefaultRedisPrefix = "drio:"

// Redis is a Store on a Redis server (6.2 or newer: Take uses GETDEL). Every
// operation is one Redis command or one Lua script, so single use and
// compare-and-swap hold across all gateway instances sharing the server.
//
// Durability is the server's: configure appendonly/appendfsync on the Redis
// side for the promise you need; a reply means the server applied the write.
type Redis struct {
	c      *redis.Client
	prefix string
	log    *zap.Logger

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Redis)(nil)

// casScript swaps KEYS[1] from ARGV[1] to ARGV[2] if it currently holds
// ARGV[1]. ARGV[3] is the TTL in milliseconds; "0" means none (a plain SET
// discards any earlier TTL). Lua strings compare byte-for-byte.
var casScript = redis.NewScript(`
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
`)

// OpenRedis connects to the Redis server at rawURL (redis:// or rediss://,
// parsed by go-redis ParseURL, e.g. redis://user:pass@host:6379/0) and
// pings it. Unless the URL sets max_retries, go-redis's automatic retries
// are turned off: a retried write whose first reply was lost would report
// the wrong outcome (a won Take or swap seen as lost), so such failures
// surface as errors instead.
func OpenRedis(ctx context.Context, rawURL string, opts RedisOptions) (*Redis, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: invalid redis url %q: %w; use redis://[user:password@]host:port[/db]", redactURL(rawURL), err)
	}
	if u, perr := url.Parse(rawURL); perr == nil && !u.Query().Has("max_retries") {
		o.MaxRetries = -1
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	c := redis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("store: redis at %s is unreachable: %w; check that the server is running and that the url and credentials are right", o.Addr, err)
	}
	log.Debug("redis store connected", zap.String("addr", o.Addr), zap.Int("db", o.DB), zap.String("prefix", prefix))
	return &Redis{c: c, prefix: prefix, log: log}, nil
}

// redactURL hides the password of a URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// Close closes the connection pool. It is idempotent.
func (s *Redis) Close() error {
	s.closeOnce.Do(func() {
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
	case errors.Is(err, redis.ErrClosed):
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
	err := s.c.Do(ctx, s.setArgs(key, value, ttl, "nx")...).Err()
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
	return s.value("take", s.c.GetDel(ctx, s.k(key)))
}

// CompareAndSwap implements Store with one Lua script (GET, compare, SET).
func (s *Redis) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := s.pre(ctx, key); err != nil {
		return false, err
	}
	n, err := casScript.Run(ctx, s.c, []string{s.k(key)}, old, new, pxMillis(ttl)).Int64()
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

// Count implements Store with SCAN MATCH prefix+kind+"/*". It walks the
// whole keyspace (O(keys in the database)): for tests and benchmarks only.
// SCAN may report a key twice when the server rehashes during the walk, so
// keys are de-duplicated.
func (s *Redis) Count(ctx context.Context, k Kind) (int, error) {
	if err := checkKind(k); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	pattern := globEscape(s.k(Key(k, ""))) + "*"
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		keys, next, err := s.c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return 0, s.mapErr("count", err)
		}
		for _, key := range keys {
			seen[key] = struct{}{}
		}
		if next == 0 {
			return len(seen), nil
		}
		cursor = next
	}
}

// SCAN and MGET batch sizes for Redis.Scan: redisScanCount is the COUNT hint
// of each SCAN call (as for Count), redisMGetBatch the most keys one MGET
// asks for, which bounds the values held in memory at once.
const (
	redisScanCount = 1000
	redisMGetBatch = 100
)

// Scan implements Store with SCAN MATCH prefix+kind+"/*" COUNT 1000, then
// MGET on each batch of keys (at most 100 per MGET). It walks the whole
// keyspace (O(keys in the database)), one round trip per SCAN and per MGET;
// the server keeps no state for a scan but its cursor, so a slow fn costs
// it nothing. A key whose record was deleted
// or expired between SCAN and MGET (a nil reply) is skipped. SCAN may
// return a key twice when the server rehashes during the walk, so the keys
// already seen are remembered for the scan's duration (memory: O(keys of
// the kind), keys only, never values) and a key is fetched at most once.
// The prefix is glob-escaped in the pattern, and '*' matches any bytes, so
// ids holding '/', glob characters or binary bytes are all found.
func (s *Redis) Scan(ctx context.Context, k Kind, fn func(id string, value []byte) bool) error {
	if err := checkKind(k); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	prefix := s.k(Key(k, ""))
	pattern := globEscape(prefix) + "*"
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		keys, next, err := s.c.Scan(ctx, cursor, pattern, redisScanCount).Result()
		if err != nil {
			return s.mapErr("scan", err)
		}
		fresh := keys[:0]
		for _, key := range keys {
			if _, dup := seen[key]; dup || !strings.HasPrefix(key, prefix) {
				continue
			}
			seen[key] = struct{}{}
			fresh = append(fresh, key)
		}
		for len(fresh) > 0 {
			n := min(len(fresh), redisMGetBatch)
			vals, err := s.c.MGet(ctx, fresh[:n]...).Result()
			if err != nil {
				return s.mapErr("scan", err)
			}
			for i, v := range vals {
				str, ok := v.(string)
				if !ok {
					continue // deleted or expired since SCAN returned it
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if !fn(fresh[i][len(prefix):], []byte(str)) {
					return nil
				}
			}
			fresh = fresh[n:]
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// globEscape escapes the Redis glob metacharacters in s.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
