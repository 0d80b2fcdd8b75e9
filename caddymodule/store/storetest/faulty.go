package storetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// Op names a write operation of store.Store, for Faulty.FailOp.
type Op string

// The write operations Faulty can fail with FailOp. Reads (Get and Scan) fail
// only with FailReads (a store that is down, not a full disk, which must not
// stop reads); Count and Close never fail.
const (
	OpPut            Op = "Put"
	OpPutIfAbsent    Op = "PutIfAbsent"
	OpTake           Op = "Take"
	OpCompareAndSwap Op = "CompareAndSwap"
	OpDelete         Op = "Delete"
	OpIncr           Op = "Incr"
)

// Faulty decorates a store.Store and fails writes (and, on request, reads) on
// demand, for disk-full and storage-outage tests. A failed write never
// reaches the wrapped store, so it has no effect: exactly what a commit
// refused for ENOSPC looks like. The returned error wraps the injected one,
// so errors.Is(err, syscall.ENOSPC) holds. Faulty is safe for concurrent
// use; with no fault armed it is a transparent pass-through.
type Faulty struct {
	store.Store

	mu     sync.Mutex
	all    error        // fail every write while set
	reads  error        // fail every Get and Scan while set
	lose   int          // compare-and-swaps left to lose
	lost   int          // compare-and-swaps lost
	ops    map[Op]error // fail every write of these operations
	nth    int          // writes left until the armed one-shot fault; 0 when none
	nthErr error
	writes int // writes seen
	failed int // writes failed
}

// NewFaulty wraps s. Closing the Faulty closes s.
func NewFaulty(s store.Store) *Faulty {
	return &Faulty{Store: s, ops: make(map[Op]error)}
}

// FailWrites makes every write fail with err until Heal.
func (f *Faulty) FailWrites(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = err
}

// FailReads makes every Get and Scan fail with err until Heal: with
// FailWrites, a store that is down. A failed Scan calls no fn.
func (f *Faulty) FailReads(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = err
}

// LoseCAS makes the next n CompareAndSwap calls report false (as if another
// writer had changed the record first) without writing, so a caller's retry
// after a lost race can be exercised deterministically.
func (f *Faulty) LoseCAS(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = n
}

// Lost returns how many compare-and-swaps LoseCAS made f lose.
func (f *Faulty) Lost() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost
}

// FailOp makes every write of operation op fail with err until Heal.
func (f *Faulty) FailOp(op Op, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops[op] = err
}

// FailNthWrite makes the n-th write from now (n >= 1, counting writes of
// every operation) fail once with err; later writes pass again.
func (f *Faulty) FailNthWrite(n int, err error) {
	if n < 1 {
		panic("storetest: FailNthWrite needs n >= 1")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nth, f.nthErr = n, err
}

// Heal clears every armed fault.
func (f *Faulty) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all, f.reads, f.nth, f.nthErr, f.lose = nil, nil, 0, nil, 0
	clear(f.ops)
}

// Writes returns how many writes were attempted through f, failed or not.
func (f *Faulty) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Failed returns how many writes f failed.
func (f *Faulty) Failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// check counts a write of op and returns the fault to inject, if any.
func (f *Faulty) check(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	err := f.all
	if err == nil {
		err = f.ops[op]
	}
	if f.nth > 0 {
		f.nth--
		if f.nth == 0 {
			if err == nil {
				err = f.nthErr
			}
			f.nthErr = nil
		}
	}
	if err == nil {
		return nil
	}
	f.failed++
	return fmt.Errorf("storetest: injected %s failure: %w", op, err)
}

// readFault returns the fault to inject into a read named op, if any.
func (f *Faulty) readFault(op string) error {
	f.mu.Lock()
	err := f.reads
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("storetest: injected %s failure: %w", op, err)
	}
	return nil
}

// Get implements store.Store.
func (f *Faulty) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.readFault("Get"); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, key)
}

// Scan implements store.Store. It passes through to the wrapped store, and
// fails (calling no fn) while FailReads is armed.
func (f *Faulty) Scan(ctx context.Context, k store.Kind, fn func(id string, value []byte) bool) error {
	if err := f.readFault("Scan"); err != nil {
		return err
	}
	return f.Store.Scan(ctx, k, fn)
}

// Put implements store.Store.
func (f *Faulty) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := f.check(OpPut); err != nil {
		return err
	}
	return f.Store.Put(ctx, key, value, ttl)
}

// PutIfAbsent implements store.Store.
func (f *Faulty) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := f.check(OpPutIfAbsent); err != nil {
		return false, err
	}
	return f.Store.PutIfAbsent(ctx, key, value, ttl)
}

// Take implements store.Store.
func (f *Faulty) Take(ctx context.Context, key string) ([]byte, error) {
	if err := f.check(OpTake); err != nil {
		return nil, err
	}
	return f.Store.Take(ctx, key)
}

// CompareAndSwap implements store.Store.
func (f *Faulty) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := f.check(OpCompareAndSwap); err != nil {
		return false, err
	}
	f.mu.Lock()
	lose := f.lose > 0
	if lose {
		f.lose--
		f.lost++
	}
	f.mu.Unlock()
	if lose {
		return false, nil
	}
	return f.Store.CompareAndSwap(ctx, key, old, new, ttl)
}

// Incr implements store.Store.
func (f *Faulty) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := f.check(OpIncr); err != nil {
		return 0, err
	}
	return f.Store.Incr(ctx, key, ttl)
}

// Delete implements store.Store.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.check(OpDelete); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

var _ store.Store = (*Faulty)(nil)
