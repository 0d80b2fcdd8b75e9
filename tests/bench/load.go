package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one URL the load generator drives, with the headers every request carries.
type target struct {
	key, name string
	url       string
	header    http.Header
	pid       int // the process that serves it (its CPU time is counted per request)
	// token, when set, gives each request its bearer token; "" means the tokens are used up,
	// and the worker stops (the cell then lasts less than its duration).
	token func() string
	// beforeCell, when set, runs before each timed cell (e.g. to hand the cell its share of
	// a token supply); noWarmUp skips the target in the untimed warm-up.
	beforeCell func()
	noWarmUp   bool
}

// cell is the result of one target at one concurrency, summed over the rounds.
type cell struct {
	requests, errors int64
	elapsed          time.Duration
	lat              []time.Duration
	roundRPS         []float64
	roundP99         []time.Duration
	cpu              float64 // CPU seconds of the serving process
}

// cpuPerRequest is the serving process's CPU time per request, in µs: unlike req/s it does
// not depend on what else the machine is doing.
func (c *cell) cpuPerRequest() float64 { return 1e6 * c.cpu / float64(max(c.requests, 1)) }

func (c *cell) rps() float64 { return float64(c.requests) / c.elapsed.Seconds() }

func (c *cell) pct(p float64) time.Duration {
	if len(c.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(c.lat)-1))
	return c.lat[i]
}

// newTransport is the one keep-alive client configuration every target gets.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        4 * conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// drive runs conc workers against t for d and returns the counts and the latencies.
func drive(client *http.Client, t target, conc int, d time.Duration) (requests, errs int64, lat []time.Duration, elapsed time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var nreq, nerr atomic.Int64
	lats := make([][]time.Duration, conc)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodGet, t.url, nil)
				for k, v := range t.header {
					req.Header[k] = v
				}
				if t.token != nil {
					tok := t.token()
					if tok == "" {
						break
					}
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					nerr.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				el := time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					nerr.Add(1)
					continue
				}
				mine = append(mine, el)
				nreq.Add(1)
			}
			lats[w] = mine
		}(w)
	}
	wg.Wait()
	elapsed = time.Since(start)
	for _, l := range lats {
		lat = append(lat, l...)
	}
	return nreq.Load(), nerr.Load(), lat, elapsed
}

// matrix runs rounds × concurrencies × targets, interleaved: within a round every target
// runs once at a concurrency before the next concurrency, so drift hits all targets alike.
func matrix(targets []target, concs []int, rounds int, d time.Duration, logf func(string, ...any)) map[string]map[int]*cell {
	maxConc := slices.Max(concs)
	client := &http.Client{Transport: newTransport(maxConc), Timeout: 10 * time.Second}
	res := map[string]map[int]*cell{}
	for _, t := range targets {
		res[t.key] = map[int]*cell{}
		for _, c := range concs {
			res[t.key][c] = &cell{}
		}
	}
	// Warm-up: open the connections and fill the caches.
	for _, t := range targets {
		if t.noWarmUp {
			continue
		}
		if n, e, _, _ := drive(client, t, maxConc, 400*time.Millisecond); e > 0 || n == 0 {
			logf("warm-up %s: %d ok, %d errors", t.name, n, e)
		}
	}
	for r := 0; r < rounds; r++ {
		for _, c := range concs {
			// Rotate the order each round, so no target always runs first.
			for i := range targets {
				t := targets[(i+r)%len(targets)]
				if t.beforeCell != nil {
					t.beforeCell()
				}
				cpu0, _ := cpuSeconds(t.pid)
				n, e, lat, el := drive(client, t, c, d)
				cpu1, _ := cpuSeconds(t.pid)
				cl := res[t.key][c]
				cl.cpu += cpu1 - cpu0
				if len(lat) > 0 {
					sorted := slices.Clone(lat)
					slices.Sort(sorted)
					cl.roundP99 = append(cl.roundP99, sorted[int(0.99*float64(len(sorted)-1))])
				}
				cl.requests += n
				cl.errors += e
				cl.elapsed += el
				cl.lat = append(cl.lat, lat...)
				cl.roundRPS = append(cl.roundRPS, float64(n)/el.Seconds())
			}
		}
		logf("round %d/%d done", r+1, rounds)
	}
	for _, m := range res {
		for _, cl := range m {
			slices.Sort(cl.lat)
		}
	}
	return res
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond)) }
