// Package cimd resolves OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client whose client_id is an https URL
// with a path, at which it publishes its own metadata (the RFC 7591 fields) as JSON.
//
// The contract:
//
//   - CheckURL decides whether a client_id is a metadata URL the gateway will fetch: https, a
//     host, a path other than "/", no userinfo, no fragment, no dot segment, a query allowed.
//   - A Fetcher fetches one document safely. Every address it connects to is checked at the
//     moment of connecting (a net.Dialer Control hook), so DNS answers that change between a
//     check and the connection (rebinding) cannot reach a loopback, private, link-local, CGNAT,
//     multicast or otherwise non-public address. It uses no proxy from the environment,
//     follows no redirect, accepts only 200 with a JSON content type, reads at most
//     MaxBytes (5 KiB by default, the draft's recommendation) and gives up after Timeout
//     (5 s by default). Trusting an extra CA and allowing non-public addresses are separate,
//     explicit options meant for tests.
//   - The document must name itself: its client_id equals the URL byte for byte. It describes
//     a public client: token_endpoint_auth_method absent or "none", no client_secret, no
//     client_secret_expires_at. Its redirect URIs are checked by the caller's rules (the same
//     as for dynamic registration). The gateway never fetches anything the document points to
//     (logo_uri and the like are dropped).
//   - A Resolver caches documents in a bounded LRU for as long as their HTTP caching headers
//     say, clamped to [MinTTL, MaxTTL], remembers a failure for NegativeTTL, and collapses
//     concurrent fetches of one URL into one.
//
// Errors are *Error values whose Kind is a bounded label (the metric's outcome) and whose text
// says what the client's developer must fix; they never carry an address the gateway resolved.
package cimd
