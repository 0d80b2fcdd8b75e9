// badger_atomic.go holds the Badger backend's atomic operations
// (PutIfAbsent, Take, CompareAndSwap), each a read-then-write transaction
// on one key; update, which retries such a transaction when it loses a
// conflict; and write, which runs every write operation through call and
// update.

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// maxTxnTries bounds the retries of a transaction that lost a conflict.
const maxTxnTries = 16

// update runs fn in a read-write transaction, retrying on ErrConflict with
// a small jittered backoff. fn reads and writes the same key, so a conflict
// means another transaction changed that key; the retry sees its result.
func (s *Badger) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	var err error
	for try := 1; try <= maxTxnTries; try++ {
		err = s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		time.Sleep(time.Duration(rand.Int64N(int64(try) * int64(50*time.Microsecond))))
	}
	return fmt.Errorf("store: transaction still conflicting after %d tries (heavy contention on one key): %w; retry the request", maxTxnTries, err)
}

// write runs fn on key as one read-write transaction, retried by update,
// under call: the key is checked first and fn's error is mapped for op.
func (s *Badger) write(ctx context.Context, op, key string, fn func(txn *badger.Txn) error) error {
	return s.call(ctx, op, checkKey(key), func() error { return s.update(ctx, fn) })
}

// PutIfAbsent implements Store. It reads and writes the same key in one
// transaction, so Badger's conflict detection makes it atomic.
func (s *Badger) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	var stored bool
	err := s.write(ctx, "put-if-absent", key, func(txn *badger.Txn) error {
		stored = false
		_, err := txn.Get([]byte(key))
		if err == nil {
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		err = txn.SetEntry(entry(key, value, ttl))
		stored = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	return stored, nil
}

// Take implements Store. The read and the delete touch the same key in one
// transaction (badger#2057: conflict detection is by read set), so of N
// concurrent Takes exactly one commits; the others conflict, retry, and
// find the key gone.
func (s *Badger) Take(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.write(ctx, "take", key, func(txn *badger.Txn) error {
		var err error
		if out, err = read(txn, key); err != nil {
			return err
		}
		return txn.Delete([]byte(key))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CompareAndSwap implements Store, in one transaction that reads and writes
// the same key; a loser of a race retries, sees the winner's value and
// returns false.
func (s *Badger) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	var swapped bool
	err := s.write(ctx, "compare-and-swap", key, func(txn *badger.Txn) error {
		swapped = false
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		equal := false
		if err := item.Value(func(cur []byte) error {
			equal = bytes.Equal(cur, old)
			return nil
		}); err != nil || !equal {
			return err
		}
		err = txn.SetEntry(entry(key, new, ttl))
		swapped = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	return swapped, nil
}
