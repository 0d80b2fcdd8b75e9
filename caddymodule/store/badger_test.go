package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/store/storetest"
)

var bg = context.Background()

func openBadger(t *testing.T, dir string, opts store.BadgerOptions) *store.Badger {
	t.Helper()
	s, err := store.OpenBadger(dir, opts)
	if err != nil {
		t.Fatalf("OpenBadger: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBadgerConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// A fast GC period exercises the GC goroutine next to the traffic.
		return openBadger(t, t.TempDir(), store.BadgerOptions{GCInterval: 50 * time.Millisecond})
	})
}

func TestBadgerConformanceSyncWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("fsync on every commit is slow; skipped in -short")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return openBadger(t, t.TempDir(), store.BadgerOptions{SyncWrites: true})
	})
}

func TestBadgerCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "data")
	s := openBadger(t, dir, store.BadgerOptions{})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory mode = %v, want 0700", perm)
	}
	if err := s.Put(bg, store.Key(store.KindClient, "x"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".drio-write-probe") {
			t.Errorf("write probe %s left behind", e.Name())
		}
	}
}

func TestBadgerEmptyDir(t *testing.T) {
	if _, err := store.OpenBadger("", store.BadgerOptions{}); err == nil || !strings.Contains(err.Error(), "storage badger") {
		t.Fatalf("OpenBadger(\"\") = %v, want an error naming the directive", err)
	}
}

func TestBadgerUnwritableDirectory(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dirs := []string{filepath.Join(file, "data")} // a path through a regular file
	if os.Geteuid() != 0 {                        // root ignores permission bits
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, ro, filepath.Join(ro, "sub"))
	}
	for _, dir := range dirs {
		s, err := store.OpenBadger(dir, store.BadgerOptions{})
		if err == nil {
			s.Close()
			t.Fatalf("OpenBadger(%q) succeeded, want an error", dir)
		}
		msg := err.Error()
		for _, want := range []string{"is not writable", dir, "storage badger <dir>"} {
			if !strings.Contains(msg, want) {
				t.Errorf("OpenBadger(%q) error %q does not contain %q", dir, msg, want)
			}
		}
	}
}

func TestBadgerDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	first := openBadger(t, dir, store.BadgerOptions{})
	func() {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		s, err := store.OpenBadger(dir, store.BadgerOptions{})
		if err == nil {
			s.Close()
			t.Fatal("second OpenBadger on one directory succeeded")
		}
		if !strings.Contains(err.Error(), "in use by another process (is another Caddy running?)") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("error %q does not explain the lock", err)
		}
	}()
	// After Close the lock is released and the directory opens again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openBadger(t, dir, store.BadgerOptions{})
}

func TestBadgerReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := store.OpenBadger(dir, store.BadgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key := store.Key(store.KindClient, "c")
	if err := s.Put(bg, key, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBadger(t, dir, store.BadgerOptions{})
	if v, err := s.Get(bg, key); err != nil || string(v) != "v" {
		t.Fatalf("after reopen Get = %q, %v", v, err)
	}
}

func TestBadgerCloseStopsGC(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := store.OpenBadger(t.TempDir(), store.BadgerOptions{GCInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := s.Put(bg, store.Key(store.KindSession, strconv.Itoa(i)), make([]byte, 100<<10), 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadgerLogsThroughZap(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := openBadger(t, t.TempDir(), store.BadgerOptions{Logger: zap.New(core)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if logs.Len() == 0 {
		t.Fatal("no badger log lines reached the zap logger")
	}
	for _, e := range logs.All() {
		if !strings.HasPrefix(e.Message, "badger: ") {
			t.Errorf("log line without badger prefix: %q", e.Message)
		}
		if e.Level == zapcore.InfoLevel {
			t.Errorf("badger info line logged at Info, want Debug: %q", e.Message)
		}
	}
}

func TestFaulty(t *testing.T) {
	f := storetest.NewFaulty(openBadger(t, t.TempDir(), store.BadgerOptions{}))
	key := store.Key(store.KindCode, "c")
	if err := f.Put(bg, key, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}

	enospc := fmt.Errorf("write /data/000001.vlog: %w", syscall.ENOSPC)
	f.FailWrites(enospc)
	if err := f.Put(bg, store.Key(store.KindClient, "x"), []byte("v"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put while failing = %v, want ENOSPC", err)
	}
	if _, err := f.Take(bg, key); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Take while failing = %v, want ENOSPC", err)
	}
	if v, err := f.Get(bg, key); err != nil || string(v) != "v" {
		t.Fatalf("reads must keep working: Get = %q, %v", v, err)
	}
	if _, err := f.Get(bg, store.Key(store.KindClient, "x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed write must have no effect: Get = %v", err)
	}
	f.Heal()
	if v, err := f.Take(bg, key); err != nil || string(v) != "v" {
		t.Fatalf("Take after Heal = %q, %v", v, err)
	}

	f.FailNthWrite(2, enospc)
	if err := f.Put(bg, key, []byte("1"), 0); err != nil {
		t.Fatalf("write 1: %v", err)
	}
	if err := f.Put(bg, key, []byte("2"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write 2 = %v, want ENOSPC", err)
	}
	if err := f.Put(bg, key, []byte("3"), 0); err != nil {
		t.Fatalf("write 3: %v", err)
	}

	f.FailOp(storetest.OpCompareAndSwap, enospc)
	if _, err := f.CompareAndSwap(bg, key, []byte("3"), []byte("4"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CAS = %v, want ENOSPC", err)
	}
	if err := f.Delete(bg, key); err != nil {
		t.Fatalf("Delete must pass when only CAS fails: %v", err)
	}
	f.Heal()

	// FailReads fails Get and Scan alike (a store that is down); Heal
	// restores them, and Scan passes through to the wrapped store.
	if err := f.Put(bg, store.Key(store.KindSession, "s"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	down := errors.New("connection refused")
	f.FailReads(down)
	calls := 0
	if err := f.Scan(bg, store.KindSession, func(string, []byte) bool { calls++; return true }); !errors.Is(err, down) || calls != 0 {
		t.Fatalf("Scan while reads fail = %v after %d calls, want the injected error and no call", err, calls)
	}
	if _, err := f.Get(bg, store.Key(store.KindSession, "s")); !errors.Is(err, down) {
		t.Fatalf("Get while reads fail = %v, want the injected error", err)
	}
	f.Heal()
	var ids []string
	if err := f.Scan(bg, store.KindSession, func(id string, v []byte) bool {
		ids = append(ids, id+"="+string(v))
		return true
	}); err != nil || len(ids) != 1 || ids[0] != "s=v" {
		t.Fatalf("Scan after Heal = %v, %q; want [s=v]", err, ids)
	}

	if got := f.Failed(); got != 4 {
		t.Errorf("Failed() = %d, want 4", got)
	}
	if got := f.Writes(); got != 10 {
		t.Errorf("Writes() = %d, want 10", got)
	}
}

// The crash harness (security matrix S1, §3.3): a child process opens the
// directory, commits writes, says "ready" and is SIGKILLed; the parent
// reopens the directory and finds every committed write.

const (
	crashChildEnv = "DRIO_STORE_CRASH_CHILD"
	crashDirEnv   = "DRIO_STORE_CRASH_DIR"
	crashN        = 500
	crashTaken    = 10
)

func runCrashChild() int {
	dir := os.Getenv(crashDirEnv)
	sync := os.Getenv(crashChildEnv) == "sync"
	s, err := store.OpenBadger(dir, store.BadgerOptions{SyncWrites: sync})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	for i := range crashN {
		if err := s.Put(bg, store.Key(store.KindClient, strconv.Itoa(i)), []byte("client-"+strconv.Itoa(i)), 0); err != nil {
			fmt.Fprintln(os.Stderr, "child put:", err)
			return 2
		}
	}
	for i := range crashTaken {
		if _, err := s.Take(bg, store.Key(store.KindCode, strconv.Itoa(i))); err != nil {
			fmt.Fprintln(os.Stderr, "child take:", err)
			return 2
		}
	}
	if ok, err := s.CompareAndSwap(bg, store.Key(store.KindRefresh, "fam"), []byte("gen0"), []byte("gen1"), 0); !ok || err != nil {
		fmt.Fprintln(os.Stderr, "child cas:", ok, err)
		return 2
	}
	fmt.Println("ready")
	select {} // wait for SIGKILL; never Close
}

func TestBadgerSurvivesSIGKILL(t *testing.T) {
	for _, mode := range []string{"nosync", "sync"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			// Records the child will consume.
			pre, err := store.OpenBadger(dir, store.BadgerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 * crashTaken {
				if err := pre.Put(bg, store.Key(store.KindCode, strconv.Itoa(i)), []byte("grant"), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if err := pre.Put(bg, store.Key(store.KindRefresh, "fam"), []byte("gen0"), 0); err != nil {
				t.Fatal(err)
			}
			if err := pre.Close(); err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(bg, 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+mode, crashDirEnv+"="+dir)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			if strings.TrimSpace(line) != "ready" {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("child said %q, want ready", line)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die of SIGKILL: %v", err)
			}

			s, err := store.OpenBadger(dir, store.BadgerOptions{})
			if err != nil {
				t.Fatalf("reopen after SIGKILL: %v", err) // e.g. a stale lock
			}
			defer s.Close()
			for i := range crashN {
				v, err := s.Get(bg, store.Key(store.KindClient, strconv.Itoa(i)))
				if err != nil || string(v) != "client-"+strconv.Itoa(i) {
					t.Fatalf("client %d after SIGKILL: %q, %v", i, v, err)
				}
			}
			if n, err := s.Count(bg, store.KindClient); err != nil || n != crashN {
				t.Fatalf("Count(client) = %d, %v; want %d", n, err, crashN)
			}
			for i := range 2 * crashTaken {
				_, err := s.Get(bg, store.Key(store.KindCode, strconv.Itoa(i)))
				if taken := i < crashTaken; taken != errors.Is(err, store.ErrNotFound) {
					t.Fatalf("code %d: taken=%v but Get = %v (a consumed code must stay consumed)", i, taken, err)
				}
			}
			if v, err := s.Get(bg, store.Key(store.KindRefresh, "fam")); err != nil || string(v) != "gen1" {
				t.Fatalf("refresh family after SIGKILL = %q, %v; want gen1", v, err)
			}
		})
	}
}
