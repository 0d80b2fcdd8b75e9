// report_peer.go writes the report's parts about the peer (oauth2-proxy), the cache-miss loads,
// the charts and the flow CPU by handler, and finish, which ends every run: charts, the verdict
// table on stdout, and the report when every phase ran.

package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// printPeer compares the gateway and oauth2-proxy on the protected route, with the same token.
func printPeer(w io.Writer, rep *report) {
	if rep.peerSkip != "" {
		fmt.Fprintf(w, "**oauth2-proxy %s (the peer) did not run, so it has no rows:** `%s`\n\n", peerVersion, strings.ReplaceAll(firstLine(rep.peerSkip), "`", "'"))
		return
	}
	if rep.matrix["peer"] == nil {
		return
	}
	fmt.Fprintln(w, "| conns | gateway / plain req/s | oauth2-proxy / plain req/s | gateway / oauth2-proxy req/s | gateway p99 µs | oauth2-proxy p99 µs | gateway CPU µs/req | oauth2-proxy CPU µs/req | plain Caddy CPU µs/req |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range rep.o.concs {
		g, p, pl := rep.matrix["protected"][c], rep.matrix["peer"][c], rep.matrix["plain"][c]
		fmt.Fprintf(w, "| %d | %.3f | %.3f | %.3f | %s | %s | %.1f | %.1f | %.1f |\n", c, g.rps()/pl.rps(), p.rps()/pl.rps(), g.rps()/p.rps(),
			us(g.pct(0.99)), us(p.pct(0.99)), g.cpuPerRequest(), p.cpuPerRequest(), pl.cpuPerRequest())
	}
	fmt.Fprintf(w, "\nThe peer is oauth2-proxy %s (built from the module proxy by `make bench`, not a dependency of the gateway), configured by `tests/bench/peer/oauth2-proxy.cfg` and `oauth2-proxy.yaml`: bearer JWTs verified against the WorkOS stand-in's JWKS (discovery skipped, issuer checked; the audience check, which it cannot turn off, reads `iss` since WorkOS tokens carry no `aud`), and the identity headers the resource API reads set from the token's claims. Before it is measured the bench checks that it refuses a request without a token and one with a forged signature, and that `/api/v1/me` through it answers 200 with the token's `sub` (the resource API answers 401 without `X-Drio-User-Id`). It carries the same token as the gateway. It has no verified-token cache: it checks the RS256 signature on every request.\n\n", peerVersion)
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprint(x))
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// printMiss writes the cache-miss table.
func printMiss(w io.Writer, rep *report) {
	m := rep.miss
	if m == nil {
		return
	}
	fmt.Fprintln(w, "| conns | load | req/s | rounds req/s (min–max) | p50 µs | p99 µs | server CPU µs/req | errors |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range m.concs {
		for _, t := range m.targets {
			cl := m.cells[t.key][c]
			fmt.Fprintf(w, "| %d | %s | %.0f | %s | %s | %s | %.1f | %d |\n", c, t.name, cl.rps(), spread(cl), us(cl.pct(0.50)), us(cl.pct(0.99)), cl.cpuPerRequest(), cl.errors)
		}
	}
	fmt.Fprintln(w)
}

