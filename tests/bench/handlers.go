// handlers.go splits a CPU profile of the gateway by the handler each sample ran in: the
// innermost frame on the sample's stack that is one of the gateway's handlers (or Caddy's
// reverse proxy, or Caddy's HTTP server) names its bucket, so a WorkOS call made from the
// callback counts for the callback, and the proxying behind drio_protect counts for
// reverse_proxy, not for drio_protect. Outside any handler, net/http's connection loop (reading
// requests, writing responses), the outbound connections' goroutines, Badger's own goroutines
// (a store commit is written there, not on the request's stack), the GC and the scheduler have
// buckets of their own; whatever is left is "other".

package main

import (
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// handlerRule maps a function (its full name as pprof shows it) to a bucket.
type handlerRule struct{ fn, bucket string }

const (
	bucketCaddy    = "Caddy HTTP server, outside the handlers"
	bucketConn     = "net/http server: reading requests, writing responses"
	bucketOutbound = "outbound HTTP connections (WorkOS, the upstream)"
	bucketGC       = "garbage collector"
	bucketBadger   = "Badger's own goroutines (commits, watermarks)"
	bucketSched    = "Go scheduler"
	bucketOutside  = "other (runtime, timers, background work)"
)

// handlerRules, matched against whole function names. The order does not matter: the
// innermost matching frame wins.
var handlerRules = []handlerRule{
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveRegister", "register"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveAuthorize", "authorize"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveConsentDecision", "consent"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveCallback", "callback"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveToken", "token: code redemption"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveRefresh", "token: refresh"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveTokenRoute", "token: route"},
	{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).ServeHTTP", "drio_oauth, outside a route"},
	{"github.com/drio-gateway/gateway/caddymodule.(*Protect).ServeHTTP", "drio_protect (bearer check)"},
	{"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy.(*Handler).ServeHTTP", "reverse_proxy"},
	{"github.com/caddyserver/caddy/v2/modules/caddyhttp.(*Server).ServeHTTP", bucketCaddy},
	{"net/http.(*conn).serve", bucketConn},
	{"net/http.(*persistConn).readLoop", bucketOutbound},
	{"net/http.(*persistConn).writeLoop", bucketOutbound},
	{"net/http.(*Transport).dialConnFor", bucketOutbound},
	{"runtime.gcBgMarkWorker", bucketGC},
	{"runtime.bgsweep", bucketGC},
	{"runtime.bgscavenge", bucketGC},
	{"github.com/dgraph-io/badger/v4.(*DB).writeRequests", bucketBadger},
	{"github.com/dgraph-io/badger/v4/y.(*WaterMark).process", bucketBadger},
	{"runtime.mcall", bucketSched},
}

// handlerShare is one bucket's CPU share of the profile.
type handlerShare struct {
	bucket string
	share  float64 // of the profile's CPU, 0..1
}

// handlerShares buckets p's CPU samples by handler, largest first.
func handlerShares(p *profile.Profile, rules []handlerRule) []handlerShare {
	vi := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	byFn := map[string]string{}
	for _, r := range rules {
		byFn[r.fn] = r.bucket
	}
	sums := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		if vi < 0 || vi >= len(s.Value) {
			continue
		}
		v := s.Value[vi]
		total += v
		sums[bucketOf(s, byFn)] += v
	}
	var out []handlerShare
	for b, v := range sums {
		if total > 0 {
			out = append(out, handlerShare{bucket: b, share: float64(v) / float64(total)})
		}
	}
	slices.SortFunc(out, func(a, b handlerShare) int {
		if a.share != b.share {
			if a.share > b.share {
				return -1
			}
			return 1
		}
		return strings.Compare(a.bucket, b.bucket)
	})
	return out
}

// bucketOf walks the stack from the leaf (Location[0]) outwards; inlined frames of one
// location are listed innermost first too.
func bucketOf(s *profile.Sample, byFn map[string]string) string {
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			if b, ok := byFn[ln.Function.Name]; ok {
				return b
			}
		}
	}
	return bucketOutside
}

// profileHandlerShares reads a profile file and buckets it.
func profileHandlerShares(path string) ([]handlerShare, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, err
	}
	return handlerShares(p, handlerRules), nil
}
