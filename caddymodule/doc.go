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
// Files are named for what they hold: app.go (configuration and lifecycle), pool.go
// (reload-safe shared resources), oauth.go (routing), one file per endpoint (discovery.go,
// register.go, authorize.go, callback.go, token.go, refresh.go), protect.go and headers.go
// (the bearer check and header sanitizing), records.go and seal.go (what is stored and how),
// errors.go (the two error families), caddyfile.go (syntax). The store and the verifier are
// sub-packages with their own vocabulary.
package caddymodule
