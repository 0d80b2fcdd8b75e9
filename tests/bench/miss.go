// miss.go holds the cache-miss phase: the protected route with tokens the verifier's cache
// mostly does not hold (round robin over a pool larger than the cache) and with tokens it has
// never seen (each used once), for the gateway and the peer, interleaved like the matrix. The
// gateway here runs on a store seeded with one live session per pool token, as the memory run
// does, since drio_protect refuses a token whose sid is not a live session.

package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/verifier"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// missResult is what the cache-miss phase measured.
type missResult struct {
	targets        []target
	cells          map[string]map[int]*cell
	concs          []int
	pool, fresh    int           // pool size, fresh tokens per target
	freshPerCell   int           // fresh tokens handed to one cell
	mint, seed     time.Duration // minting the fresh tokens (the pool's share is in poolMint)
	poolMint       time.Duration
	prePass        time.Duration // the untimed pass over the pool
	replayRequests int64         // pool tokens sent to the gateway (pass, warm-up, cells), replayed through a verifier
	replayHitRatio float64       // cache hits / lookups of that replay
	cacheSize      int
	peer           bool
}

// sessionTokens returns tokens 0..n-1, one per seeded session benchSID(i), minting those not
// minted yet: the memory run and the pool load share them (RS256 signing is ~1 ms a token here).
func (rep *report) sessionTokens(wm *workosmock.Server, n int) []string {
	if have := len(rep.minted); have < n {
		t := time.Now()
		rep.minted = append(rep.minted, mintTokens(wm, have, n, n, 30*time.Minute)...)
		log.Printf("minted tokens %d..%d in %v", have, n-1, time.Since(t).Round(time.Millisecond))
	}
	return rep.minted[:n]
}

// tokenFeed hands out tokens in order; beforeCell gives the next cell at most perCell of them.
type tokenFeed struct {
	toks    []string
	perCell int
	next    atomic.Int64
	limit   atomic.Int64
}

func (f *tokenFeed) token() string {
	i := f.next.Add(1) - 1
	if i >= f.limit.Load() {
		return ""
	}
	return f.toks[i]
}

func (f *tokenFeed) beforeCell() {
	cur := min(f.next.Load(), f.limit.Load())
	f.next.Store(cur)
	f.limit.Store(min(cur+int64(f.perCell), int64(len(f.toks))))
}

// roundRobin cycles over toks; *n counts the tokens handed out.
func roundRobin(toks []string, n *atomic.Int64) func() string {
	return func() string { return toks[(n.Add(1)-1)%int64(len(toks))] }
}

