package caddymodule

// config.go holds the parts of the app's configuration that have a type of their own (WorkOS,
// storage, rate limit): the checks Provision and Validate run on them, and their Caddyfile
// blocks.

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/store"
)

// WorkOSConfig is the WorkOS User Management client configuration.
type WorkOSConfig struct {
	// ClientID is the WorkOS client id (client_…). Required.
	ClientID string `json:"client_id,omitempty"`
	// APIKey is the WorkOS API key (sk_…). Use a runtime placeholder ({env.WORKOS_API_KEY}
	// or {file./run/secrets/workos}), resolved in memory when the config is loaded, so the
	// key is never part of the stored config nor of what Caddy's admin API serves. Required,
	// unless APIKeyFile is set.
	APIKey string `json:"api_key,omitempty"`
	// APIKeyFile is a file that holds the WorkOS API key (surrounding white space is
	// ignored), read when the config is loaded (so `caddy validate` reads it too); for secrets
	// mounted as files.
	APIKeyFile string `json:"api_key_file,omitempty"`
	// Endpoint is the WorkOS API base URL, no trailing slash. Default: https://api.workos.com.
	Endpoint string `json:"endpoint,omitempty"`
	// Timeout bounds each call to WorkOS (code exchange, refresh, JWKS, session revoke).
	// Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// StorageConfig selects the state backend.
type StorageConfig struct {
	// Backend is "badger" (embedded, one instance) or "redis" (several instances).
	// Default: badger.
	Backend string `json:"backend,omitempty"`
	// Dir is the Badger data directory. Default: <caddy data dir>/drio.
	Dir string `json:"dir,omitempty"`
	// SyncWrites makes Badger fsync every commit, so a power loss loses nothing; without it a
	// killed process still loses nothing. Default: false.
	SyncWrites bool `json:"sync_writes,omitempty"`
	// URL is the Redis URL; its scheme picks the topology: redis:// or rediss:// (one
	// server), redis+cluster:// (Cluster), redis+sentinel:// (a master found through
	// Sentinel). See the README's storage row for the forms. Required for redis.
	URL string `json:"url,omitempty"`
	// Prefix is prepended to every Redis key. Default: drio:.
	Prefix string `json:"prefix,omitempty"`
}

// RateLimitConfig is a token bucket per client IP and endpoint.
type RateLimitConfig struct {
	// Disabled turns rate limiting off.
	Disabled bool `json:"disabled,omitempty"`
	// PerSecond is the sustained rate. Default: 5.
	PerSecond float64 `json:"per_second,omitempty"`
	// Burst is the bucket size. Default: 50.
	Burst int `json:"burst,omitempty"`
	// OnStoreError is what the shared limiter of Redis storage does with a request it cannot
	// count because Redis failed or timed out: "open" lets it through uncounted (the endpoint
	// then answers 503 itself if it needs the store), "closed" refuses it with 429 and
	// Retry-After. The in-memory limiter of Badger storage cannot fail. Default: open.
	OnStoreError string `json:"on_store_error,omitempty"`
}

// Values of RateLimitConfig.OnStoreError.
const (
	rateLimitFailOpen   = "open"
	rateLimitFailClosed = "closed"
)

// parseIssuer checks an issuer per RFC 8414 §2: absolute, https (http only on loopback), no
// query, fragment or path.
func parseIssuer(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errors.New("must be an absolute URL such as https://api.example.com")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && oauth.IsLoopbackHost(u.Hostname())) {
		return nil, errors.New("must use https (http is allowed only for localhost, 127.0.0.1 or [::1])")
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "#") || u.User != nil {
		return nil, errors.New("must not have a query, fragment or userinfo")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("must not have a path; the gateway serves its routes at the root")
	}
	return u, nil
}

func (s *StorageConfig) provision(repl *caddy.Replacer) error {
	if s.Backend == "" {
		s.Backend = "badger"
	}
	switch s.Backend {
	case "badger":
		s.Dir = repl.ReplaceKnown(s.Dir, "")
		if s.Dir == "" {
			s.Dir = filepath.Join(caddy.AppDataDir(), "drio")
		}
		abs, err := filepath.Abs(s.Dir)
		if err != nil {
			return fmt.Errorf("drio: storage dir %q: %v", s.Dir, err)
		}
		s.Dir = abs
	case "redis":
		s.URL = repl.ReplaceKnown(s.URL, "")
		if s.URL == "" {
			return errors.New("drio: storage redis needs a URL: `storage redis redis://127.0.0.1:6379/0`")
		}
		if s.Prefix == "" {
			s.Prefix = "drio:"
		}
	default:
		return fmt.Errorf("drio: unknown storage backend %q: use badger or redis", s.Backend)
	}
	return nil
}

func (s *StorageConfig) poolKey() string {
	if s.Backend == "redis" {
		return "redis:" + store.RedactRedisURL(s.URL) + "|" + s.Prefix // never keep a password in a pool key
	}
	return "badger:" + s.Dir
}

// checkDirWritable reports a clear error when dir (or, if missing, its nearest existing
// parent) is not a writable directory. It creates nothing.
func checkDirWritable(dir string) error {
	p := dir
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("drio: storage path %q is not a directory: choose a directory with `storage badger <dir>`", p)
			}
			if !writable(p) {
				return fmt.Errorf("drio: data directory %q is not writable: fix its permissions or choose another directory with `storage badger <dir>`", p)
			}
			return nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("drio: no existing parent of data directory %q", dir)
		}
		p = parent
	}
}

