// Package store is the gateway's storage: a small key-value Store with
// expiry and the atomic operations the OAuth flows rely on, with an
// embedded Badger backend (the default) and a Redis backend (one server,
// Redis Cluster or Sentinel) for several gateway instances behind one load
// balancer.
//
// # What is stored
//
// Records are namespaced by Kind, and every key is Key(kind, id), so a
// record of one kind can never be read as another (a state is never a
// session): registered OAuth clients (KindClient), pending authorizations
// (KindPending), one-time bridge codes (KindCode), brokered sessions
// (KindSession), refresh-token records (KindRefresh), gateway secrets
// (KindSecret) and shared rate-limit counters (KindRateLimit). Values are
// opaque bytes; the callers choose their encoding.
//
// # Secrets at rest
//
// Codes, refresh tokens and upstream states are stored under HashID(value)
// (hex SHA-256), never under the value itself, so the store never holds
// them and a copied database yields no usable code or token. The WorkOS
// token pair that waits for a code's redemption is encrypted by the caller
// with a key derived from that code before it reaches the store.
//
// # Atomicity
//
// Take (read and delete) and CompareAndSwap are atomic: of N concurrent
// calls on one record exactly one wins, whatever the goroutine or, with
// Redis, the gateway instance. Badger runs each in one transaction that
// reads and writes the same key, since its conflict detection works on the
// read set (dgraph-io/badger#2057), and retries a lost conflict so the
// loser gets the semantic answer (ErrNotFound, or false), never an error.
// Redis uses GETDEL, SET NX and a Lua script, each on one key; unless the
// URL sets max_retries, none of them is re-sent after a lost reply, which
// could report the wrong outcome.
//
// Incr is an atomic counter for values shared by instances (the rate
// limiter's windows): concurrent increments all count and none fails
// because of the others. Redis runs INCR and, on a new key, PEXPIRE in one
// Lua script; Badger queues the increments of one key on an in-process lock
// (a Badger directory has one process) so they never conflict.
//
// # Redis topologies
//
// OpenRedis takes one URL; its scheme picks the topology, and the rest is
// go-redis's own URL syntax, parsed by go-redis:
//
//	redis://[user:password@]host[:port][/db]   one server (rediss:// for TLS,
//	                                          unix:///path/to/socket too)
//	redis+cluster://[user:password@]host:port?addr=host2:port&addr=host3:port
//	                                          Redis Cluster, from seed nodes
//	                                          (rediss+cluster:// for TLS)
//	redis+sentinel://host:port/db?master_name=NAME&addr=host2:port&password=P
//	                                          the master NAME, found through
//	                                          sentinels (rediss+sentinel://)
//
// For Sentinel, as in go-redis, a user:password before the host
// authenticates to the sentinels and username= and password= to the master.
// Cluster has database 0 only. Passwords are never quoted in errors or logs
// (RedactRedisURL).
//
// On a Cluster no command touches two keys, so none can span hash slots:
// every operation is on one key (the CAS script declares it in KEYS and
// touches no other), and Scan reads values by single-key GETs, pipelined per
// node, not MGET. The store adds no hash tag to keys, so records spread over
// every master (a prefix holding "{…}" would put them all in one slot).
// Count and Scan walk each master's keyspace in turn. The Broadcaster uses
// classic pub/sub, which a Cluster relays to every node: a message
// published on any node reaches subscribers on all of them.
//
// # Durability
//
// Badger: a write has been committed to Badger's memory-mapped log when the
// method returns. With BadgerOptions.SyncWrites false it survives a crash
// of the process (SIGKILL, panic, OOM kill) but the last seconds of writes
// can be lost to a power loss or kernel crash; with SyncWrites true every
// commit is flushed to disk first, so it also survives a power loss, at
// the cost of one disk flush per write. Either way a restart opens the
// directory without manual recovery (see TestBadgerSurvivesSIGKILL).
//
// Redis: a reply means the server applied the write; what survives a
// server restart is decided by the server's own persistence settings
// (appendonly, appendfsync), which the operator configures.
//
// # Expiry
//
// A ttl <= 0 means no expiry. Redis expires to the millisecond. Badger
// keeps expiry in whole seconds and rounds up, so a record lives at least
// its ttl and less than a second longer. Expired records are never
// returned, counted or scanned.
//
// # Listing
//
// Count and Scan walk all the records of one kind, for admin and
// maintenance paths (listing registered clients or brokered sessions),
// never request paths. Scan streams them to a callback, so they are never
// all in memory at once, and holds no lock or transaction while the
// callback runs, so the callback may write to the store. Badger reads a
// batch (at most 256 records or about 1 MiB) per read-only transaction and
// resumes after the last key it saw; Redis uses SCAN on each master (the
// one server, or every master of a Cluster) and pipelined GETs, and
// remembers the keys it has seen (not the values) to drop SCAN's
// duplicates. Each record present for a whole scan is seen exactly once
// (on a Cluster, unless resharding moves it during the scan).
//
// The conformance suite every backend passes, and a fault-injecting
// decorator for disk-full tests, are in package storetest.
package store