// missRun runs the cache-miss phase; peerBase is "" when the peer is not running.
func missRun(o options, rep *report, tmp, resAddr, workosURL string, wm *workosmock.Server, peerBase string, peerPid int) error {
	m := &missResult{pool: o.missPool, cacheSize: verifier.DefaultCacheSize, peer: peerBase != "", cells: map[string]map[int]*cell{}}
	rep.miss = m
	for _, c := range o.concs {
		if c >= 16 {
			m.concs = append(m.concs, c)
		}
	}
	if len(m.concs) == 0 {
		m.concs = o.concs
	}
	dir := filepath.Join(tmp, "gw-miss-data")
	t := time.Now()
	if err := seedStore(dir, m.pool, 720*time.Hour); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	m.seed = time.Since(t)
	t = time.Now()
	pool := rep.sessionTokens(wm, m.pool)
	m.poolMint = time.Since(t)
	// Fresh tokens: distinct (own jti) and on live sessions (i mod pool), each used once per
	// target. The gateway and the peer each see every one of them for the first time.
	cells := o.rounds * len(m.concs)
	m.freshPerCell = max(o.missFresh/cells, 1)
	m.fresh = m.freshPerCell * cells
	t = time.Now()
	fresh := mintTokens(wm, m.pool, m.pool+m.fresh, m.pool, 30*time.Minute)
	m.mint = time.Since(t)
	log.Printf("cache-miss: %d sessions seeded in %v, %d pool tokens (%v), %d fresh tokens minted in %v", m.pool, m.seed.Round(time.Millisecond), m.pool, m.poolMint.Round(time.Millisecond), m.fresh, m.mint.Round(time.Millisecond))

	cfg := gatewayConfig{Addr: freeAddr(), Admin: freeAddr(), Upstream: resAddr, WorkOS: workosURL, DataDir: dir}
	g, err := startCaddy("gateway-miss", o.caddyBin, filepath.Join(tmp, "gw-miss"), cfg.caddyfile(), "http://"+cfg.Addr+"/.well-known/oauth-authorization-server")
	if err != nil {
		return err
	}
	defer g.stop()
	gwBase := "http://" + cfg.Addr
	if err := checkToken(gwBase, pool[0]); err != nil {
		return fmt.Errorf("cache-miss gateway: %w", err)
	}
	if err := checkToken(gwBase, fresh[len(fresh)-1]); err != nil {
		return fmt.Errorf("cache-miss gateway, a fresh token: %w", err)
	}

	type side struct {
		key, name, base string
		pid             int
	}
	sides := []side{{"gateway", "gateway", gwBase, g.pid()}}
	if m.peer {
		sides = append(sides, side{"peer", "oauth2-proxy", peerBase, peerPid})
	}
	var gwPoolSent atomic.Int64
	for _, s := range sides {
		sent := new(atomic.Int64)
		if s.key == "gateway" {
			sent = &gwPoolSent
		}
		m.targets = append(m.targets, target{key: s.key + "-pool", name: fmt.Sprintf("%s, round robin over %d tokens", s.name, m.pool),
			url: s.base + "/api/v1/me", pid: s.pid, token: roundRobin(pool, sent)})
		f := &tokenFeed{toks: fresh, perCell: m.freshPerCell}
		m.targets = append(m.targets, target{key: s.key + "-fresh", name: fmt.Sprintf("%s, every token new (%d per cell at most)", s.name, m.freshPerCell),
			url: s.base + "/api/v1/me", pid: s.pid, token: f.token, beforeCell: f.beforeCell, noWarmUp: true})
	}
	// One untimed pass over the pool first, so the timed pool load sees the cache in its steady
	// state rather than the pool's first, all-miss, pass. (The peer has no cache to fill.)
	t = time.Now()
	var pass atomic.Int64
	rr := roundRobin(pool, &gwPoolSent)
	prePass := target{url: gwBase + "/api/v1/me", token: func() string {
		if pass.Add(1) > int64(m.pool) {
			return ""
		}
		return rr()
	}}
	conc := m.concs[len(m.concs)-1]
	if _, e, _, _ := drive(&http.Client{Transport: newTransport(conc), Timeout: 10 * time.Second}, prePass, conc, 2*time.Minute); e > 0 {
		log.Printf("cache-miss: %d errors in the pass over the pool", e)
	}
	m.prePass = time.Since(t)
	log.Printf("cache-miss: one pass over the %d-token pool through the gateway in %v", m.pool, m.prePass.Round(time.Millisecond))
	log.Printf("cache-miss: %d targets x %v connections x %d rounds x %v", len(m.targets), m.concs, o.rounds, o.cellDur)
	m.cells = matrix(m.targets, m.concs, o.rounds, o.cellDur, log.Printf)

	// What hit ratio the gateway's cache gives this pool: the same sequence of tokens, as many
	// as the gateway served, through a verifier with the gateway's default cache size.
	m.replayRequests = gwPoolSent.Load()
	m.replayHitRatio, err = replayHits(workosURL, wm.Issuer(), pool, m.replayRequests)
	if err != nil {
		log.Printf("cache-miss: hit-ratio replay: %v", err)
	} else {
		log.Printf("cache-miss: %d pool requests replayed through a verifier with the default cache: %.1f%% hits", m.replayRequests, 100*m.replayHitRatio)
	}
	printMiss(log.Writer(), rep)
	return nil
}

// checkToken fails unless a protected call with tok answers 200.
func checkToken(base, tok string) error {
	var last string
	for i := 0; i < 50; i++ {
		code, body, err := getMe(base, tok)
		if err == nil && code == 200 {
			return nil
		}
		last = fmt.Sprintf("%d %s %v", code, tail(string(body), 300), err)
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("protected call with a minted token: %s", last)
}

// getMe is one GET /api/v1/me with a bearer token.
func getMe(base, tok string) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, body, err
}

// replayHits verifies n tokens, round robin over pool, with a verifier configured as the
// gateway's (default cache size) and returns its cache hit ratio after the first pass over
// the pool (which can only miss).
func replayHits(workosURL, issuer string, pool []string, n int64) (float64, error) {
	v, err := verifier.New(verifier.Config{JWKSURL: workosURL + "/sso/jwks/" + workosClientID, Issuers: []string{issuer}})
	if err != nil {
		return 0, err
	}
	defer v.Close()
	ctx := context.Background()
	if err := v.Refresh(ctx); err != nil {
		return 0, err
	}
	var s0 verifier.Stats
	for i := int64(0); i < n; i++ {
		if i == int64(len(pool)) {
			s0 = v.Stats()
		}
		if _, err := v.Verify(ctx, pool[i%int64(len(pool))]); err != nil {
			return 0, err
		}
	}
	s := v.Stats()
	hits, misses := s.CacheHits-s0.CacheHits, s.CacheMisses-s0.CacheMisses
	return float64(hits) / float64(max(hits+misses, 1)), nil
}
