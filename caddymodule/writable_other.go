//go:build !unix

package caddymodule

// writable is not checked on this platform; opening the store reports the error instead.
func writable(string) bool { return true }
