package store

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

func benchOpen(b *testing.B, sync bool) *Badger {
	b.Helper()
	s, err := OpenBadger(b.TempDir(), BadgerOptions{SyncWrites: sync, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

var syncModes = []struct {
	name string
	sync bool
}{{"SyncWrites=false", false}, {"SyncWrites=true", true}}

// BenchmarkBadgerPut measures one Put of a 512-byte record with a TTL (one
// committed transaction each).
func BenchmarkBadgerPut(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchOpen(b, m.sync)
			ctx := context.Background()
			v := make([]byte, 512)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.Put(ctx, Key(KindSession, strconv.Itoa(i)), v, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBadgerTake measures one Take (read and delete in one transaction)
// of a code record; the records are preloaded with a write batch.
func BenchmarkBadgerTake(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchOpen(b, m.sync)
			ctx := context.Background()
			const preload = 200_000
			wb := s.db.NewWriteBatch()
			v := make([]byte, 256)
			for i := range preload {
				if err := wb.SetEntry(entry(Key(KindCode, HashID(strconv.Itoa(i))), v, time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if i >= preload {
					b.Fatal("preload exhausted; lower -benchtime")
				}
				if _, err := s.Take(ctx, Key(KindCode, HashID(strconv.Itoa(i)))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBadgerRSS is a sizing run, not a speed test: it stores 100k
// clients (~700 B) and 100k sessions (~1 KiB), reads them all back, and
// reports the process's peak RSS (VmHWM) and the RSS after a GC. Run it
// alone: go test -run='^$' -bench=BadgerRSS -benchtime=1x ./caddymodule/store/
func BenchmarkBadgerRSS(b *testing.B) {
	for b.Loop() {
		s := benchOpen(b, false)
		ctx := context.Background()
		// Incompressible values (hex of random bytes), so the numbers do not
		// flatter the store.
		client := make([]byte, 700)
		session := make([]byte, 1024)
		hex.Encode(client, randBytes(b, 350))
		hex.Encode(session, randBytes(b, 512))
		for i := range 100_000 {
			if err := s.Put(ctx, Key(KindClient, fmt.Sprintf("client-%08d", i)), client, 0); err != nil {
				b.Fatal(err)
			}
			if err := s.Put(ctx, Key(KindSession, HashID(strconv.Itoa(i))), session, 24*time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		for i := range 100_000 {
			if _, err := s.Get(ctx, Key(KindClient, fmt.Sprintf("client-%08d", i))); err != nil {
				b.Fatal(err)
			}
		}
		if n, err := s.Count(ctx, KindSession); err != nil || n != 100_000 {
			b.Fatalf("Count = %d, %v", n, err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		b.ReportMetric(procStatusMiB(b, "VmHWM"), "peak-RSS-MiB")
		b.ReportMetric(procStatusMiB(b, "VmRSS"), "RSS-MiB")
		b.ReportMetric(procStatusMiB(b, "RssAnon"), "anon-RSS-MiB")
		b.ReportMetric(procStatusMiB(b, "RssFile"), "file-RSS-MiB")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "go-heap-MiB")
	}
}

func randBytes(b *testing.B, n int) []byte {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

// procStatusMiB reads a kB field of /proc/self/status, in MiB.
func procStatusMiB(b *testing.B, field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status on this system")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("%s not in /proc/self/status", field)
	return 0
}
