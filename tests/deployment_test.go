package tests

// deployment_test.go runs the README's "Deployment: several instances on one Redis" as
// written: the two Caddyfiles and the Redis settings are read from the README, and only the
// environment variables they name are set, to loopback addresses and ports.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/resource"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// readmeBlock returns the fenced code block of README.md between <!-- name:start --> and
// <!-- name:end -->.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(name) + ":start -->\\s*```[a-z]*\\n(.*?)```\\s*<!-- " + regexp.QuoteMeta(name) + ":end -->")
	m := re.FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no code block between <!-- %s:start --> and <!-- %s:end -->", name, name)
	}
	return string(m[1])
}

// envPlaceholder matches the environment variables a Caddyfile names: {$NAME}, {$NAME:default}
// (substituted when the Caddyfile is adapted) and {env.NAME} (read when the app starts).
var envPlaceholder = regexp.MustCompile(`\{(?:\$([A-Z0-9_]+)(?::[^}]*)?|env\.([A-Z0-9_]+))\}`)

// checkEnvNamed fails unless every variable in env is one the Caddyfile names, so the test
// configures nothing the README does not show.
func checkEnvNamed(t *testing.T, what, caddyfile string, env map[string]string) {
	t.Helper()
	named := map[string]bool{}
	for _, m := range envPlaceholder.FindAllStringSubmatch(caddyfile, -1) {
		named[m[1]+m[2]] = true
	}
	for k := range env {
		if !named[k] {
			t.Errorf("the test sets %s for the %s, but the README's Caddyfile does not name it", k, what)
		}
	}
}

// caddyProcess is one Caddy process of the deployment.
type caddyProcess struct {
	name  string
	admin string
	proc  *proc
	logs  *syncBuffer
}

// startCaddyFile runs the Caddy binary with the Caddyfile text and the environment env (on
// top of the test's own, with a private HOME), waits until ready answers 200, and stops the
// process when the test ends.
func startCaddyFile(t *testing.T, name, caddyfile string, env map[string]string, ready string) *caddyProcess {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &caddyProcess{name: name, admin: env["DRIO_ADMIN"], logs: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.proc = &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.proc.done) }()
	t.Cleanup(c.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case <-c.proc.done:
			t.Fatalf("%s exited during startup:\n%s", name, c.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve %s within 30 s:\n%s", name, ready, c.logs.String())
		}
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s).
func (c *caddyProcess) stop() {
	if c.proc == nil {
		return
	}
	if !c.proc.signal(syscall.SIGTERM, 10*time.Second) {
		c.proc.signal(syscall.SIGKILL, 10*time.Second)
	}
	c.proc = nil
}

// redisArray sends one command to the Redis at addr and returns its answer, an array of
// bulk strings (KEYS, CONFIG GET).
func redisArray(t *testing.T, addr string, args ...string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	cmd := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		cmd += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading from redis: %v", err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	head := line()
	n, err := strconv.Atoi(strings.TrimPrefix(head, "*"))
	if !strings.HasPrefix(head, "*") || err != nil {
		t.Fatalf("redis %v: unexpected answer %q", args, head)
	}
	out := make([]string, 0, n)
	for range n {
		line() // $<length>
		out = append(out, line())
	}
	return out
}

