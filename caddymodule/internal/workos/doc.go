// Package workos is the gateway's side of the bridge to WorkOS User Management: the AuthKit
// authorization URL, the code exchange, the refresh, the session revocation and the JWKS URL,
// through the workos-go SDK with an HTTP client that is bounded in time and size and follows
// no redirect; and the one place that decides what a WorkOS failure means (Classify).
package workos
