// Package caddymodule is the drio gateway Caddy plugin.
package caddymodule