func setDefault(d *caddy.Duration, v time.Duration) {
	if *d <= 0 {
		*d = caddy.Duration(v)
	}
}

// provisionWorkOS resolves placeholders in the WorkOS block and checks what is required.
func (a *App) provisionWorkOS(repl *caddy.Replacer) error {
	if a.WorkOS == nil || repl.ReplaceKnown(a.WorkOS.ClientID, "") == "" {
		return errors.New("drio: workos client_id is required: add `workos { client_id client_… }` (or set WORKOS_CLIENT_ID)")
	}
	a.WorkOS.ClientID = repl.ReplaceKnown(a.WorkOS.ClientID, "")
	a.WorkOS.APIKey = repl.ReplaceKnown(a.WorkOS.APIKey, "")
	if file := repl.ReplaceKnown(a.WorkOS.APIKeyFile, ""); file != "" {
		if a.WorkOS.APIKey != "" {
			return errors.New("drio: workos has both api_key and api_key_file: keep one")
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("drio: workos api_key_file: %v", err)
		}
		if a.WorkOS.APIKey = strings.TrimSpace(string(raw)); a.WorkOS.APIKey == "" {
			return fmt.Errorf("drio: workos api_key_file %s is empty: write the WorkOS API key (sk_…) into it", file)
		}
	}
	if a.WorkOS.APIKey == "" {
		return errors.New("drio: workos api_key is empty: add `api_key {env.WORKOS_API_KEY}` and set WORKOS_API_KEY, or `api_key_file <path>`")
	}
	a.WorkOS.Endpoint = strings.TrimRight(repl.ReplaceKnown(a.WorkOS.Endpoint, ""), "/")
	if a.WorkOS.Endpoint == "" {
		a.WorkOS.Endpoint = defaultWorkOSEndpoint
	}
	if eu, err := url.Parse(a.WorkOS.Endpoint); err != nil || (eu.Scheme != "https" && eu.Scheme != "http") || eu.Host == "" {
		return fmt.Errorf("drio: workos endpoint %q must be an absolute http(s) URL", a.WorkOS.Endpoint)
	}
	if a.WorkOS.Timeout <= 0 {
		a.WorkOS.Timeout = caddy.Duration(defaultWorkOSTimeout)
	}
	return nil
}

// config is the OAuth server's form of the rate limit.
func (c *RateLimitConfig) config() oauth.RateConfig {
	return oauth.RateConfig{Disabled: c.Disabled, PerSecond: c.PerSecond, Burst: c.Burst, FailClosed: c.OnStoreError == rateLimitFailClosed}
}

func (a *App) unmarshalWorkOS(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	if a.WorkOS == nil {
		a.WorkOS = new(WorkOSConfig)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "client_id":
			a.WorkOS.ClientID, err = oneArg(d)
		case "api_key":
			a.WorkOS.APIKey, err = oneArg(d)
		case "api_key_file":
			a.WorkOS.APIKeyFile, err = oneArg(d)
		case "endpoint":
			a.WorkOS.Endpoint, err = oneArg(d)
		case "timeout":
			err = durationArg(d, &a.WorkOS.Timeout)
		default:
			return d.Errf("unrecognized workos option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *App) unmarshalStorage(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	s := &StorageConfig{Backend: d.Val()}
	switch s.Backend {
	case "badger":
		if d.NextArg() {
			s.Dir = d.Val()
		}
	case "redis":
		if !d.NextArg() {
			return d.Err("storage redis needs a URL, e.g. redis://127.0.0.1:6379/0")
		}
		s.URL = d.Val()
	default:
		return d.Errf("unknown storage backend '%s': use badger or redis", s.Backend)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch {
		case d.Val() == "sync_writes" && s.Backend == "badger":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.SyncWrites = true
		case d.Val() == "prefix" && s.Backend == "redis":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			s.Prefix = v
		default:
			return d.Errf("unrecognized %s storage option '%s'", s.Backend, d.Val())
		}
	}
	a.Storage = s
	return nil
}

func (a *App) unmarshalRateLimit(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	switch {
	case len(args) == 1 && args[0] == "off":
		a.RateLimit = &RateLimitConfig{Disabled: true}
		if d.NextBlock(d.Nesting()) {
			return d.Err("rate_limit off takes no block")
		}
		return nil
	case len(args) == 1 || len(args) == 2:
		rl := &RateLimitConfig{}
		perSecond, err := strconv.ParseFloat(args[0], 64)
		if err != nil || perSecond <= 0 {
			return d.Errf("rate_limit: %q is not a positive number of requests per second", args[0])
		}
		rl.PerSecond = perSecond
		if len(args) == 2 {
			burst, err := strconv.Atoi(args[1])
			if err != nil || burst <= 0 {
				return d.Errf("rate_limit: burst %q is not a positive integer", args[1])
			}
			rl.Burst = burst
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "on_store_error":
				v, err := oneArg(d)
				if err != nil {
					return err
				}
				if v != rateLimitFailOpen && v != rateLimitFailClosed {
					return d.Errf("rate_limit: on_store_error must be open or closed, not %q", v)
				}
				rl.OnStoreError = v
			default:
				return d.Errf("unrecognized rate_limit option '%s'", d.Val())
			}
		}
		a.RateLimit = rl
		return nil
	}
	return d.ArgErr()
}
