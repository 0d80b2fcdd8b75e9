package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned by Get and Take when the key is absent or its
// record has expired. Callers compare with errors.Is.
var ErrNotFound = errors.New("store: not found")

// ErrNotInteger is returned (wrapped) by Incr when the record under the key
// is not a decimal integer, or is the largest int64 and cannot grow. The
// record is left unchanged; the key holds something other than a counter.
var ErrNotInteger = errors.New("store: the record is not a decimal integer counter")

// Kind is a typed key namespace. Every key starts with its kind, so records
// of different kinds can never collide: a pending authorization's state can
// never be read back as a session or a code (the Lemonldap lesson).
type Kind string

// The kinds of record the gateway stores.
const (
	// KindClient holds a dynamically registered OAuth client, by client_id.
	KindClient Kind = "client"
	// KindPending holds a pending authorization, by HashID(upstream state).
	KindPending Kind = "pending"
	// KindCode holds a one-time bridge code record, by HashID(code).
	KindCode Kind = "code"
	// KindSession holds a brokered WorkOS session, by session id (sid).
	KindSession Kind = "session"
	// KindRefresh holds a refresh-token record, by HashID(refresh token).
	KindRefresh Kind = "refresh"
	// KindSecret holds gateway-internal secrets, such as signing keys.
	KindSecret Kind = "secret"
	// KindRateLimit holds request counters shared by gateway instances, by endpoint, client
	// IP and time window.
	KindRateLimit Kind = "ratelimit"
)

// kinds lists every known Kind; ParseKey and the stores accept only these.
var kinds = [...]Kind{KindClient, KindPending, KindCode, KindSession, KindRefresh, KindSecret, KindRateLimit}

// maxKeyLen is the longest key any backend accepts (Badger's limit is 65000
// bytes; the same bound is applied to Redis so the backends agree).
const maxKeyLen = 65000

// known reports whether k is one of the declared kinds.
func (k Kind) known() bool {
	for _, c := range kinds {
		if c == k {
			return true
		}
	}
	return false
}

// Key returns the store key of the record id of kind k: the kind, a slash,
// then id verbatim. The id may hold any bytes, including '/'; ParseKey
// splits at the first slash, and kinds never contain one, so the encoding
// is unambiguous. Key does not validate k: the stores reject keys whose
// kind is unknown, so a typo fails loudly instead of opening a namespace.
func Key(k Kind, id string) string {
	return string(k) + "/" + id
}

// ParseKey is the inverse of Key. It returns an error for a key with no
// slash or with a kind that is not one of the declared kinds.
func ParseKey(key string) (Kind, string, error) {
	i := strings.IndexByte(key, '/')
	if i < 0 {
		return "", "", errors.New("store: malformed key: no kind prefix; build keys with store.Key")
	}
	k := Kind(key[:i])
	if !k.known() {
		return "", "", fmt.Errorf("store: malformed key: unknown kind %q; use one of the store.Kind constants", truncate(string(k), 32))
	}
	return k, key[i+1:], nil
}

// HashID returns hex(sha256(secret)). Codes, refresh tokens and upstream
// states are stored under HashID of their value, so a copy of the database
// never reveals a usable secret and the store never holds one.
func HashID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Store is a small key-value store with expiry and the atomic operations the
// OAuth flows need. Keys are built with Key. Values are opaque bytes and are
// returned as fresh slices the caller may keep.
//
// Implementations are safe for concurrent use by many goroutines; the Redis
// backend is also atomic across gateway instances sharing one server.
type Store interface {
	// Get returns the value stored under key, or ErrNotFound when it is
	// absent or expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key, replacing any previous record and its
	// expiry. A ttl <= 0 means no expiry.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// PutIfAbsent stores value only if no live record exists under key. It
	// reports whether it stored. Of N concurrent calls on an absent key,
	// exactly one returns true.
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Take atomically reads and deletes the record under key; it returns
	// ErrNotFound when the key is absent or expired. Of N concurrent Takes
	// of one record, exactly one wins; the others get ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// CompareAndSwap replaces the value under key with new (and sets its
	// expiry from ttl; ttl <= 0 means none) only if the current value equals
	// old byte-for-byte. It returns false with a nil error when the value
	// differs or the key is absent. Of N concurrent calls with the same old
	// value, exactly one returns true.
	CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error)
	// Incr atomically adds one to the integer under key and returns the
	// new value. An absent or expired key counts from 0, and the record it
	// creates expires after ttl (ttl <= 0 means none); incrementing a live
	// record leaves its expiry as it is, so a fixed window is never
	// stretched by later increments. The value is stored as decimal text
	// (what Get returns, and what JSON encodes an integer as), so a record
	// written by Put as "5" increments to "6". A value that is not a
	// decimal int64 gives an error wrapping ErrNotInteger and is left
	// unchanged. Of N concurrent calls on one key, each returns a distinct
	// value and none fails because of the others: contention only makes a
	// call slower, never an error.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// Delete removes the record under key; an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Count returns the number of live (unexpired) records of kind k. It is
	// O(records of that kind) on every backend: meant for tests, metrics
	// and benchmarks, not for request paths.
	Count(ctx context.Context, k Kind) (int, error)
	// Scan calls fn with the id (the part of the key after "<kind>/") and
	// the value of each live (unexpired) record of kind k, in no particular
	// order, until fn returns false or the records run out. It returns nil
	// then, a done ctx's error if ctx ends first (ctx is checked between
	// records), or an error for an unknown kind or a failing backend.
	//
	// Records written or deleted during a scan may or may not be seen; each
	// record present for the whole scan is seen exactly once, and no id is
	// passed to fn twice in one scan. The value is a fresh slice fn may
	// keep. fn may call the store, including to Put or Delete records of
	// the kind being scanned: no lock or transaction is held while it runs.
	//
	// It is O(records of that kind), and Redis walks the whole keyspace: for
	// admin and maintenance paths, never request paths.
	Scan(ctx context.Context, k Kind, fn func(id string, value []byte) bool) error
	// Close releases the store. It is idempotent.
	Close() error
}

// checkKey validates a key handed to a backend: a known kind, a bounded
// length. Errors never quote the id, which may be derived from a secret.
func checkKey(key string) error {
	if len(key) > maxKeyLen {
		return fmt.Errorf("store: key is %d bytes, longer than the %d-byte limit; use a shorter id (HashID gives 64 bytes)", len(key), maxKeyLen)
	}
	_, _, err := ParseKey(key)
	return err
}

// checkKind validates a kind passed to Count or Scan.
func checkKind(k Kind) error {
	if !k.known() {
		return fmt.Errorf("store: unknown kind %q; use one of the store.Kind constants", truncate(string(k), 32))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
