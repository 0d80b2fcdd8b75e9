package grants

import (
	"context"
	"errors"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// ErrNotFound is returned when a record is absent or has expired. It is store.ErrNotFound, so
// either name works with errors.Is.
var ErrNotFound = store.ErrNotFound

// ErrContention is returned by Mutate when the record changed under it on every attempt.
var ErrContention = errors.New("grants: the record kept changing under concurrent writers; retry")

// errCorrupt is returned for a record that does not decode: the store was altered or holds a
// record of another version.
var errCorrupt = errors.New("grants: corrupt record in store")

// maxAttempts bounds Mutate's retries after a lost compare-and-swap.
const maxAttempts = 10

// Decision is what a Mutate callback wants done with the record it was shown.
type Decision int

const (
	// Keep leaves the stored record as it is.
	Keep Decision = iota
	// Write stores the record as the callback changed it, if nobody changed it meanwhile.
	Write
)

// Mutate is the one read-modify-write of the gateway. It reads the record under key, calls fn
// with it (a zero T and found=false when there is none) and, when fn answers Write, stores the
// changed record only if the stored bytes are still those it read (or, for a new record, if
// none appeared meanwhile). A lost race re-reads and calls fn again, so fn decides on the
// current record every time; after maxAttempts lost races Mutate returns ErrContention.
//
// fn's error is returned as is: at once with Keep, after the write with Write (so a refusal
// can be recorded, like a failed PKCE attempt). Errors from the store are returned unwrapped,
// so the caller can tell them from fn's own.
func Mutate[T any](ctx context.Context, s store.Store, key string, ttl time.Duration, fn func(rec *T, found bool) (Decision, error)) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var rec T
		old, err := s.Get(ctx, key)
		found := true
		switch {
		case errors.Is(err, store.ErrNotFound):
			found = false
		case err != nil:
			return err
		default:
			if decodeRecord(old, &rec) != nil {
				return errCorrupt
			}
		}
		decision, ferr := fn(&rec, found)
		if decision == Keep {
			return ferr
		}
		raw, err := encodeRecord(&rec)
		if err != nil {
			return err
		}
		var stored bool
		if found {
			stored, err = s.CompareAndSwap(ctx, key, old, raw, ttl)
		} else {
			stored, err = s.PutIfAbsent(ctx, key, raw, ttl)
		}
		if err != nil {
			return err
		}
		if stored {
			return ferr
		}
	}
	return ErrContention
}

// get reads and decodes the record under key.
func get[T any](ctx context.Context, s store.Store, key string) (*T, error) {
	raw, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	rec := new(T)
	if decodeRecord(raw, rec) != nil {
		return nil, errCorrupt
	}
	return rec, nil
}

// put encodes rec and stores it under key, replacing any previous record.
func put[T any](ctx context.Context, s store.Store, key string, rec *T, ttl time.Duration) error {
	raw, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, raw, ttl)
}