// writeMiss writes the cache-miss section.
func writeMiss(w io.Writer, rep *report) {
	m := rep.miss
	if m == nil {
		return
	}
	fmt.Fprintf(w, "### Cache misses: tokens the verifier has not cached\n\n")
	fmt.Fprintf(w, "The protected route again, on a gateway whose Badger store was seeded (as in the memory run, %v) with %d live sessions, one per token of a pool of %d distinct valid tokens (minted in-process with the WorkOS stand-in's key, as the memory run does, %v). Two loads per target, interleaved in %d rounds like the side-by-side table, at %s connections:\n\n",
		m.seed.Round(time.Millisecond), m.pool, m.pool, m.poolMint.Round(time.Millisecond), rep.o.rounds, joinInts(m.concs))
	fmt.Fprintf(w, "- **pool**: tokens drawn round robin from the %d, after one untimed pass over the pool through the gateway (%v), so the timed load meets the cache in its steady state. The gateway's verifier caches %d verified tokens (16 shards; a full shard drops an eighth of its entries at random), so a pool of %.1f× its size cannot stay cached: replaying the same sequence (the pass, the warm-up and the timed cells: %d tokens) through a verifier with the default cache gave a **hit ratio of %.1f%%** after the first pass (which can only miss). Each miss is a full RS256 verification.\n",
		m.pool, m.prePass.Round(time.Millisecond), m.cacheSize, float64(m.pool)/float64(m.cacheSize), m.replayRequests, 100*m.replayHitRatio)
	fmt.Fprintf(w, "- **every token new**: %d more tokens (%v to mint), on the same sessions, each sent once to each target: %d per cell, so a cell ends early if its tokens run out first. Every request is a first-sight verification, end to end (the session lookup hits the gateway's session registry after the first pass over the sessions, as it would for a client's next token).\n\n",
		m.fresh, m.mint.Round(time.Millisecond), m.freshPerCell)
	printMiss(w, rep)
	if m.peer {
		fmt.Fprintf(w, "oauth2-proxy has no cache, so its pool and new-token loads do the same work; they are here as the baseline the gateway's first-sight path compares with.\n\n")
	}
}

// writeChartLinks links the charts.
func writeChartLinks(w io.Writer, rep *report) {
	for _, c := range rep.charts {
		fmt.Fprintf(w, "![%s](%s)\n\n", c.alt, c.file)
	}
}

// writeFlowHandlers writes the flow profile split by handler.
func writeFlowHandlers(w io.Writer, rep *report) {
	if len(rep.flowShares) == 0 {
		return
	}
	perFlow := 1000 * rep.flows["shipped"].cpuPerFlow()
	fmt.Fprintf(w, "\n### Gateway CPU per flow by handler\n\nFrom the flow CPU profile above (`%s`): each sample goes to the innermost handler on its stack (so the WorkOS calls count for the callback and the token route, and the proxying behind `drio_protect` for `reverse_proxy`); outside the handlers, net/http's connection loop (reading requests, writing responses), the goroutines of outbound connections (to WorkOS and the upstream), Badger's own goroutines (store commits are written there, off the request's stack), the GC and the scheduler have rows of their own, and \"other\" is the rest. ms per flow = share × the shipped store's gateway CPU per flow (%.3f ms).\n\n", rep.profPaths["flows"], perFlow)
	fmt.Fprintf(w, "| handler | share of gateway CPU | ms per flow |\n| --- | ---: | ---: |\n")
	for _, s := range rep.flowShares {
		fmt.Fprintf(w, "| %s | %.1f%% | %.3f |\n", s.bucket, 100*s.share, s.share*perFlow)
	}
}

// finish ends a run: the charts (with the charts phase), the verdict table on stdout, and the
// report, which only a run of every phase writes.
func finish(rep *report) error {
	o := rep.o
	if o.phases["charts"] {
		dir := filepath.Join(filepath.Dir(o.out), o.chartsDir)
		if err := writeCharts(rep, dir, o.chartsDir); err != nil {
			log.Printf("charts: %v", err)
		} else {
			log.Printf("charts in %s", dir)
		}
		writeFlowHandlers(os.Stdout, rep)
	}
	fmt.Println()
	fmt.Println("Verdict:")
	printVerdicts(os.Stdout, verdicts(rep))
	for _, p := range allPhases {
		if !o.phases[p] {
			log.Printf("partial run (no %q phase): %s not written; done in %v", p, o.out, rep.total.Round(time.Second))
			return nil
		}
	}
	if err := writeReport(rep); err != nil {
		return err
	}
	log.Printf("done in %v; report in %s, charts in %s, profiles in %s", rep.total.Round(time.Second), o.out, o.chartsDir, o.profileDir)
	return nil
}
