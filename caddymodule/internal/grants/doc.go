// Package grants is what the gateway remembers about clients and the grants it brokered, as
// typed stores on top of store.Store: registered clients, pending authorizations, one-time
// bridge codes, refresh-token families and brokered sessions. Handlers ask these stores for
// records; they never build a store key or decode a record themselves.
//
// Every read-modify-write goes through one compare-and-swap helper (Mutate), so a record
// changed by another request or another gateway instance between the read and the write is
// re-read and decided again, never overwritten.
//
// Secrets at rest: codes, refresh tokens and upstream states are stored under their hash
// (store.HashID), never as themselves, and a WorkOS token pair waiting in the store is sealed
// (AES-256-GCM) with a key derived from the code or refresh token that will unlock it, so a
// copied database yields no usable token.
package grants
