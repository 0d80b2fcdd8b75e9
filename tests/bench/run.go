// run.go holds the orchestration: run starts the WorkOS stand-in, the
// resource API, plain Caddy and the gateway, then runs the phases in order
// (latency matrix, flow throughput, memory, Go benchmarks) and fills the
// report that writeReport turns into BENCHMARKS.md.

package main

import (
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

type report struct {
	o          options
	started    time.Time
	total      time.Duration
	targets    []target
	matrix     map[string]map[int]*cell
	flows      map[string]flowStats
	mem        memResult
	goBench    string
	profiles   map[string]string // name -> pprof -top text
	profPaths  map[string]string
	loadStart  string
	loadEnd    string
	redisSkip  string // why the Redis setups did not run ("" when they did)
	peerSkip   string // why the peer did not run ("" when it did)
	minted     []string
	miss       *missResult
	charts     []chart // written next to the report
	flowShares []handlerShare
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
	first, err := warmUp(fr)
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
	// The peer, oauth2-proxy, on the same route with the same token, once it has shown that it
	// really verifies and passes the identity on.
	var peer *proc
	var peerBase string
	var peerPid int
	if o.phases["peer"] {
		addr := freeAddr()
		p, err := startPeer(o.peerBin, filepath.Join(tmp, "peer"), addr, resAddr, workosURL, wm.Issuer())
		if err == nil {
			if err = checkPeer("http://"+addr, first.access, workosmock.DemoAdaID); err != nil {
				err = fmt.Errorf("%v\n%s", err, tail(p.out.String(), 1500))
				p.stop()
			}
		}
		if err != nil {
			rep.peerSkip = err.Error()
			log.Printf("peer (oauth2-proxy) skipped: %v", err)
		} else {
			peer, peerBase, peerPid = p, "http://"+addr, p.pid()
			defer peer.stop()
			log.Printf("peer: oauth2-proxy %s on %s refuses no token and a forged one, and passes X-Drio-User-Id", peerVersion, addr)
			rep.targets = append(rep.targets, target{key: "peer", name: "oauth2-proxy protected `/api/v1/me` (bearer)", url: peerBase + "/api/v1/me",
				header: http.Header{"Authorization": {"Bearer " + first.access}}, pid: peerPid})
		}
	}
	if o.phases["matrix"] {
		log.Printf("latency matrix: %d targets x %v connections x %d rounds x %v", len(rep.targets), o.concs, o.rounds, o.cellDur)
		rep.matrix = matrix(rep.targets, o.concs, o.rounds, o.cellDur, log.Printf)
		printMatrix(os.Stdout, rep)
		printPeer(os.Stdout, rep)
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
	if o.phases["miss"] {
		if err := missRun(o, rep, tmp, resAddr, workosURL, wm, peerBase, peerPid); err != nil {
			return err
		}
	}
	peer.stop()
	pids := map[string]int{"gateway": gw.pid(), "upstream-mock": mock.pid(), benchProc: os.Getpid()}
	if o.phases["flows"] {
		if err := flowPhase(o, rep, tmp, resAddr, workosURL, fr, pids, prof); err != nil {
			return err
		}
	}
	gw.stop()
	plain.stop()
	if o.phases["mem"] {
		// Memory: 100k clients, 100k sessions, then many protected requests.
		if err := memoryRun(o, rep, tmp, resAddr, workosURL, wm); err != nil {
			return err
		}
	}
	mock.stop()
	if o.goBench && o.phases["gobench"] {
		log.Printf("Go benchmarks")
		rep.goBench = goBenchmarks()
	}
	rep.total = time.Since(t0)
	rep.loadEnd = loadavg()
	return finish(rep)
}

// flowPhase measures flow throughput: the shipped gateway, one with sync_writes, one on Redis
// and two on one Redis, interleaved in slices (the order rotated each slice) so that other
// load on the machine hits all alike; then it profiles the shipped gateway under flows.
func flowPhase(o options, rep *report, tmp, resAddr, workosURL string, fr *flowRunner, pids map[string]int, prof func(string, func(time.Duration))) error {
	syncCfg := gatewayConfig{Addr: freeAddr(), Admin: freeAddr(), Upstream: resAddr, WorkOS: workosURL, DataDir: filepath.Join(tmp, "gw-sync-data"), SyncWrites: true}
	gwSync, err := startCaddy("gateway-sync", o.caddyBin, filepath.Join(tmp, "gw-sync"), syncCfg.caddyfile(), "http://"+syncCfg.Addr+"/.well-known/oauth-authorization-server")
	if err != nil {
		return err
	}
	defer gwSync.stop()
	frSync := &flowRunner{gw: "http://" + syncCfg.Addr, transport: newTransport(o.flowConc)}
	if _, err := warmUp(frSync); err != nil {
		return fmt.Errorf("first flow (sync_writes): %v", err)
	}
	syncPids := maps.Clone(pids)
	syncPids["gateway"] = gwSync.pid()
	setups := []flowSetup{{key: "shipped", fr: fr, pid: pids}, {key: "sync", fr: frSync, pid: syncPids}}
	scaleOut, stopScaleOut, skip, err := startScaleOut(o, tmp, resAddr, workosURL, map[string]int{"upstream-mock": pids["upstream-mock"], benchProc: os.Getpid()})
	defer stopScaleOut()
	if err != nil {
		return err
	}
	if rep.redisSkip = skip; skip != "" {
		log.Printf("scale-out: %s", skip)
	}
	setups = append(setups, scaleOut...)
	const slices = 4
	log.Printf("flows: %d setups, %d concurrent, %d interleaved slices of %v each", len(setups), o.flowConc, slices, o.flowDur/slices)
	for i := 0; i < slices; i++ {
		for j := range setups {
			s := setups[(i+j)%len(setups)]
			rep.flows[s.key] = rep.flows[s.key].add(s.fr.throughput(s.pid, o.flowConc, o.flowDur/slices))
		}
	}
	for _, s := range setups {
		logFlows(s.key, rep.flows[s.key])
	}
	stopScaleOut()
	prof("flows", func(d time.Duration) { fr.throughput(pids, o.flowConc, d) })
	return nil
}

func logFlows(name string, s flowStats) {
	log.Printf("  %s: %d flows in %v = %.1f flows/s, %d errors, gateway CPU %.2fs = %.3f ms/flow; machine busy %.0f%% of 2 cores; %s %s",
		name, s.flows, s.elapsed.Round(time.Millisecond), s.perSecond(), s.errors, s.cpu, 1000*s.cpuPerFlow(), 100*s.busy, s.cpuShares(), s.firstErr)
}
