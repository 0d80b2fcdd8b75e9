package grants

// list.go reads records of one kind in bulk, for the operator's admin API. It is O(records
// of that kind) and never runs on a request path.

import (
	"context"

	"github.com/drio-gateway/gateway/caddymodule/store"
)

// each decodes every live record of kind k in turn, until fn returns false. A record that
// does not decode is skipped.
func each[T any](ctx context.Context, s store.Store, k store.Kind, fn func(*T) bool) error {
	return s.Scan(ctx, k, func(_ string, value []byte) bool {
		rec := new(T)
		if decodeRecord(value, rec) != nil {
			return true
		}
		return fn(rec)
	})
}

// Each calls fn with every registered client, until fn returns false.
func (c Clients) Each(ctx context.Context, fn func(*Client) bool) error {
	return each(ctx, c.s, store.KindClient, fn)
}

// Delete removes a client registration. Its grants are not touched: the caller ends them.
func (c Clients) Delete(ctx context.Context, id string) error {
	if id == "" || len(id) > maxClientIDLength {
		return nil
	}
	return c.s.Delete(ctx, store.Key(store.KindClient, id))
}

// Each calls fn with every brokered session record (revoked ones included, until they
// expire), until fn returns false.
func (r *Sessions) Each(ctx context.Context, fn func(*Session) bool) error {
	return each(ctx, r.store, store.KindSession, fn)
}

// Get returns the session record, live or revoked, or ErrNotFound; unlike Live it always
// reads the store.
func (r *Sessions) Get(ctx context.Context, sid string) (*Session, error) {
	return get[Session](ctx, r.store, sessionKey(sid))
}