// TestDeploymentTwoInstancesBehindCaddyLB starts the README's deployment: one redis-server
// with the README's settings, two gateway instances running the README's gateway Caddyfile,
// and a Caddy load balancer running the README's load-balancer Caddyfile (round robin), in
// front of the WorkOS and resource stand-ins. Through the load balancer it runs a full flow
// whose requests alternate between the instances, then checks that a revocation made directly
// at instance 1 is refused directly at instance 2 within 100 ms, that client addresses
// reach the gateways through the load balancer (trusted_proxies), that 40 concurrent
// redemptions of one code split over both instances have exactly one winner, and that the
// load balancer keeps serving when an instance stops.
func TestDeploymentTwoInstancesBehindCaddyLB(t *testing.T) {
	gatewayFile := readmeBlock(t, "deployment:gateway")
	lbFile := readmeBlock(t, "deployment:lb")
	redisConf := filepath.Join(t.TempDir(), "redis.conf")
	if err := os.WriteFile(redisConf, []byte(readmeBlock(t, "deployment:redis")), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"gateway": gatewayFile, "load balancer": lbFile} {
		path := filepath.Join(t.TempDir(), "Caddyfile")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(caddyBin, "fmt", path).Output(); err != nil || string(out) != file {
			t.Errorf("the README's %s Caddyfile is not `caddy fmt` formatted (%v):\n%s", name, err, out)
		}
	}

	redis := startRedisServer(t, redisConf) // the README's redis.conf, on a loopback port
	for _, kv := range [][2]string{{"appendonly", "yes"}, {"appendfsync", "everysec"}, {"maxmemory-policy", "noeviction"}} {
		if got := redisArray(t, redis.addr, "CONFIG", "GET", kv[0]); len(got) != 2 || got[1] != kv[1] {
			t.Errorf("redis-server with the README's redis.conf: %s = %v, want %s", kv[0], got, kv[1])
		}
	}

	wm, err := workosmock.New(workosmock.Config{ClientID: testClientID, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	workosTS := httptest.NewServer(wm)
	wm.SetBaseURL(workosTS.URL)
	res := resource.New()
	resTS := httptest.NewServer(res)
	t.Cleanup(func() { wm.Close(); workosTS.Close(); resTS.Close() })
	secrets := testkit.NewSecrets(testAPIKey)

	lbAddr := freeAddr(t)
	issuer := "http://" + lbAddr
	gwAddrs := []string{freeAddr(t), freeAddr(t)}
	var gws []*caddyProcess
	for i, addr := range gwAddrs {
		_, port, _ := net.SplitHostPort(addr)
		env := map[string]string{
			"DRIO_ADMIN":       freeAddr(t),
			"DRIO_BIND":        "127.0.0.1",
			"DRIO_PORT":        port,
			"DRIO_ISSUER":      issuer,
			"LB_IP":            "127.0.0.1",
			"WORKOS_CLIENT_ID": testClientID,
			"WORKOS_API_KEY":   testAPIKey,
			"WORKOS_ENDPOINT":  workosTS.URL,
			"REDIS_URL":        redis.url,
			"UPSTREAM":         strings.TrimPrefix(resTS.URL, "http://"),
		}
		checkEnvNamed(t, "gateways", gatewayFile, env)
		gws = append(gws, startCaddyFile(t, fmt.Sprintf("gw%d", i+1), gatewayFile, env,
			"http://"+addr+"/.well-known/oauth-authorization-server"))
	}
	lbEnv := map[string]string{
		"DRIO_ADMIN":  freeAddr(t),
		"LB_BIND":     "127.0.0.1",
		"DRIO_ISSUER": issuer,
		"GW1_ADDR":    gwAddrs[0],
		"GW2_ADDR":    gwAddrs[1],
	}
	checkEnvNamed(t, "load balancer", lbFile, lbEnv)
	lb := startCaddyFile(t, "lb", lbFile, lbEnv, issuer+"/.well-known/oauth-authorization-server")
	t.Cleanup(func() {
		for _, c := range append(gws, lb) {
			secrets.CheckLog(t, c.name+" logs", c.logs.String())
		}
	})

	kit := &testkit.Client{Base: issuer, WorkOS: workosTS.URL, Secrets: secrets}
	direct := []*testkit.Client{
		{Base: "http://" + gwAddrs[0], WorkOS: workosTS.URL, Secrets: secrets},
		{Base: "http://" + gwAddrs[1], WorkOS: workosTS.URL, Secrets: secrets},
	}
	// counter reads one series from each instance's /metrics.
	counter := func(series string) [2]float64 {
		return [2]float64{metricAt(t, gws[0].admin, series), metricAt(t, gws[1].admin, series)}
	}
	delta := func(before, after [2]float64) [2]int {
		return [2]int{int(after[0] - before[0]), int(after[1] - before[1])}
	}

	// Round robin: consecutive requests through the load balancer alternate between the
	// instances. Each unauthenticated /me is counted by the instance that refused it.
	const missing = `caddy_drio_bearer_refused_total{reason="missing"}`
	before := counter(missing)
	for range 20 {
		if resp := kit.Call(t, http.MethodGet, "/api/v1/me", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /me without a token through the load balancer: %d %s", resp.StatusCode, resp.Body)
		}
	}
	if d := delta(before, counter(missing)); d != [2]int{10, 10} {
		t.Errorf("20 requests through the load balancer were served %d by gw1 and %d by gw2, want 10 and 10", d[0], d[1])
	}

	// A full flow through the load balancer. Its requests alternate: registration, authorize,
	// consent, callback, token, and so on, each at the other instance than the one before.
	names := []string{"registrations", "code exchanges at WorkOS (callback)", "codes redeemed", "refreshes"}
	series := []string{"caddy_drio_registrations_total", `caddy_drio_workos_calls_total{call="code",outcome="ok"}`,
		`caddy_drio_tokens_issued_total{grant="authorization_code"}`, `caddy_drio_tokens_issued_total{grant="refresh_token"}`}
	var flowBefore [][2]float64
	for _, s := range series {
		flowBefore = append(flowBefore, counter(s))
	}
	reg := kit.Register(t, "deployment", "")
	flow := kit.StartFlow(t, reg, "ada@example.com")
	tok := flow.Exchange(t, flow.Code(t))
	for i := range 2 {
		if resp := kit.Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "ada@example.com") {
			t.Fatalf("GET /me %d through the load balancer: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	resp := kit.PostForm(t, "/api/v1/auth/refresh", url.Values{"client_id": {reg.ClientID}, "refresh_token": {tok.RefreshToken}})
	pair := resp.Object(t)
	if resp.StatusCode != http.StatusOK || str(pair, "access_token") == "" {
		t.Fatalf("refresh through the load balancer: %d %s", resp.StatusCode, resp.Body)
	}
	secrets.Note(str(pair, "access_token"))
	secrets.Note(str(pair, "refresh_token"))
	for i := range 2 {
		if resp := kit.Call(t, http.MethodGet, "/api/v1/apps", str(pair, "access_token"), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /apps %d with the refreshed token: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	served := [2][]string{}
	for i, s := range series {
		d := delta(flowBefore[i], counter(s))
		if d[0]+d[1] != 1 {
			t.Errorf("%s during the flow: gw1 %d, gw2 %d, want one in all", names[i], d[0], d[1])
		}
		for g := range 2 {
			if d[g] > 0 {
				served[g] = append(served[g], names[i])
			}
		}
	}
	t.Logf("the flow through the load balancer: gw1 did %v; gw2 did %v", served[0], served[1])
	if len(served[0]) == 0 || len(served[1]) == 0 {
		t.Errorf("one instance served the whole flow: gw1 %v, gw2 %v", served[0], served[1])
	}
	if slices.Contains(served[0], names[1]) == slices.Contains(served[0], names[2]) {
		t.Errorf("the code was issued and redeemed at the same instance (gw1 did %v), want alternation: callback and token at different instances", served[0])
	}

	// A revocation directly at gw1 is refused directly at gw2 within 100 ms (the median; the
	// slowest within 1 s, so one stall of the loaded test machine does not decide it; without
	// the broadcast it would take the session cache's 2 s), although gw2 had just found the
	// session live (and cached that answer).
	var lat []time.Duration
	for i := range 10 {
		tok := kit.Login(t, reg, "grace@example.com")
		if resp := direct[1].Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("gw2 before revocation %d: %d %s", i+1, resp.StatusCode, resp.Body)
		}
		if resp := direct[0].PostForm(t, "/api/v1/auth/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {reg.ClientID}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation %d at gw1: %d %s", i+1, resp.StatusCode, resp.Body)
		}
		start := time.Now()
		for {
			resp := direct[1].Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil)
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("gw2 still accepts a session revoked at gw1 after 3 s: %d", resp.StatusCode)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("revocation at gw1 refused at gw2 after: min %v, median %v, max %v", lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)/2] > 100*time.Millisecond || lat[len(lat)-1] > time.Second {
		t.Errorf("a revocation at gw1 took median %v, max %v to be refused at gw2, want under 100 ms and 1 s", lat[len(lat)/2], lat[len(lat)-1])
	}

	// Client addresses: the load balancer replaces a client's own X-Forwarded-For with the
	// address it sees, and the gateways take the client's address from the load balancer's
	// X-Forwarded-For (trusted_proxies). The rate-limit counters in Redis are keyed by it.
	register := func(c *testkit.Client, forwardedFor string) {
		resp := c.Do(t, http.MethodPost, "/api/v1/auth/register", "application/json",
			`{"redirect_uris":["`+testkit.DefaultRedirect+`"]}`, http.Header{"X-Forwarded-For": {forwardedFor}})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register with X-Forwarded-For %s: %d %s", forwardedFor, resp.StatusCode, resp.Body)
		}
	}
	register(kit, "203.0.113.9")       // a client's forged header, through the load balancer
	register(direct[0], "203.0.113.7") // from the load balancer's address, as the load balancer sends it
	keys := strings.Join(redisArray(t, redis.addr, "KEYS", "drio:ratelimit/register|*"), "\n")
	if !strings.Contains(keys, "|127.0.0.1|") || strings.Contains(keys, "203.0.113.9") || !strings.Contains(keys, "|203.0.113.7|") {
		t.Errorf("rate-limit windows of register in Redis:\n%s\nwant 127.0.0.1 (the client, through the load balancer) and 203.0.113.7 (forwarded by a trusted proxy), never 203.0.113.9 (forged by a client)", keys)
	}

	// 40 concurrent redemptions of one code through the load balancer: round robin sends
	// half to each instance, and exactly one wins. The rate limit (5/s, burst 50: 50 token
	// requests per client address and 10 s window, counted atomically in Redis) lets exactly
	// 50 through in one window, so they start in a fresh window and leave room for the
	// sign-in below, which may fall in the same window.
	flow = kit.StartFlow(t, reg, "ada@example.com")
	form := flow.TokenForm(flow.Code(t))
	const window = 10 * time.Second
	time.Sleep(window - time.Duration(time.Now().UnixNano()%int64(window)) + 50*time.Millisecond)
	const n = 40
	codeSeries := func(code string) string {
		return `caddy_http_request_duration_seconds_count{code="` + code + `",handler="drio_oauth",method="POST"`
	}
	before400, before200 := counter(codeSeries("400")), counter(codeSeries("200"))
	client := &http.Client{Timeout: 20 * time.Second}
	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			resp, err := client.PostForm(issuer+"/api/v1/auth/token", form)
			if err != nil {
				answers[i] = answer{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			answers[i] = answer{status: resp.StatusCode, body: string(body), err: err}
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	took := time.Since(start)
	wins, refused := 0, 0
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("redemption %d: %v", i+1, a.err)
		case a.status == http.StatusOK:
			wins++
			secrets.Note(str(decodeJSON(t, a.body), "access_token"))
			secrets.Note(str(decodeJSON(t, a.body), "refresh_token"))
		case a.status == http.StatusBadRequest && str(decodeJSON(t, a.body), "error") == "invalid_grant":
			refused++
		default:
			t.Errorf("redemption %d: %d %s, want 200 or 400 invalid_grant", i+1, a.status, a.body)
		}
	}
	lost, won := delta(before400, counter(codeSeries("400"))), delta(before200, counter(codeSeries("200")))
	t.Logf("%d concurrent redemptions in %v: %d won, %d invalid_grant; gw1 answered %d, gw2 %d",
		n, took.Round(time.Millisecond), wins, refused, lost[0]+won[0], lost[1]+won[1])
	if wins != 1 || refused != n-1 {
		t.Errorf("%d concurrent redemptions of one code: %d won, %d invalid_grant; want exactly 1 and %d", n, wins, refused, n-1)
	}
	if lost[0]+won[0] < n/2-2 || lost[1]+won[1] < n/2-2 {
		t.Errorf("the %d redemptions were answered %d by gw1 and %d by gw2, want about half each", n, lost[0]+won[0], lost[1]+won[1])
	}

	// An instance stops: the load balancer sends everything to the other, and clients notice
	// nothing.
	gws[1].stop()
	for i := range 6 {
		if resp := kit.Call(t, http.MethodGet, "/api/v1/templates", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("request %d through the load balancer with gw2 stopped: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	tok = kit.Login(t, reg, "ada@example.com")
	if resp := kit.Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a full sign-in with gw2 stopped: /me %d %s", resp.StatusCode, resp.Body)
	}
}
