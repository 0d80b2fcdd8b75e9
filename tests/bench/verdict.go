// verdict.go holds the targets the run is judged against: each target, what was measured and
// whether it was met, for the report's table and for the end of `make bench`. A target whose
// measurement did not run (a partial run, or no redis/peer) says so instead of passing.

package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

type verdict struct{ target, measured, result string }

const notRun = "not run"

func metMissed(ok bool, miss string) string {
	if ok {
		return "**met**"
	}
	return "**missed** " + miss
}

// verdicts evaluates every target against rep.
// requestsPerFlow is how many requests one full flow makes the gateway serve: register,
// authorize, consent, callback, token, one protected call and refresh.
const requestsPerFlow = 7

func verdicts(rep *report) []verdict {
	var v []verdict
	cellOf := func(key string, c int) *cell {
		if cl := rep.matrix[key][c]; cl != nil && cl.requests > 0 {
			return cl
		}
		return nil
	}
	for _, c := range []int{16, 64} {
		name := fmt.Sprintf("protected ≥ 0.95× plain reverse_proxy req/s at %d conns", c)
		p, pl := cellOf("protected", c), cellOf("plain", c)
		if p == nil || pl == nil {
			v = append(v, verdict{name, notRun, notRun})
			continue
		}
		r := p.rps() / pl.rps()
		v = append(v, verdict{name,
			fmt.Sprintf("%.3f× (rounds: plain %s, protected %s req/s; gateway CPU %+.1f µs/req over plain Caddy)", r, spread(pl), spread(p), p.cpuPerRequest()-pl.cpuPerRequest()),
			metMissed(r >= 0.95, fmt.Sprintf("by %.1f points (%.3f short of 0.95)", 100*(0.95-r), 0.95-r))})
	}
	for _, c := range rep.o.concs {
		p, pl := cellOf("protected", c), cellOf("plain", c)
		if p == nil || pl == nil {
			continue
		}
		add := p.pct(0.99) - pl.pct(0.99)
		v = append(v, verdict{fmt.Sprintf("protected added p99 < 200 µs at %d conns", c),
			fmt.Sprintf("%+d µs (p99 per round: plain %s–%s, protected %s–%s µs)", add.Microseconds(), us(slices.Min(pl.roundP99)), us(slices.Max(pl.roundP99)), us(slices.Min(p.roundP99)), us(slices.Max(p.roundP99))),
			metMissed(add < 200*time.Microsecond, fmt.Sprintf("by %d µs", (add-200*time.Microsecond).Microseconds()))})
	}
	v = append(v, goBenchVerdicts(rep.goBench)...)

	s, ok := rep.flows["shipped"]
	if !ok || s.flows == 0 {
		v = append(v, verdict{"≥ 300 full flows/s (shipped store)", notRun, notRun}, verdict{"gateway CPU per flow < 1 ms (shipped store)", notRun, notRun})
	} else {
		ours := 0.0
		for _, x := range s.procCPU {
			ours += x
		}
		v = append(v, verdict{"≥ 300 full flows/s (shipped store)", fmt.Sprintf("%.1f flows/s with our processes getting %.0f%% of the 2 cores (machine %.0f%% busy); %.0f flows/s if they had them all",
			s.perSecond(), 100*ours/(2*s.elapsed.Seconds()), 100*s.busy, float64(runtime.NumCPU())*float64(s.flows)/max(ours, 1e-9)),
			metMissed(s.perSecond() >= 300, fmt.Sprintf("by %.0f flows/s (%.0f%% of target)", 300-s.perSecond(), 100*s.perSecond()/300))})
		measured := fmt.Sprintf("%.3f ms", 1000*s.cpuPerFlow())
		if pl := cellOf("plain", 16); pl != nil {
			// What Caddy alone spends on the requests of one flow: the floor under any
			// gateway written as a Caddy plugin.
			measured += fmt.Sprintf("; floor: %d requests × plain Caddy's %.0f µs CPU per proxied request = %.3f ms", requestsPerFlow, pl.cpuPerRequest(), float64(requestsPerFlow)*pl.cpuPerRequest()/1000)
		}
		v = append(v, verdict{"gateway CPU per flow < 1 ms (shipped store)", measured,
			metMissed(s.cpuPerFlow() < 0.001, fmt.Sprintf("by %.3f ms", 1000*s.cpuPerFlow()-1))})
	}
	m := rep.mem
	rssName := fmt.Sprintf("RSS < 300 MiB with %dk clients and %dk sessions", rep.o.memN/1000, rep.o.memN/1000)
	if m.finalHWM == 0 {
		v = append(v, verdict{rssName, notRun, notRun}, verdict{"RSS stops growing under load", notRun, notRun})
	} else {
		hwm := float64(m.finalHWM) / 1024
		v = append(v, verdict{rssName, fmt.Sprintf("VmRSS %.1f MiB, VmHWM %.1f MiB", float64(m.finalRSS)/1024, hwm), metMissed(hwm < 300, fmt.Sprintf("by %.1f MiB", hwm-300))})
		v = append(v, verdict{"RSS stops growing under load", fmt.Sprintf("%+.1f MiB from the 2nd sample to the end (limit %.1f MiB)", float64(m.growthKiB)/1024, float64(m.growthLimit)/1024),
			metMissed(m.stable, "")})
	}
	return v
}

