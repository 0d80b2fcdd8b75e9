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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

type options struct {
	caddyBin, mockBin, out, command, profileDir string
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
	phases := flag.String("phases", "matrix,flows,mem", "phases to run (for experiments; the report needs all three)")
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

type report struct {
	o         options
	started   time.Time
	total     time.Duration
	targets   []target
	matrix    map[string]map[int]*cell
	flows     map[string]flowStats
	mem       memResult
	goBench   string
	profiles  map[string]string // name -> pprof -top text
	profPaths map[string]string
	loadStart string
	loadEnd   string
}

func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

type memResult struct {
	seed, mint, run        time.Duration
	baseRSS, baseHWM       int64
	afterWarmRSS           int64
	samples                []memSample
	requests, errors       int64
	tokens, clients        int
	finalRSS, finalHWM     int64
	growthKiB, growthLimit int64
	stable                 bool
}

func run(o options) error {
	t0 := time.Now()
	rep := &report{o: o, started: t0, loadStart: loadavg(), flows: map[string]flowStats{}, profiles: map[string]string{}, profPaths: map[string]string{}}
	tmp, err := os.MkdirTemp("", "drio-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
		return err
	}
	for _, b := range []string{o.caddyBin, o.mockBin} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s: %v (build it first: see `make bench`)", b, err)
		}
	}

	// The WorkOS stand-in runs in this process: the memory run mints tokens with its key.
	wm, err := workosmock.New(workosmock.Config{ClientID: workosClientID, APIKey: workosAPIKey, AccessTokenTTL: 30 * time.Minute})
	if err != nil {
		return err
	}
	defer wm.Close()
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	workosURL := "http://" + wln.Addr().String()
	wm.SetBaseURL(workosURL)
	wsrv := &http.Server{Handler: wm}
	go func() { _ = wsrv.Serve(wln) }()
	defer wsrv.Close()

	// (1) the resource API, its own process.
	resAddr := freeAddr()
	mock, err := startProc("upstream-mock", tmp, o.mockBin, "-resource-addr", resAddr, "-workos-addr", freeAddr(),
		"-client-id", workosClientID, "-api-key", workosAPIKey)
	if err != nil {
		return err
	}
	defer mock.stop()
	if err := mock.waitHTTP("http://"+resAddr+"/healthz", 200); err != nil {
		return err
	}

	// (2) plain Caddy reverse_proxy.
	plainAddr := freeAddr()
	plain, err := startCaddy("caddy-plain", o.caddyBin, filepath.Join(tmp, "plain"), plainCaddyfile(plainAddr, freeAddr(), resAddr), "http://"+plainAddr+"/api/v1/templates")
	if err != nil {
		return err
	}
	defer plain.stop()

	// (3)+(4) the gateway, as shipped (Badger, no sync_writes).
	gwCfg := gatewayConfig{Addr: freeAddr(), Admin: freeAddr(), Upstream: resAddr, WorkOS: workosURL, DataDir: filepath.Join(tmp, "gw-data")}
	gw, err := startCaddy("gateway", o.caddyBin, filepath.Join(tmp, "gw"), gwCfg.caddyfile(), "http://"+gwCfg.Addr+"/.well-known/oauth-authorization-server")
	if err != nil {
		return err
	}
	defer gw.stop()
	gwURL := "http://" + gwCfg.Addr
	log.Printf("resource API %s, plain Caddy %s, gateway %s (admin %s), WorkOS stand-in %s", resAddr, plainAddr, gwCfg.Addr, gwCfg.Admin, workosURL)

	// A valid token from a real flow.
	fr := &flowRunner{gw: gwURL, transport: newTransport(o.flowConc)}
	var first *flowResult
	for i := 0; i < 50; i++ { // the JWKS is fetched in the background at start
		if first, err = fr.run(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("first flow: %v\n%s", err, tail(gw.out.String(), 3000))
	}

	ident := http.Header{
		"X-Drio-User-Id": {workosmock.DemoAdaID}, "X-Drio-Org-Id": {workosmock.DemoOrgID},
		"X-Drio-Session-Id": {"session_bench"}, "X-Drio-User-Email": {benchEmail},
		"X-Drio-User-Role": {"admin"}, "X-Drio-User-Permissions": {"apps:read,apps:write"},
		"X-Request-Id": {"req_bench"},
	}
	rep.targets = []target{
		{key: "direct", name: "upstream direct `/api/v1/me`", url: "http://" + resAddr + "/api/v1/me", header: ident, pid: mock.pid()},
		{key: "plain", name: "Caddy reverse_proxy `/api/v1/me`", url: "http://" + plainAddr + "/api/v1/me", header: ident, pid: plain.pid()},
		{key: "protected", name: "gateway protected `/api/v1/me` (bearer)", url: gwURL + "/api/v1/me", header: http.Header{"Authorization": {"Bearer " + first.access}}, pid: gw.pid()},
		{key: "plain-public", name: "Caddy reverse_proxy `/api/v1/templates`", url: "http://" + plainAddr + "/api/v1/templates", pid: plain.pid()},
		{key: "public", name: "gateway public `/api/v1/templates`", url: gwURL + "/api/v1/templates", pid: gw.pid()},
	}
	if o.phases["matrix"] {
		log.Printf("latency matrix: %d targets x %v connections x %d rounds x %v", len(rep.targets), o.concs, o.rounds, o.cellDur)
		rep.matrix = matrix(rep.targets, o.concs, o.rounds, o.cellDur, log.Printf)
		printMatrix(os.Stdout, rep)
	}

	// Profile of the gateway under the protected load (not part of the measurement).
	maxConc := o.concs[len(o.concs)-1]
	prof := func(name string, load func(time.Duration)) {
		path := filepath.Join(o.profileDir, name+".pprof")
		done := make(chan error, 1)
		go func() { done <- fetchProfile("http://"+gwCfg.Admin, 4, path) }()
		load(5 * time.Second)
		if err := <-done; err != nil {
			log.Printf("profile %s: %v", name, err)
			return
		}
		rep.profPaths[name] = path
		rep.profiles[name] = pprofTop(path)
	}
	if o.phases["matrix"] {
		prof("protected", func(d time.Duration) {
			drive(&http.Client{Transport: newTransport(maxConc)}, rep.targets[2], maxConc, d)
		})
	}
	pids := map[string]int{"gateway": gw.pid(), "upstream-mock": mock.pid(), benchProc: os.Getpid()}
	if !o.phases["flows"] {
		gw.stop()
		plain.stop()
		if o.phases["mem"] {
			if err := memoryRun(o, rep, tmp, resAddr, workosURL, wm); err != nil {
				return err
			}
		}
		return nil
	}

	// Flow throughput: the shipped gateway and one with sync_writes, interleaved in slices
	// (shipped, sync, shipped, sync, ...) so that other load on the machine hits both alike.
	syncCfg := gatewayConfig{Addr: freeAddr(), Admin: freeAddr(), Upstream: resAddr, WorkOS: workosURL, DataDir: filepath.Join(tmp, "gw-sync-data"), SyncWrites: true}
	gwSync, err := startCaddy("gateway-sync", o.caddyBin, filepath.Join(tmp, "gw-sync"), syncCfg.caddyfile(), "http://"+syncCfg.Addr+"/.well-known/oauth-authorization-server")
	if err != nil {
		return err
	}
	defer gwSync.stop()
	frSync := &flowRunner{gw: "http://" + syncCfg.Addr, transport: newTransport(o.flowConc)}
	for i := 0; i < 50; i++ {
		if _, err = frSync.run(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("first flow (sync_writes): %v", err)
	}
	const slices = 4
	log.Printf("flows: shipped store (Badger, no sync_writes) and sync_writes, %d concurrent, %d interleaved slices of %v each", o.flowConc, slices, o.flowDur/slices)
	syncPids := maps.Clone(pids)
	syncPids["gateway"] = gwSync.pid()
	for i := 0; i < slices; i++ {
		rep.flows["shipped"] = rep.flows["shipped"].add(fr.throughput(pids, o.flowConc, o.flowDur/slices))
		rep.flows["sync"] = rep.flows["sync"].add(frSync.throughput(syncPids, o.flowConc, o.flowDur/slices))
	}
	logFlows("shipped", rep.flows["shipped"])
	logFlows("sync_writes", rep.flows["sync"])
	prof("flows", func(d time.Duration) { fr.throughput(pids, o.flowConc, d) })
	gw.stop()
	gwSync.stop()
	plain.stop()

	if !o.phases["mem"] {
		return nil
	}
	// Memory: 100k clients, 100k sessions, then many protected requests.
	if err := memoryRun(o, rep, tmp, resAddr, workosURL, wm); err != nil {
		return err
	}
	mock.stop()

	if o.goBench {
		log.Printf("Go benchmarks")
		rep.goBench = goBenchmarks()
	}
	rep.total = time.Since(t0)
	rep.loadEnd = loadavg()
	if err := writeReport(rep); err != nil {
		return err
	}
	log.Printf("done in %v; report in %s, profiles in %s", rep.total.Round(time.Second), o.out, o.profileDir)
	return nil
}

func logFlows(name string, s flowStats) {
	log.Printf("  %s: %d flows in %v = %.1f flows/s, %d errors, gateway CPU %.2fs = %.3f ms/flow; machine busy %.0f%% of 2 cores; %s %s",
		name, s.flows, s.elapsed.Round(time.Millisecond), s.perSecond(), s.errors, s.cpu, 1000*s.cpuPerFlow(), 100*s.busy, s.cpuShares(), s.firstErr)
}

func memoryRun(o options, rep *report, tmp, resAddr, workosURL string, wm *workosmock.Server) error {
	m := &rep.mem
	m.clients = o.memN
	dir := filepath.Join(tmp, "gw-mem-data")
	t := time.Now()
	log.Printf("memory: seeding %d clients and %d sessions", o.memN, o.memN)
	if err := seedStore(dir, o.memN, 720*time.Hour); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	m.seed = time.Since(t)
	cfg := gatewayConfig{Addr: freeAddr(), Admin: freeAddr(), Upstream: resAddr, WorkOS: workosURL, DataDir: dir}
	g, err := startCaddy("gateway-mem", o.caddyBin, filepath.Join(tmp, "gw-mem"), cfg.caddyfile(), "http://"+cfg.Addr+"/.well-known/oauth-authorization-server")
	if err != nil {
		return err
	}
	defer g.stop()
	time.Sleep(500 * time.Millisecond)
	m.baseRSS, m.baseHWM, _ = memKiB(g.pid())
	t = time.Now()
	n := min(o.memTokens, o.memN)
	tokens := mintTokens(wm, n, 30*time.Minute)
	m.mint, m.tokens = time.Since(t), n
	log.Printf("memory: minted %d tokens in %v; gateway VmRSS %.1f MiB at start", n, m.mint.Round(time.Millisecond), float64(m.baseRSS)/1024)
	// Check a token first, so a wiring mistake fails loudly rather than as a million 401s.
	req, _ := http.NewRequest("GET", "http://"+cfg.Addr+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[0])
	for i := 0; ; i++ {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if i > 50 {
				return fmt.Errorf("memory run: protected call with a minted token: %d %s", resp.StatusCode, body)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	every := max(o.memRequests/10, 1)
	t = time.Now()
	m.samples, m.requests, m.errors = memLoad("http://"+cfg.Addr, g.pid(), tokens, o.memRequests, 16, o.memBudget, every, log.Printf)
	m.run = time.Since(t)
	m.finalRSS, m.finalHWM, _ = memKiB(g.pid())
	// Growth: from the first sample after every token was seen to the end.
	if len(m.samples) >= 3 {
		ref := m.samples[1]
		m.afterWarmRSS = ref.rss
		m.growthKiB = m.finalRSS - ref.rss
		m.growthLimit = max(ref.rss/20, 16*1024) // 5% or 16 MiB
		m.stable = m.growthKiB <= m.growthLimit
	}
	log.Printf("memory: %d requests (%d errors) in %v; VmRSS %.1f MiB, VmHWM %.1f MiB; growth after warm-up %.1f MiB (stable: %v)",
		m.requests, m.errors, m.run.Round(time.Millisecond), float64(m.finalRSS)/1024, float64(m.finalHWM)/1024, float64(m.growthKiB)/1024, m.stable)
	return nil
}

// fetchProfile takes a CPU profile from Caddy's admin endpoint.
func fetchProfile(admin string, seconds int, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+20)*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, seconds), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// pprofTop is `go tool pprof -top` of a profile, cut to the interesting lines.
func pprofTop(path string) string {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=45", path).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "flat") {
			return strings.Join(append([]string{lines[i-2], lines[i-1]}, lines[i:]...), "\n")
		}
	}
	return string(out)
}

// goBenchmarks runs the Go benchmarks of the hot path and returns their output.
func goBenchmarks() string {
	args := []string{"test", "-run", "^$", "-bench", "Verify|JWXParse|BearerToken|Protect|MatchRedirectURI|Put|Take|Get",
		"-benchmem", "-count", "1", "-benchtime", "1s", "-p", "1",
		"./caddymodule/", "./caddymodule/verifier/", "./caddymodule/store/"}
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "ok") || strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "pkg:") {
			keep = append(keep, l)
		}
	}
	s := "$ go " + strings.Join(args, " ") + "\n" + strings.Join(keep, "\n")
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s += "\n(go test failed: " + err.Error() + ")\n" + tail(string(out), 2000)
		}
	}
	fmt.Println(s)
	return s
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
