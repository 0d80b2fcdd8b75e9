// scaleout.go holds the scale-out part of the flow phase: a redis-server per Redis setup
// (the README's settings), one gateway on Redis, and two gateways on one Redis whose flows
// alternate between them request by request; and the report's table comparing them with one
// gateway on Badger.

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// flowSetup is one deployment the flow phase drives: its runner and the processes whose CPU
// it reads (those named "gateway…" are the gateway's).
type flowSetup struct {
	key string
	fr  *flowRunner
	pid map[string]int
}

// warmUp runs flows until one succeeds: each gateway fetches the JWKS in the background at start.
func warmUp(fr *flowRunner) (res *flowResult, err error) {
	for i := 0; i < 50; i++ {
		if res, err = fr.run(); err == nil {
			return res, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

// startRedisServer runs redis-server on a free loopback port with the README's settings
// (appendonly yes, appendfsync everysec, noeviction; no RDB snapshots), its append-only file
// in dir, and waits until it answers PING.
func startRedisServer(name, bin, dir string) (*proc, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	p, err := startProc(name, dir, bin, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")
	if err != nil {
		return nil, "", err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		select {
		case <-p.done:
			return nil, "", fmt.Errorf("%s exited at start:\n%s", name, tail(p.out.String(), 3000))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.TrimSpace(line) == "+PONG" {
				return p, "redis://" + addr + "/0", nil
			}
		}
	}
	p.stop()
	return nil, "", fmt.Errorf("%s did not answer PING within 10 s:\n%s", name, tail(p.out.String(), 3000))
}

// startScaleOut starts the Redis setups: "redis", one gateway on its own redis-server, and
// "redis2", two gateways on one redis-server sharing one issuer, each flow's requests
// alternating between them. base holds the processes every setup counts (upstream, bench).
// Without redis-server it returns no setups and the reason. stop ends every process it started.
func startScaleOut(o options, tmp, resAddr, workosURL string, base map[string]int) (setups []flowSetup, stop func(), skip string, err error) {
	var procs []*proc
	stop = func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}
	bin, lerr := exec.LookPath("redis-server")
	if lerr != nil {
		return nil, stop, "redis-server is not installed (`sudo apt-get install -y redis-server`), so the Redis rows were skipped", nil
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	gateway := func(name, redisURL, issuer string, cfg *gatewayConfig) (*proc, error) {
		*cfg = gatewayConfig{Addr: freeAddr(), Admin: freeAddr(), Upstream: resAddr, WorkOS: workosURL, RedisURL: redisURL, Issuer: issuer}
		g, err := startCaddy(name, o.caddyBin, filepath.Join(tmp, name), cfg.caddyfile(), "http://"+cfg.Addr+"/.well-known/oauth-authorization-server")
		if err == nil {
			procs = append(procs, g)
		}
		return g, err
	}

	// One gateway on Redis.
	r1, url1, err := startRedisServer("redis-server", bin, filepath.Join(tmp, "redis-1"))
	if err != nil {
		return nil, stop, "", err
	}
	procs = append(procs, r1)
	var c1 gatewayConfig
	g1, err := gateway("gateway-redis", url1, "", &c1)
	if err != nil {
		return nil, stop, "", err
	}
	one := flowSetup{key: "redis", fr: &flowRunner{gw: "http://" + c1.Addr, transport: newTransport(o.flowConc)}, pid: maps.Clone(base)}
	one.pid["gateway"], one.pid["redis-server"] = g1.pid(), r1.pid()

	// Two gateways on one Redis. The issuer stands for the load balancer's public URL; nothing
	// listens there, so a request the runner failed to send to an instance would fail.
	r2, url2, err := startRedisServer("redis-server-2", bin, filepath.Join(tmp, "redis-2"))
	if err != nil {
		return nil, stop, "", err
	}
	procs = append(procs, r2)
	issuer := "http://" + freeAddr()
	var ca, cb gatewayConfig
	ga, err := gateway("gateway-redis-a", url2, issuer, &ca)
	if err != nil {
		return nil, stop, "", err
	}
	gb, err := gateway("gateway-redis-b", url2, issuer, &cb)
	if err != nil {
		return nil, stop, "", err
	}
	two := flowSetup{key: "redis2", fr: &flowRunner{gw: issuer, gws: []string{"http://" + ca.Addr, "http://" + cb.Addr}, transport: newTransport(o.flowConc)},
		pid: maps.Clone(base)}
	two.pid["gateway"], two.pid["gateway 2"], two.pid["redis-server"] = ga.pid(), gb.pid(), r2.pid()
	log.Printf("scale-out: gateway %s on redis-server %s; gateways %s and %s on redis-server %s (issuer %s)", c1.Addr, url1, ca.Addr, cb.Addr, url2, issuer)

	for _, s := range []flowSetup{one, two} {
		if _, err := warmUp(s.fr); err != nil {
			return nil, stop, "", fmt.Errorf("first flow (%s): %v", s.key, err)
		}
	}
	return []flowSetup{one, two}, stop, "", nil
}

// writeScaleOut is the report's scale-out table.
func writeScaleOut(b *bytes.Buffer, rep *report) {
	fmt.Fprintf(b, "\n### Scale-out: Badger, Redis, two instances on one Redis\n\n")
	fmt.Fprintf(b, "The same flows, in the same interleaved slices as above (every setup running throughout), against one gateway on Badger (the shipped row above), one gateway on Redis, and two gateways on one Redis. "+
		"Each Redis setup has its own `redis-server` on a loopback port with the README's settings (`appendonly yes`, `appendfsync everysec`, `maxmemory-policy noeviction`; RDB snapshots off), so its CPU is that setup's alone. "+
		"The two instances share the issuer, and each flow's requests alternate between them, **directly** (register at one, authorize at the other, consent at the first, callback and token at different ones, ...; consecutive flows start at different instances): "+
		"a load balancer doing round robin would spread them the same way, but its own CPU, a third Caddy proxying every request on the same two cores, would be in the numbers. "+
		"Gateway CPU is the sum over the gateway processes; `redis-server` CPU is read from `/proc/<pid>/stat` like theirs (all its threads, AOF fsync included).\n\n")
	if rep.redisSkip != "" {
		fmt.Fprintf(b, "**%s.**\n", rep.redisSkip)
		return
	}
	fmt.Fprintf(b, "| setup | flows | flows/s | errors | gateway CPU ms / flow | redis-server CPU ms / flow | gateway + redis-server CPU ms / flow | machine busy | flows/s if the 2 cores were ours alone |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, k := range []struct{ key, name string }{{"shipped", "one gateway, Badger (as shipped)"}, {"redis", "one gateway, Redis"}, {"redis2", "two gateways, one Redis"}} {
		s := rep.flows[k.key]
		n := float64(max(s.flows, 1))
		gw := fmt.Sprintf("%.3f", 1000*s.cpuPerFlow())
		if g2, ok := s.procCPU["gateway 2"]; ok {
			gw += fmt.Sprintf(" (%.3f + %.3f)", 1000*s.procCPU["gateway"]/n, 1000*g2/n)
		}
		redis := "–"
		if r, ok := s.procCPU["redis-server"]; ok {
			redis = fmt.Sprintf("%.3f", 1000*r/n)
		}
		ours := 0.0
		for _, v := range s.procCPU {
			ours += v
		}
		fmt.Fprintf(b, "| %s | %d | %.1f | %d | %s | %s | %.3f | %.0f%% | %.0f |\n", k.name, s.flows, s.perSecond(), s.errors, gw, redis,
			1000*(s.cpu+s.procCPU["redis-server"])/n, 100*s.busy, float64(runtime.NumCPU())*n/max(ours, 1e-9))
		if s.firstErr != "" && k.key != "shipped" {
			fmt.Fprintf(b, "\nfirst error (%s): `%s`\n\n", k.key, strings.ReplaceAll(s.firstErr, "`", "'"))
		}
	}
	sh, r1, r2 := rep.flows["shipped"], rep.flows["redis"], rep.flows["redis2"]
	if sh.flows == 0 || r1.flows == 0 || r2.flows == 0 {
		return
	}
	redisMs := 1000 * r2.procCPU["redis-server"] / float64(r2.flows)
	fmt.Fprintf(b, "\nReading: on Redis a flow costs the gateway %+.2f ms of CPU against Badger (%.2f → %.2f ms) plus %.2f ms in `redis-server`, and one instance does %.0f%% of Badger's flows/s; "+
		"two instances on one Redis spend %.2f ms of gateway CPU per flow between them (%+.2f ms against one) and do %.2f× its flows/s, since here they share the same two cores: "+
		"a second instance adds capacity only on cores of its own, up to what the one single-threaded `redis-server` sustains (%.2f ms per flow here: roughly %s flows/s per core).\n",
		1000*(r1.cpuPerFlow()-sh.cpuPerFlow()), 1000*sh.cpuPerFlow(), 1000*r1.cpuPerFlow(), 1000*r1.procCPU["redis-server"]/float64(r1.flows), 100*r1.perSecond()/sh.perSecond(),
		1000*r2.cpuPerFlow(), 1000*(r2.cpuPerFlow()-r1.cpuPerFlow()), r2.perSecond()/r1.perSecond(), redisMs, twoDigits(1000/max(redisMs, 1e-9)))
}

// twoDigits rounds x to two significant digits, for an estimate.
func twoDigits(x float64) string {
	p := math.Pow(10, math.Floor(math.Log10(max(x, 1)))-1)
	return strconv.FormatFloat(math.Round(x/p)*p, 'f', 0, 64)
}
