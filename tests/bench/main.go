// Command bench is `make bench`: on loopback only, it starts the resource API
// (upstream-mock), Caddy with a plain reverse_proxy to it, and the gateway (Caddy with the
// drio plugin) in front of it, then drives them all with one keep-alive Go client,
// interleaved, at several concurrencies; it measures full OAuth flows per second with both
// Badger durability settings, the gateway's memory with 100k clients and 100k sessions, runs
// the Go benchmarks of the hot path, and writes everything to BENCHMARKS.md.
//
//	go build -o bin/bench-caddy ./cmd/caddy && go build -o bin/upstream-mock ./upstream-mock
//	go run ./tests/bench -caddy bin/bench-caddy -mock bin/upstream-mock
package main

import (
	"flag"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// allPhases are the parts of a full run: matrix (side by side), peer (oauth2-proxy in the
// matrix and the cache-miss loads), miss (cache-miss loads), flows (flows/s and scale-out), mem
// (memory), gobench (Go benchmarks), charts (SVG charts).
var allPhases = []string{"matrix", "peer", "miss", "flows", "mem", "gobench", "charts"}

type options struct {
	caddyBin, mockBin, out, command, profileDir string
	peerBin, chartsDir                          string
	missPool, missFresh                         int
	concs                                       []int
	rounds                                      int
	cellDur, flowDur                            time.Duration
	flowConc                                    int
	memN, memTokens                             int
	memRequests                                 int64
	memBudget                                   time.Duration
	goBench                                     bool
	phases                                      map[string]bool
}

func main() {
	var o options
	var concs string
	flag.StringVar(&o.caddyBin, "caddy", "bin/bench-caddy", "Caddy binary with the plugin (go build ./cmd/caddy)")
	flag.StringVar(&o.mockBin, "mock", "bin/upstream-mock", "upstream-mock binary")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report file (the generated section is replaced; text outside it is kept)")
	flag.StringVar(&o.command, "command", "go run ./tests/bench", "the command line recorded in the report")
	flag.StringVar(&o.peerBin, "peer", "bin/oauth2-proxy", "oauth2-proxy "+peerVersion+" binary, the peer (make bench builds it; without it the peer rows are skipped)")
	flag.StringVar(&o.chartsDir, "charts", "bench-charts", "where the SVG charts go, relative to the report's directory")
	flag.IntVar(&o.missPool, "miss-pool", 2*verifier.DefaultCacheSize, "distinct tokens of the cache-miss pool load (the gateway's verifier caches 10000)")
	flag.IntVar(&o.missFresh, "miss-fresh", 9600, "never-seen tokens per target in the cache-miss phase, split evenly over its cells")
	flag.StringVar(&o.profileDir, "profile-dir", "bin/bench-pprof", "where the gateway's CPU profiles go")
	flag.StringVar(&concs, "conc", "1,16,64", "concurrency levels")
	flag.IntVar(&o.rounds, "rounds", 6, "interleaved rounds")
	flag.DurationVar(&o.cellDur, "d", 750*time.Millisecond, "duration of one target at one concurrency in one round")
	flag.DurationVar(&o.flowDur, "flow-d", 8*time.Second, "duration of each flow-throughput run")
	flag.IntVar(&o.flowConc, "flow-conc", 16, "concurrent flows")
	flag.IntVar(&o.memN, "mem-n", 100000, "registered clients and live sessions in the memory run")
	flag.IntVar(&o.memTokens, "mem-tokens", 10000, "distinct access tokens (one per session) used by the memory run")
	flag.Int64Var(&o.memRequests, "mem-requests", 1000000, "protected requests in the memory run")
	flag.DurationVar(&o.memBudget, "mem-budget", 75*time.Second, "time budget of the memory run's requests")
	flag.BoolVar(&o.goBench, "gobench", true, "run the Go benchmarks")
	phases := flag.String("phases", strings.Join(allPhases, ","), "phases to run, of "+strings.Join(allPhases, ",")+" (for experiments: the report is written only when all run; a partial run prints its tables and verdicts, and writes the charts with \"charts\")")
	flag.Parse()
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		o.phases[strings.TrimSpace(p)] = true
	}
	for _, s := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("bad -conc %q", concs)
		}
		o.concs = append(o.concs, n)
	}
	log.SetFlags(log.Ltime)
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}
