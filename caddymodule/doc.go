// Package caddymodule is the drio gateway, a Caddy v2 plugin that puts drio's OAuth 2.0
// surface and bearer-token protection in front of any HTTP backend. Sign-in is delegated to
// WorkOS AuthKit.
//
// It registers three modules and their Caddyfile syntax:
//
//   - drio (the `drio { … }` global option): the app that holds the configuration and the
//     state shared by the handlers and kept across config reloads: the store (Badger or
//     Redis), the session registry and the WorkOS JWKS verifier.
//   - http.handlers.drio_oauth (directive drio_oauth): discovery (RFC 8414, RFC 9728),
//     dynamic client registration (RFC 7591), the authorization code flow with PKCE bridged to
//     WorkOS, the token endpoint and drio's refresh route.
//   - http.handlers.drio_protect (directive drio_protect): the bearer check; a valid token of
//     a live brokered session goes on to the next handler (usually reverse_proxy) with the
//     gateway's identity headers, anything else gets the drio error envelope and a
//     WWW-Authenticate challenge.
//
// This package is Caddy glue only: app.go and config.go (configuration and lifecycle),
// pool.go (reload-safe shared resources), caddyfile.go (syntax), oauth.go and protect.go (the
// two handler modules), headers.go (what the bearer check strips and sets), request.go (what
// Caddy attaches to a request). The protocol lives in internal packages that know nothing of
// Caddy: internal/oauth (the authorization server), internal/grants (typed records over the
// store), internal/workos (the WorkOS bridge), internal/respond (every error answer),
// internal/metrics. The store and the verifier are sub-packages with their own vocabulary.
// ARCHITECTURE.md at the repository root has the map and the path of one request.
package caddymodule
