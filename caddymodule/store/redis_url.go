// redis_url.go turns the `storage redis` URL into a go-redis client for one of three
// topologies. The scheme picks the topology; the rest of the URL is go-redis's own syntax,
// parsed by go-redis's own parsers (ParseURL, ParseClusterURL, ParseFailoverURL), so every
// go-redis query option (dial_timeout, pool_size, …) works as go-redis documents it.

package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisURLForms lists the accepted URL forms; every URL error ends with it.
const redisURLForms = "redis://[user:password@]host[:port][/db] or rediss://… (one server; rediss = TLS), " +
	"unix://[user:password@]/path/to/socket[?db=N], " +
	"redis+cluster://[user:password@]host:port[?addr=host2:port&addr=host3:port] or rediss+cluster://… (Redis Cluster), " +
	"redis+sentinel://[sentinel_user:sentinel_password@]host:port[/db]?master_name=NAME[&addr=host2:port][&username=U&password=P] " +
	"or rediss+sentinel://… (Sentinel); query options are go-redis's (dial_timeout, pool_size, max_retries, …)"

// Topology names, as logged and quoted in errors.
const (
	topoSingle   = "redis"
	topoCluster  = "redis cluster"
	topoSentinel = "redis sentinel"
)

// redisTarget is a parsed `storage redis` URL: a way to build the client, and what to say
// about it in logs and errors (never a password).
type redisTarget struct {
	topology string
	where    string // addresses (and master name), for logs and errors
	db       int
	// retries reports whether the URL set max_retries; without it go-redis's retries are
	// off, and the cluster's are off for writes that must not run twice (see noRetry).
	retries   bool
	secrets   []string // passwords in the URL, scrubbed from every error
	newClient func() redis.UniversalClient
}

// parseRedisURL parses raw with go-redis's parser for the topology its scheme names:
//
//   - redis://, rediss://, unix://: one server (redis.ParseURL).
//   - redis+cluster://, rediss+cluster://: Redis Cluster (redis.ParseClusterURL). The host
//     and each addr= parameter are seed nodes; the client discovers the others. Cluster has
//     only database 0, so a path other than / or /0 is refused.
//   - redis+sentinel://, rediss+sentinel://: a master found through Sentinel
//     (redis.ParseFailoverURL). The host and each addr= are sentinels; master_name= is
//     required. As in go-redis, the URL's user:password authenticate to the sentinels and
//     the username= and password= parameters to the master and its replicas.
//
// Options that route reads to replicas (read_only, replica_only, route_by_latency,
// route_randomly) are refused: a replica can lag behind its master, and the store's reads
// decide single use and revocation.
func parseRedisURL(raw string) (*redisTarget, error) {
	// Errors about a URL that does not parse never quote it: it cannot be redacted.
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("store: invalid redis url: no scheme (such as redis://); use %s", redisURLForms)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("store: invalid redis url: it does not parse as a URL (percent-encode any ':', '@', '/', '?', '#' or '%%' in the user name or password); use %s", redisURLForms)
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		// go-redis would drop the malformed parameter, a password= among them, silently.
		return nil, fmt.Errorf("store: invalid redis url: its query does not parse (percent-encode any '%%', '&', '+', ';' or '=' in a value such as password=); use %s", redisURLForms)
	}
	secrets := urlSecrets(u)
	bad := func(err error) error {
		return fmt.Errorf("store: invalid redis url %s: %s; use %s", RedactRedisURL(raw), scrub(err.Error(), secrets), redisURLForms)
	}
	var kind string
	switch u.Scheme {
	case "redis", "rediss", "unix":
	case "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel":
		_, kind, _ = strings.Cut(u.Scheme, "+")
	default:
		return nil, bad(fmt.Errorf("unknown scheme %q", truncate(u.Scheme, 32)))
	}
	base, _, _ := strings.Cut(u.Scheme, "+")
	libURL := base + raw[len(u.Scheme):] // go-redis's syntax: the same URL, scheme redis(s)
	t := &redisTarget{retries: u.Query().Has("max_retries"), secrets: secrets}
	switch kind {
	case "":
		o, err := redis.ParseURL(libURL)
		if err != nil {
			return nil, bad(err)
		}
		if !t.retries {
			o.MaxRetries = -1
		}
		t.topology, t.where, t.db = topoSingle, o.Addr, o.DB
		t.newClient = func() redis.UniversalClient { return redis.NewClient(o) }
	case "cluster":
		o, err := redis.ParseClusterURL(libURL)
		if err != nil {
			return nil, bad(err)
		}
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, bad(errors.New("Redis Cluster has only database 0: drop the /db path"))
		}
		if o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, bad(errors.New("read_only, route_by_latency and route_randomly read from replicas, which can lag behind their master: remove them"))
		}
		if !t.retries {
			o.MaxRetries = -1
		}
		t.topology, t.where = topoCluster, strings.Join(o.Addrs, ",")
		t.newClient = func() redis.UniversalClient { return redis.NewClusterClient(o) }
	case "sentinel":
		o, err := redis.ParseFailoverURL(libURL)
		if err != nil {
			return nil, bad(err)
		}
		if o.MasterName == "" {
			return nil, bad(errors.New("a sentinel url needs ?master_name=<the name the sentinels monitor>"))
		}
		if o.ReplicaOnly || o.RouteByLatency || o.RouteRandomly || o.UseDisconnectedReplicas {
			return nil, bad(errors.New("replica_only, route_by_latency, route_randomly and use_disconnected_replicas read from replicas, which can lag behind their master: remove them"))
		}
		if !t.retries {
			o.MaxRetries = -1
		}
		t.topology, t.db = topoSentinel, o.DB
		t.where = fmt.Sprintf("master %q via sentinels %s", o.MasterName, strings.Join(o.SentinelAddrs, ","))
		t.newClient = func() redis.UniversalClient { return redis.NewFailoverClient(o) }
	}
	return t, nil
}

// urlSecrets returns the passwords in u (userinfo and the password= parameter), raw and
// percent-encoded, for scrub.
func urlSecrets(u *url.URL) []string {
	var pw []string
	if p, ok := u.User.Password(); ok {
		pw = append(pw, p)
	}
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		pw = append(pw, q["password"]...)
	}
	var out []string
	for _, p := range pw {
		if p != "" {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	return out
}

// scrub replaces every secret in msg with "xxxxx".
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// RedactRedisURL returns raw with its passwords (the userinfo password and any password=
// parameter, as Sentinel URLs carry) replaced by "xxxxx", for logs, errors and map keys. A
// URL that does not parse gives "(unparsable url)", since it cannot be redacted reliably.
func RedactRedisURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil {
		u.RawQuery = "(unparsable query)"
	} else if ps, ok := q["password"]; ok {
		for i := range ps {
			ps[i] = "xxxxx"
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
