package grants

import (
	"context"
	"errors"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// Stores is the typed view of one store.Store: one field per kind of record.
type Stores struct {
	Clients  Clients
	Pending  PendingAuthorizations
	Codes    Codes
	Refresh  RefreshTokens
	Sessions *Sessions
	Rates    RateWindows
}

// New returns the typed stores over s. Session answers are cached for sessionCache (see
// Sessions.Live).
func New(s store.Store, sessionCache time.Duration) *Stores {
	return &Stores{
		Clients:  Clients{s},
		Pending:  PendingAuthorizations{s},
		Codes:    Codes{s},
		Refresh:  RefreshTokens{s},
		Sessions: newSessions(s, sessionCache),
		Rates:    RateWindows{s},
	}
}

// maxClientIDLength bounds a client id before it reaches the store: longer ids were never issued.
const maxClientIDLength = 100

// Clients holds registered clients by client_id.
type Clients struct{ s store.Store }

// Get returns the client, or ErrNotFound.
func (c Clients) Get(ctx context.Context, id string) (*Client, error) {
	if id == "" || len(id) > maxClientIDLength {
		return nil, ErrNotFound
	}
	return get[Client](ctx, c.s, store.Key(store.KindClient, id))
}

// Put stores a client under its ID; it expires after ttl unless put again (ttl <= 0: never).
func (c Clients) Put(ctx context.Context, rec *Client, ttl time.Duration) error {
	return put(ctx, c.s, store.Key(store.KindClient, rec.ID), rec, ttl)
}

// Mutate changes a client registration with Mutate's rules; a written record expires after
// ttl (ttl <= 0: never).
func (c Clients) Mutate(ctx context.Context, id string, ttl time.Duration, fn func(*Client, bool) (Decision, error)) error {
	return Mutate(ctx, c.s, store.Key(store.KindClient, id), ttl, fn)
}

// PendingAuthorizations holds authorizations waiting for the WorkOS callback, by the opaque
// state sent to WorkOS (stored hashed).
type PendingAuthorizations struct{ s store.Store }

func pendingKey(state string) string { return store.Key(store.KindPending, store.HashID(state)) }

// Put stores a new pending authorization.
func (p PendingAuthorizations) Put(ctx context.Context, state string, rec *Pending, ttl time.Duration) error {
	return put(ctx, p.s, pendingKey(state), rec, ttl)
}

// Get returns the pending authorization, or ErrNotFound.
func (p PendingAuthorizations) Get(ctx context.Context, state string) (*Pending, error) {
	return get[Pending](ctx, p.s, pendingKey(state))
}

// Mutate changes a pending authorization with Mutate's rules.
func (p PendingAuthorizations) Mutate(ctx context.Context, state string, ttl time.Duration, fn func(*Pending, bool) (Decision, error)) error {
	return Mutate(ctx, p.s, pendingKey(state), ttl, fn)
}

// Take removes the pending authorization; of concurrent Takes exactly one succeeds, the others
// get ErrNotFound.
func (p PendingAuthorizations) Take(ctx context.Context, state string) error {
	_, err := p.s.Take(ctx, pendingKey(state))
	return err
}

// Delete removes the pending authorization, if any.
func (p PendingAuthorizations) Delete(ctx context.Context, state string) error {
	return p.s.Delete(ctx, pendingKey(state))
}

// Codes holds bridge codes by code (stored hashed).
type Codes struct{ s store.Store }

func codeKey(code string) string { return store.Key(store.KindCode, store.HashID(code)) }

// Put stores a new code record, kept for ttl (its tombstone life, longer than its validity).
func (c Codes) Put(ctx context.Context, code string, rec *Code, ttl time.Duration) error {
	return put(ctx, c.s, codeKey(code), rec, ttl)
}

// Get returns the code record, or ErrNotFound.
func (c Codes) Get(ctx context.Context, code string) (*Code, error) {
	return get[Code](ctx, c.s, codeKey(code))
}

// Mutate changes a code record with Mutate's rules.
func (c Codes) Mutate(ctx context.Context, code string, ttl time.Duration, fn func(*Code, bool) (Decision, error)) error {
	return Mutate(ctx, c.s, codeKey(code), ttl, fn)
}

// RefreshTokens holds refresh-token records by token (stored hashed).
type RefreshTokens struct{ s store.Store }

func refreshKey(token string) string { return store.Key(store.KindRefresh, store.HashID(token)) }

// Put stores a new refresh-token record.
func (t RefreshTokens) Put(ctx context.Context, token string, rec *Refresh, ttl time.Duration) error {
	return put(ctx, t.s, refreshKey(token), rec, ttl)
}

// Get returns the refresh-token record, or ErrNotFound.
func (t RefreshTokens) Get(ctx context.Context, token string) (*Refresh, error) {
	return get[Refresh](ctx, t.s, refreshKey(token))
}

// Mutate changes a refresh-token record with Mutate's rules.
func (t RefreshTokens) Mutate(ctx context.Context, token string, ttl time.Duration, fn func(*Refresh, bool) (Decision, error)) error {
	return Mutate(ctx, t.s, refreshKey(token), ttl, fn)
}

// FlightKey names one refresh token of one client for an in-process single flight, without
// holding the token itself.
func FlightKey(token, clientID string) string { return store.HashID(token) + "|" + clientID }

// RateWindows holds request counters of fixed time windows, shared by every gateway instance
// on the store.
type RateWindows struct{ s store.Store }

// Count adds one request to the window named id and reports whether the window now holds at
// most max: the first max requests fit, every later one is refused (and still counted, which
// changes no answer). It is one atomic increment in the store, so concurrent requests on one
// window never fail or go uncounted because of each other, on one instance or many. The
// window's record expires ttl after its first request; later requests do not extend it.
func (w RateWindows) Count(ctx context.Context, id string, max int, ttl time.Duration) (bool, error) {
	n, err := w.s.Incr(ctx, store.Key(store.KindRateLimit, id), ttl)
	if err != nil {
		return false, err
	}
	return n <= int64(max), nil
}

// Ping tells whether the store answers, by reading the installation secret (a store that
// lost its data still answers: not finding the record is not a failure).
func (st *Stores) Ping(ctx context.Context) error {
	_, err := st.Clients.s.Get(ctx, store.Key(store.KindSecret, "cookie"))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
