// badger_gc.go holds the Badger backend's periodic value-log garbage
// collection, which runs until Close.

package store

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

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
