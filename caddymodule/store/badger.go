// badger.go holds the Badger backend's setup and lifecycle: its options,
// OpenBadger (tuning, and open errors that say what to do), Close, the
// per-call guard against use after Close, error mapping, and the adapter
// for Badger's own log lines.

package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

	// incrMu serializes Incr calls per key (by a hash of the key), so
	// increments of one counter queue instead of conflicting (see Incr).
	incrMu [incrStripes]sync.Mutex

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

// call runs one operation. It returns bad (the caller's checkKey or
// checkKind result) and a done ctx's error as they are, refuses a closed
// store, and otherwise runs fn under the read lock, so Close waits for it,
// returning fn's error mapped for op.
func (s *Badger) call(ctx context.Context, op string, bad error, fn func() error) error {
	if bad != nil {
		return bad
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errBadgerClosed
	}
	return s.mapErr(op, fn())
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
