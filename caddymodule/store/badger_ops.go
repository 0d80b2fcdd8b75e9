// badger_ops.go holds the Badger backend's plain operations (Get, Put,
// Delete, Count), read, which copies a live value out of a transaction, and
// entry, which turns a TTL into Badger's whole-second expiry.

package store

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// entry builds a badger entry whose expiry is never earlier than ttl from
// now: Badger keeps expiry in whole seconds, so the deadline is rounded up
// (a record lives between ttl and ttl+1s).
func entry(key string, value []byte, ttl time.Duration) *badger.Entry {
	e := badger.NewEntry([]byte(key), bytes.Clone(value))
	if ttl > 0 {
		at := time.Now().Add(ttl)
		sec := at.Unix()
		if at.Nanosecond() > 0 {
			sec++
		}
		e.ExpiresAt = uint64(sec)
	}
	return e
}

// read returns a copy of the live value under key in txn, or ErrNotFound.
func read(txn *badger.Txn, key string) ([]byte, error) {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Get implements Store.
func (s *Badger) Get(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.call(ctx, "get", checkKey(key), func() error {
		return s.db.View(func(txn *badger.Txn) error {
			var err error
			out, err = read(txn, key)
			return err
		})
	})
	return out, err
}

// Put implements Store.
func (s *Badger) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.write(ctx, "put", key, func(txn *badger.Txn) error {
		return txn.SetEntry(entry(key, value, ttl))
	})
}

// Delete implements Store.
func (s *Badger) Delete(ctx context.Context, key string) error {
	return s.write(ctx, "delete", key, func(txn *badger.Txn) error {
		return txn.Delete([]byte(key))
	})
}

// Count implements Store by iterating the kind's key prefix (keys only).
func (s *Badger) Count(ctx context.Context, k Kind) (int, error) {
	n := 0
	err := s.call(ctx, "count", checkKind(k), func() error {
		return s.db.View(func(txn *badger.Txn) error {
			o := badger.DefaultIteratorOptions
			o.PrefetchValues = false
			o.Prefix = []byte(Key(k, ""))
			it := txn.NewIterator(o)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if n%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				n++
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
