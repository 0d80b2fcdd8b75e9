// Command caddy is Caddy with its standard modules and the drio gateway plugin, built as a plain
// Go program. Tests build it with `go build ./cmd/caddy` so they need no xcaddy; operators use
// xcaddy.sh, which produces the same binary from the released Caddy version.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/drio-gateway/gateway/caddymodule"
)

func main() {
	caddycmd.Main()
}
