// badger_incr.go holds the Badger backend's Incr: a read-then-write
// transaction on one key, like the other atomic operations, with the
// increments of one key queued on an in-process lock so that they never
// conflict with each other.

package store

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// incrStripes is how many locks Incr spreads keys over. Two counters that
// share a stripe only queue behind each other; a handful of stripes is
// plenty when each increment is one short transaction.
const incrStripes = 64

// incrSeed hashes keys to stripes.
var incrSeed = maphash.MakeSeed()

// Incr implements Store. A Badger directory is open in one process only, so
// an in-process lock per key (striped) serializes every increment of a
// counter: increments never lose a transaction conflict to each other, and
// a flood on one counter queues instead of exhausting the retries. The
// transaction still reads and writes the key, so a concurrent Put or
// CompareAndSwap on it is detected and retried as usual. An existing
// record keeps its expiry (Badger's whole-second ExpiresAt, copied over).
func (s *Badger) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	var n int64
	err := s.call(ctx, "incr", checkKey(key), func() error {
		mu := &s.incrMu[maphash.String(incrSeed, key)%incrStripes]
		mu.Lock()
		defer mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err // gave up while queued: nothing written
		}
		return s.update(ctx, func(txn *badger.Txn) error {
			item, err := txn.Get([]byte(key))
			if errors.Is(err, badger.ErrKeyNotFound) {
				n = 1
				return txn.SetEntry(entry(key, []byte("1"), ttl))
			}
			if err != nil {
				return err
			}
			var cur int64
			if err := item.Value(func(v []byte) error {
				cur, err = parseCounter(v)
				return err
			}); err != nil {
				return err
			}
			n = cur + 1
			e := badger.NewEntry([]byte(key), strconv.AppendInt(nil, n, 10))
			e.ExpiresAt = item.ExpiresAt()
			return txn.SetEntry(e)
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// parseCounter reads a counter value for Incr: decimal text that can still
// grow by one.
func parseCounter(v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n == math.MaxInt64 {
		return 0, fmt.Errorf("%w (a %d-byte value); Incr works on counters only, so keep other records under other keys", ErrNotInteger, len(v))
	}
	return n, nil
}
