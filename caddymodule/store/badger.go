package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// BadgerOptions configures OpenBadger. The zero value is usable.
type BadgerOptions struct {
	// SyncWrites makes every commit fsync (msync) Badger's write-ahead log
	// before the method returns, so committed records survive a power loss
	// or kernel crash as long as the disk honours flushes. Each write then
	// costs about one disk flush.
	//
	// With SyncWrites false, a commit has reached the memory-mapped log in
	// the OS page cache before the method returns: it survives any crash of
	// the process (SIGKILL, panic, OOM kill), because the kernel still owns
	// those pages and writes them out, but a power loss or kernel crash can
	// lose the writes of the last few seconds (Badger recovers to a
	// consistent prefix on the next open).
	SyncWrites bool
	// Logger receives Badger's own log lines: errors at Error, warnings at
	// Warn, and its info and debug lines at Debug. Nil discards them.
	Logger *zap.Logger
	// GCInterval is the period of value-log garbage collection. Zero means
	// the default, 5 minutes; a negative value disables it.
	GCInterval time.Duration
}

// defaultGCInterval is the value-log GC period when GCInterval is zero.
const defaultGCInterval = 5 * time.Minute

// maxTxnTries bounds the retries of a transaction that lost a conflict.
const maxTxnTries = 16

// Badger is a Store on an embedded Badger database in one directory. Only
// one Badger (in one process) may have a directory open at a time; share
// the handle (for example through caddy.UsagePool) instead of reopening.
type Badger struct {
	db  *badger.DB
	dir string
	log *zap.Logger

	// mu is held for reading by every operation and for writing by Close,
	// so Close waits for in-flight operations and none starts after it.
	mu     sync.RWMutex
	closed bool

	stopGC    chan struct{}
	gcDone    sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Badger)(nil)

// OpenBadger opens (creating it with mode 0700 if missing) the Badger
// database in dir and starts its value-log GC.
//
// The options are sized for a small footprint: two 8 MiB memtables, a
// 16 MiB block cache, an 8 MiB index cache, 64 MiB value-log files, and a
// 256-byte value threshold, so records of 256 bytes or more live in the
// value log and the LSM tree holds only keys and pointers (which keeps
// flushes and compactions, and their buffers, small). Measured with 100k
// clients and 100k sessions (BenchmarkBadgerRSS): about 45 MiB of
// anonymous memory; the rest of the RSS is the memory-mapped value log,
// file-backed page cache that the kernel reclaims under pressure.
//
// On failure nothing is left running. An unwritable directory and a
// directory locked by another process give errors that say so.
func OpenBadger(dir string, opts BadgerOptions) (*Badger, error) {
	if dir == "" {
		return nil, errors.New("store: no data directory given; set one with `storage badger <dir>`")
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if err := checkWritableDir(dir); err != nil {
		return nil, err
	}

	bo := badger.DefaultOptions(dir).
		WithSyncWrites(opts.SyncWrites).
		WithLogger(badgerLogger{log.Sugar()}).
		WithMetricsEnabled(false).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(256).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(8 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2)

	db, err := badger.Open(bo)
	if err != nil {
		return nil, openError(dir, err)
	}
	s := &Badger{db: db, dir: dir, log: log, stopGC: make(chan struct{})}
	interval := opts.GCInterval
	if interval == 0 {
		interval = defaultGCInterval
	}
	if interval > 0 {
		s.gcDone.Add(1)
		go s.runGC(interval)
	}
	return s, nil
}

// checkWritableDir creates dir if needed and proves it writable by creating
// and removing a probe file.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return notWritable(dir, err)
	}
	f, err := os.CreateTemp(dir, ".drio-write-probe-*")
	if err != nil {
		return notWritable(dir, err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return notWritable(dir, err)
	}
	return nil
}

func notWritable(dir string, err error) error {
	return fmt.Errorf("store: data directory %q is not writable: %w; fix its permissions or choose another directory with `storage badger <dir>`", dir, err)
}

// openError turns a badger.Open error into one that says what to do.
func openError(dir string, err error) error {
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EAGAIN),
		strings.Contains(err.Error(), "Another process is using this Badger database"):
		return fmt.Errorf("store: data directory %q is in use by another process (is another Caddy running?): %w; stop it, or give this instance its own directory", dir, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return notWritable(dir, err)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("store: data directory %q is on a full disk: %w; free some space and start again", dir, err)
	default:
		return fmt.Errorf("store: cannot open the badger database in %q: %w; if the files are damaged, move the directory aside and start again", dir, err)
	}
}