// goBenchVerdicts judges the verifier's Go benchmarks: the precise numbers for the verify path.
func goBenchVerdicts(out string) []verdict {
	const (
		cachedName = "cached verify < 2 µs and ≤ 5 allocs (Go benchmark)"
		firstName  = "first-sight verify < 40 µs (Go benchmark)"
		jwxName    = "first-sight verify no slower than jwx's own jwt.Parse"
	)
	var v []verdict
	if ns, allocs, ok := benchLine(out, "BenchmarkVerifyCached"); ok {
		v = append(v, verdict{cachedName, fmt.Sprintf("%.0f ns, %d allocs", ns, allocs), metMissed(ns < 2000 && allocs <= 5, fmt.Sprintf("(%.0f ns, %d allocs)", ns, allocs))})
	} else {
		v = append(v, verdict{cachedName, notRun, notRun})
	}
	fs, fa, ok1 := benchLine(out, "BenchmarkVerifyFirstSight")
	if ok1 {
		measured := fmt.Sprintf("%.1f µs / %d allocs", fs/1000, fa)
		// The target was set against crypto/rsa's RSA-2048 verify (~33 µs then); the verifier
		// now checks the signature itself with per-key precomputation. Both say how much of
		// the time is the signature and how much the rest of the checks.
		if sig, _, ok := benchLine(out, "BenchmarkRS256Precomputed"); ok {
			measured += fmt.Sprintf("; of which the signature check %.1f µs", sig/1000)
		}
		if floor, _, ok := benchLine(out, "BenchmarkRSAVerifyFloor"); ok {
			measured += fmt.Sprintf(" (crypto/rsa's VerifyPKCS1v15 alone: %.1f µs here)", floor/1000)
		}
		v = append(v, verdict{firstName, measured, metMissed(fs < 40000, fmt.Sprintf("by %.1f µs", fs/1000-40))})
	} else {
		v = append(v, verdict{firstName, notRun, notRun})
	}
	if js, ja, ok2 := benchLine(out, "BenchmarkJWXParse"); ok1 && ok2 {
		v = append(v, verdict{jwxName, fmt.Sprintf("%.1f µs / %d allocs vs jwx %.1f µs / %d allocs", fs/1000, fa, js/1000, ja), metMissed(fs <= js*1.02, fmt.Sprintf("by %.1f µs", (fs-js)/1000))})
	} else {
		v = append(v, verdict{jwxName, notRun, notRun})
	}
	return v
}

// printVerdicts writes the verdict table (Markdown, also readable as text).
func printVerdicts(w io.Writer, vs []verdict) {
	fmt.Fprintf(w, "| target | measured | result |\n| --- | --- | --- |\n")
	for _, x := range vs {
		fmt.Fprintf(w, "| %s | %s | %s |\n", x.target, x.measured, x.result)
	}
}
