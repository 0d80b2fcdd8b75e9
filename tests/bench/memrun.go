// memrun.go holds the memory phase: a gateway on a store seeded with many
// clients and sessions, driven with minted tokens while its RSS is sampled,
// and the memResult it records.

package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"path/filepath"
	"time"

	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

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
	tokens := rep.sessionTokens(wm, n)
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