// runGC runs value-log GC every interval until Close.
func (s *Badger) runGC(interval time.Duration) {
	defer s.gcDone.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
		}
		// Each successful run rewrites one value-log file; repeat until
		// there is nothing worth rewriting, or Close is called.
		for {
			err := s.db.RunValueLogGC(0.5)
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
					s.log.Warn("badger value-log gc failed", zap.String("dir", s.dir), zap.Error(err))
				}
				break
			}
			select {
			case <-s.stopGC:
				return
			default:
			}
		}
	}
}

// Close stops the value-log GC, waits for in-flight operations and closes
// the database, releasing the directory lock. It is idempotent: later calls
// return the first call's result.
func (s *Badger) Close() error {
	s.closeOnce.Do(func() {
		close(s.stopGC)
		s.gcDone.Wait()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("store: closing the badger database in %q: %w", s.dir, err)
		}
	})
	return s.closeErr
}

var errBadgerClosed = errors.New("store: the badger store is closed; this is a bug in the caller, which used it after Close")

// begin validates the call and takes the read lock; end releases it.
func (s *Badger) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errBadgerClosed
	}
	return nil
}

func (s *Badger) end() { s.mu.RUnlock() }

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

// mapErr translates badger errors for callers.
func (s *Badger) mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, badger.ErrDBClosed):
		return errBadgerClosed
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("store: badger %s in %q: disk full: %w; free some space (writes recover without a restart)", op, s.dir, err)
	default:
		return fmt.Errorf("store: badger %s: %w", op, err)
	}
}

// Get implements Store.
func (s *Badger) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.end()
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, s.mapErr("get", err)
}

// Put implements Store.
func (s *Badger) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	err := s.update(ctx, func(txn *badger.Txn) error {
		return txn.SetEntry(entry(key, value, ttl))
	})
	return s.mapErr("put", err)
}

// PutIfAbsent implements Store. It reads and writes the same key in one
// transaction, so Badger's conflict detection makes it atomic.
func (s *Badger) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.end()
	var stored bool
	err := s.update(ctx, func(txn *badger.Txn) error {
		stored = false
		_, err := txn.Get([]byte(key))
		if err == nil {
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := txn.SetEntry(entry(key, value, ttl)); err != nil {
			return err
		}
		stored = true
		return nil
	})
	if err != nil {
		return false, s.mapErr("put-if-absent", err)
	}
	return stored, nil
}

// Take implements Store. The read and the delete touch the same key in one
// transaction (badger#2057: conflict detection is by read set), so of N
// concurrent Takes exactly one commits; the others conflict, retry, and
// find the key gone.
func (s *Badger) Take(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.end()
	var out []byte
	err := s.update(ctx, func(txn *badger.Txn) error {
		out = nil
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if out, err = item.ValueCopy(nil); err != nil {
			return err
		}
		return txn.Delete([]byte(key))
	})
	if err != nil {
		return nil, s.mapErr("take", err)
	}
	return out, nil
}

// CompareAndSwap implements Store, in one transaction that reads and writes
// the same key; a loser of a race retries, sees the winner's value and
// returns false.
func (s *Badger) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.end()
	var swapped bool
	err := s.update(ctx, func(txn *badger.Txn) error {
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
		}); err != nil {
			return err
		}
		if !equal {
			return nil
		}
		if err := txn.SetEntry(entry(key, new, ttl)); err != nil {
			return err
		}
		swapped = true
		return nil
	})
	if err != nil {
		return false, s.mapErr("compare-and-swap", err)
	}
	return swapped, nil
}

// Delete implements Store.
func (s *Badger) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.end()
	err := s.update(ctx, func(txn *badger.Txn) error {
		return txn.Delete([]byte(key))
	})
	return s.mapErr("delete", err)
}

// Count implements Store by iterating the kind's key prefix (keys only).
func (s *Badger) Count(ctx context.Context, k Kind) (int, error) {
	if err := checkKind(k); err != nil {
		return 0, err
	}
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.end()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
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
	if err != nil {
		return 0, s.mapErr("count", err)
	}
	return n, nil
}

// badgerLogger adapts zap to badger.Logger.
type badgerLogger struct{ l *zap.SugaredLogger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Errorf("badger: "+strings.TrimSpace(f), a...)
}

func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warnf("badger: "+strings.TrimSpace(f), a...)
}

func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debugf("badger: "+strings.TrimSpace(f), a...)
}

func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debugf("badger: "+strings.TrimSpace(f), a...)
}
