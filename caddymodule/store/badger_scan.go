// badger_scan.go holds the Badger backend's Scan: it walks a kind's key
// prefix in batches, each copied out of its own read-only transaction, and
// hands a batch to the caller's fn only after that transaction has ended.

package store

import (
	"context"

	"github.com/dgraph-io/badger/v4"
)

// A batch of a Badger Scan holds at most scanBatchRecords records and stops
// growing once it holds scanBatchBytes of keys and values (it always takes
// at least one record, however large).
const (
	scanBatchRecords = 256
	scanBatchBytes   = 1 << 20
)

// scanned is one record copied out of a Scan batch's transaction.
type scanned struct {
	id    string
	value []byte
}

// Scan implements Store.
//
// Each batch is read in its own read-only transaction (a consistent
// snapshot) under the store's read lock, copied out, and only then passed
// to fn, with neither the transaction nor the lock held. Holding them
// across fn would let a slow consumer (an admin client reading a streamed
// listing) pin every record version newer than the snapshot, stalling
// compaction and value-log GC, would make Close wait for it, and would
// deadlock a fn that calls the store while Close waits for the lock. The
// next batch seeks just past the last key of the previous one; Badger
// iterates keys in order, so no id is seen twice and a record present for
// the whole scan is seen once, whichever batch it falls in. Expired and
// deleted records are skipped by the iterator.
func (s *Badger) Scan(ctx context.Context, k Kind, fn func(id string, value []byte) bool) error {
	bad := checkKind(k)
	prefix := []byte(Key(k, ""))
	from := prefix // the first key the next batch may return
	batch := make([]scanned, 0, scanBatchRecords)
	for {
		batch = batch[:0]
		more := false
		err := s.call(ctx, "scan", bad, func() error {
			return s.db.View(func(txn *badger.Txn) error {
				var err error
				batch, more, err = scanBatch(ctx, txn, prefix, from, batch)
				return err
			})
		})
		if err != nil {
			return err
		}
		for i, r := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !fn(r.id, r.value) {
				return nil
			}
			batch[i].value = nil // fn owns it now; don't keep it alive
		}
		if !more || len(batch) == 0 {
			return nil
		}
		// The smallest key after the last one seen: that key plus a NUL.
		last := batch[len(batch)-1].id
		from = append(append(append(from[:0:0], prefix...), last...), 0)
	}
}

// scanBatch appends to out copies of the live records of txn whose keys
// start with prefix and are >= from, until the batch is full. more reports
// whether records beyond the batch remain.
func scanBatch(ctx context.Context, txn *badger.Txn, prefix, from []byte, out []scanned) (_ []scanned, more bool, _ error) {
	o := badger.DefaultIteratorOptions
	o.Prefix = prefix
	it := txn.NewIterator(o)
	defer it.Close()
	size := 0
	for it.Seek(from); it.Valid(); it.Next() {
		if len(out) >= scanBatchRecords || size >= scanBatchBytes {
			return out, true, nil
		}
		if err := ctx.Err(); err != nil {
			return out, false, err
		}
		item := it.Item()
		if item.IsDeletedOrExpired() {
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return out, false, err
		}
		key := item.Key()
		out = append(out, scanned{id: string(key[len(prefix):]), value: v})
		size += len(key) + len(v)
	}
	return out, false, nil
}
