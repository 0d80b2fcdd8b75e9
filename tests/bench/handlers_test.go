package main

import (
	"math"
	"testing"

	"github.com/google/pprof/profile"
)

// stackProfile builds a CPU profile whose samples are the given stacks (leaf first) with the
// given CPU values.
func stackProfile(stacks [][]string, values []int64) *profile.Profile {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}}
	fns := map[string]*profile.Function{}
	for i, st := range stacks {
		var locs []*profile.Location
		for _, name := range st {
			fn, ok := fns[name]
			if !ok {
				fn = &profile.Function{ID: uint64(len(fns) + 1), Name: name}
				fns[name] = fn
				p.Function = append(p.Function, fn)
			}
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{1, values[i]}})
	}
	return p
}

func TestHandlerSharesInnermostHandlerWins(t *testing.T) {
	const (
		caddy   = "github.com/caddyserver/caddy/v2/modules/caddyhttp.(*Server).ServeHTTP"
		oauth   = "github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).ServeHTTP"
		route   = "github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveTokenRoute"
		refresh = "github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveRefresh"
		protect = "github.com/drio-gateway/gateway/caddymodule.(*Protect).ServeHTTP"
		proxy   = "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy.(*Handler).ServeHTTP"
	)
	p := stackProfile([][]string{
		{"crypto/rsa.VerifyPKCS1v15", refresh, route, oauth, caddy}, // refresh, not the token route
		{"encoding/json.Unmarshal", route, oauth, caddy},            // the route itself
		{"syscall.write", proxy, protect, caddy},                    // proxying behind drio_protect
		{"strings.Index", protect, caddy},                           // the bearer check itself
		{"net/http.(*conn).readRequest", caddy},                     // Caddy, no handler
		{"runtime.gcBgMarkWorker"},                                  // GC
		{"bufio.(*Reader).Read", "net/http.(*conn).serve"},          // net/http, before any handler
		{"syscall.read", "net/http.(*persistConn).readLoop"},        // an outbound connection
		{"runtime.timerproc"},                                       // nothing we know
	}, []int64{40, 10, 25, 5, 6, 4, 4, 3, 3})
	got := map[string]float64{}
	var sum float64
	for _, s := range handlerShares(p, handlerRules) {
		got[s.bucket] = s.share
		sum += s.share
	}
	want := map[string]float64{
		"token: refresh": 0.40, "token: route": 0.10, "reverse_proxy": 0.25,
		"drio_protect (bearer check)": 0.05, bucketCaddy: 0.06, bucketGC: 0.04,
		bucketConn: 0.04, bucketOutbound: 0.03, bucketOutside: 0.03,
	}
	if len(got) != len(want) {
		t.Fatalf("buckets %v, want %v", got, want)
	}
	for b, w := range want {
		if math.Abs(got[b]-w) > 1e-9 {
			t.Errorf("%s: share %.3f, want %.3f", b, got[b], w)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("shares sum to %f, want 1", sum)
	}
	// Largest first.
	if s := handlerShares(p, handlerRules); s[0].bucket != "token: refresh" || s[1].bucket != "reverse_proxy" || s[len(s)-1].share != 0.03 {
		t.Errorf("order: %v", s)
	}
}

func TestHandlerSharesRulesAreWholeNames(t *testing.T) {
	// serveToken must not claim serveTokenRoute's samples (a prefix of the name).
	p := stackProfile([][]string{{"github.com/drio-gateway/gateway/caddymodule/internal/oauth.(*Server).serveTokenRoute"}}, []int64{1})
	if s := handlerShares(p, handlerRules); len(s) != 1 || s[0].bucket != "token: route" {
		t.Fatalf("got %v, want everything in token: route", s)
	}
}
