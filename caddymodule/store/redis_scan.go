// redis_scan.go holds Count and Scan for Redis: SCAN on every server that holds keys (each
// master of a Cluster, else the one server), then values by single-key GETs, pipelined, so
// no command spans two Cluster hash slots.

package store

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// SCAN and GET batch sizes for Redis.Count and Scan: redisScanCount is the
// COUNT hint of each SCAN call, redisGetBatch the most GETs one pipeline
// sends, which bounds the values held in memory at once.
const (
	redisScanCount = 1000
	redisGetBatch  = 100
)

// Count implements Store with SCAN MATCH prefix+kind+"/*" on every master.
// It walks the whole keyspace (O(keys in the database)): for tests and
// benchmarks only. SCAN may report a key twice when the server rehashes
// during the walk, and a key moving between Cluster masters may be seen on
// both, so keys are de-duplicated.
func (s *Redis) Count(ctx context.Context, k Kind) (int, error) {
	n := 0
	err := s.walk(ctx, k, "count", func(keys []string) (bool, error) {
		n += len(keys)
		return true, nil
	})
	return n, err
}

// Scan implements Store with SCAN MATCH prefix+kind+"/*" COUNT 1000 on each
// master (on a Cluster; on the one server otherwise), one master after the
// other, then a pipeline of GETs per batch of at most 100 keys: one GET per
// key, never MGET, whose keys would span Cluster hash slots (go-redis splits
// a Cluster pipeline by node, one round trip per node). It walks the whole
// keyspace (O(keys in the database)); the servers keep no state for a scan
// but its cursor, so a slow fn costs them nothing. A key whose record was
// deleted or expired between SCAN and GET (a nil reply) is skipped. SCAN may
// return a key twice when the server rehashes during the walk, so the keys
// already seen are remembered for the scan's duration (memory: O(keys of
// the kind), keys only, never values) and a key is fetched at most once.
// While a Cluster is resharding, a record moving from a master not yet
// walked to one already walked can be missed. The prefix is glob-escaped in
// the pattern, and '*' matches any bytes, so ids holding '/', glob
// characters or binary bytes are all found.
func (s *Redis) Scan(ctx context.Context, k Kind, fn func(id string, value []byte) bool) error {
	prefix := s.k(Key(k, ""))
	return s.walk(ctx, k, "scan", func(keys []string) (bool, error) {
		for len(keys) > 0 {
			n := min(len(keys), redisGetBatch)
			cmds := make([]*redis.StringCmd, n)
			_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, key := range keys[:n] {
					cmds[i] = p.Get(ctx, key)
				}
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				return false, s.mapErr("scan", err)
			}
			for i, cmd := range cmds {
				v, err := cmd.Bytes()
				if errors.Is(err, redis.Nil) {
					continue // deleted or expired since SCAN returned it
				}
				if err != nil {
					return false, s.mapErr("scan", err)
				}
				if err := ctx.Err(); err != nil {
					return false, err
				}
				if !fn(keys[i][len(prefix):], v) {
					return false, nil
				}
			}
			keys = keys[n:]
		}
		return true, nil
	})
}

// walk runs SCAN MATCH prefix+kind+"/*" on each master in turn and calls
// batch with the keys of each SCAN reply not seen before, until batch
// returns false or an error, or the keys run out. op names the operation in
// errors.
func (s *Redis) walk(ctx context.Context, k Kind, op string, batch func(keys []string) (bool, error)) error {
	if err := checkKind(k); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	prefix := s.k(Key(k, ""))
	pattern := globEscape(prefix) + "*"
	masters, err := s.masters(ctx)
	if err != nil {
		return s.mapErr(op, err)
	}
	seen := make(map[string]struct{})
	for _, m := range masters {
		var cursor uint64
		for {
			keys, next, err := m.Scan(ctx, cursor, pattern, redisScanCount).Result()
			if err != nil {
				return s.mapErr(op, err)
			}
			fresh := keys[:0]
			for _, key := range keys {
				if _, dup := seen[key]; dup || !strings.HasPrefix(key, prefix) {
					continue
				}
				seen[key] = struct{}{}
				fresh = append(fresh, key)
			}
			if len(fresh) > 0 {
				more, err := batch(fresh)
				if err != nil || !more {
					return err
				}
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
	return nil
}

// masters returns the servers whose keyspaces together hold every key: the
// masters of a Cluster, else the one server (for Sentinel, the current
// master).
func (s *Redis) masters(ctx context.Context) ([]redis.Cmdable, error) {
	cc, ok := s.c.(*redis.ClusterClient)
	if !ok {
		return []redis.Cmdable{s.c}, nil
	}
	var mu sync.Mutex
	var out []redis.Cmdable
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, c)
		return nil
	})
	return out, err
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
