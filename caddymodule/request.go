// request.go reads what Caddy attaches to a request: its id and the client's address.

package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// requestID returns Caddy's per-request UUID ({http.request.uuid}), so the id in a response,
// in our logs and in Caddy's own logs is the same.
func requestID(r *http.Request) string {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if v, ok := repl.GetString("http.request.uuid"); ok {
			return v
		}
	}
	return ""
}

// clientIP is the address Caddy determined for the client (trusted_proxies applied).
func clientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	return r.RemoteAddr
}
