// redis_incr.go holds the Redis backend's Incr: INCR and, on a key it
// creates, PEXPIRE, in one Lua script so that both happen or neither does.

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// incrSource adds one to KEYS[1] and returns the new value. ARGV[1] is the
// TTL in milliseconds ("0": none), set only when the key did not exist, so
// later increments never move a window's end. (PEXPIRE NX would do the same
// without a script but needs Redis 7; the store supports 6.2.) It touches
// KEYS[1] only, so it runs on a Cluster whatever the key's slot. INCR
// refuses a value that is not a decimal int64, or one that would overflow,
// and the script stops there with nothing written. The script returns the
// new value as the stored text, not INCR's reply: Lua would turn that into
// a double and round counters past 2^53.
const incrSource = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('INCR', KEYS[1])
local ttl = tonumber(ARGV[1])
if existed == 0 and ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return redis.call('GET', KEYS[1])
`

// incrSHA is incrSource's SHA-1, for EVALSHA.
var incrSHA = redis.NewScript(incrSource).Hash()

// Incr implements Store with one Lua script (EXISTS, INCR, PEXPIRE on a new
// key): one round trip, atomic on the server. Like the other atomic
// operations it is not re-sent after a lost reply unless the URL sets
// max_retries, since a second run would count twice.
func (s *Redis) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := s.pre(ctx, key); err != nil {
		return 0, err
	}
	run := func(cmd string, script any) *redis.Cmd {
		c := redis.NewCmd(ctx, cmd, script, 1, s.k(key), pxMillis(ttl))
		_ = s.once(ctx, c)
		return c
	}
	cmd := run("evalsha", incrSHA)
	if err := cmd.Err(); errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = run("eval", incrSource) // not cached on that server (a restart, a new node): nothing ran
	}
	n, err := cmd.Int64() // parses the returned text
	if err != nil && (strings.Contains(err.Error(), "not an integer or out of range") || strings.Contains(err.Error(), "would overflow")) {
		return 0, fmt.Errorf("store: redis incr: %w (%v); Incr works on counters only, so keep other records under other keys", ErrNotInteger, err)
	}
	if err != nil {
		return 0, s.mapErr("incr", err)
	}
	return n, nil
}
