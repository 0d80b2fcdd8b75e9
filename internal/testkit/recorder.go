package testkit

import (
	"fmt"
	"sync"
	"testing"
)

// Recorder is a testing.TB that keeps what Errorf reports instead of failing the test, for a
// test that proves a check can fail. Everything else (Fatalf included) goes to the embedded
// TB. It is safe for concurrent use.
type Recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

// Helper does nothing: the reports are read back, not printed.
func (r *Recorder) Helper() {}

// Errorf records the report.
func (r *Recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Errs returns the reports recorded so far and forgets them.
func (r *Recorder) Errs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.errs
	r.errs = nil
	return errs
}
