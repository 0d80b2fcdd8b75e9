// Package testkit holds the test helpers that the plugin's in-process tests (caddymodule) and
// the end-to-end tests (tests/) share: secret tracking with a log scanner, and an HTTP driver
// for the gateway's OAuth flow that works against any gateway base URL, however the gateway
// is run.
//
// A harness keeps one Secrets per gateway (or per deployment, when several gateways share a
// store), hands it to a Client, and scans every log it collects with Secrets.CheckLog:
//
//	secrets := testkit.NewSecrets(apiKey)
//	kit := &testkit.Client{Base: gatewayURL, WorkOS: workosURL, Secrets: secrets}
//	reg := kit.Register(t, "my client", "")
//	tok := kit.Login(t, reg, "ada@example.com")
//	...
//	secrets.CheckLog(t, "gateway logs", logs)
//
// Every step notes what the gateway must never log (consent transaction ids, codes, states,
// PKCE verifiers, tokens) in the Client's Secrets.
//
// The package must not import the plugin (caddymodule), whose own tests import it.
package testkit
