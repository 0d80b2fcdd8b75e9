package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

const (
	workosClientID = "client_bench"
	workosAPIKey   = "sk_test_bench"
	clientRedirect = "http://127.0.0.1:51004/callback"
	benchEmail     = "ada@example.com"
)

var hiddenField = regexp.MustCompile(`name="(txn|csrf)" value="([^"]*)"`)

// flowRunner drives full OAuth flows, as a client and its browser would, against one gateway
// or, with gws, against several instances of one deployment: each request of a flow goes to
// the next instance (register at one, authorize at the other, consent at the first, ...), and
// consecutive flows start at different instances.
type flowRunner struct {
	gw        string   // the issuer, http://host:port: where the WorkOS stand-in sends the browser back
	gws       []string // the instances to alternate over; none: gw alone
	transport http.RoundTripper
	next      atomic.Uint64
}

// instances returns a function that gives, on each call, the instance for the next request.
func (f *flowRunner) instances() func() string {
	bases := f.gws
	if len(bases) == 0 {
		bases = []string{f.gw}
	}
	i := f.next.Add(1)
	return func() string {
		i++
		return bases[i%uint64(len(bases))]
	}
}

type flowResult struct {
	access, refresh string
}

func (f *flowRunner) client(jar http.CookieJar) *http.Client {
	return &http.Client{Transport: f.transport, Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func send(c *http.Client, method, u string, header http.Header, body string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

func expect(step string, resp *http.Response, raw []byte, status int) error {
	if resp.StatusCode != status {
		return fmt.Errorf("%s: status %d, want %d: %.200s", step, resp.StatusCode, status, raw)
	}
	return nil
}

// run does register, authorize, consent, WorkOS sign-in, callback, token, one protected call
// and a refresh.
func (f *flowRunner) run() (*flowResult, error) {
	jar, _ := cookiejar.New(nil) // keyed by host, not port: every instance gets the cookies
	c := f.client(jar)
	at := f.instances()
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

	reg, _ := json.Marshal(map[string]any{
		"client_name": "bench client", "redirect_uris": []string{clientRedirect},
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
	})
	resp, raw, err := send(c, "POST", at()+"/api/v1/auth/register", http.Header{"Content-Type": {"application/json"}}, string(reg))
	if err != nil {
		return nil, err
	}
	if err := expect("register", resp, raw, http.StatusCreated); err != nil {
		return nil, err
	}
	var regOut struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(raw, &regOut); err != nil || regOut.ClientID == "" {
		return nil, fmt.Errorf("register: no client_id")
	}
	cfg := &oauth2.Config{ClientID: regOut.ClientID, RedirectURL: clientRedirect, Scopes: []string{"openid", "profile", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: at() + "/api/v1/auth/authorize", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	state := "st-" + verifier[:12]

	resp, raw, err = send(c, "GET", cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.Header{"Accept": {"text/html"}}, "")
	if err != nil {
		return nil, err
	}
	if err := expect("authorize", resp, raw, http.StatusOK); err != nil {
		return nil, err
	}
	consent := url.Values{"decision": {"approve"}}
	for _, m := range hiddenField.FindAllSubmatch(raw, -1) {
		consent.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	resp, raw, err = send(c, "POST", at()+"/api/v1/auth/authorize",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {f.gw}, "Accept": {"text/html"}}, consent.Encode())
	if err != nil {
		return nil, err
	}
	if err := expect("consent", resp, raw, http.StatusSeeOther); err != nil {
		return nil, err
	}
	resp, raw, err = send(c, "GET", resp.Header.Get("Location")+"&login_hint="+url.QueryEscape(benchEmail), nil, "")
	if err != nil {
		return nil, err
	}
	if err := expect("workos sign-in", resp, raw, http.StatusFound); err != nil {
		return nil, err
	}
	// The stand-in redirects to the issuer's callback; a load balancer would pick an instance.
	callback := resp.Header.Get("Location")
	if rest, ok := strings.CutPrefix(callback, f.gw+"/"); ok {
		callback = at() + "/" + rest
	}
	resp, raw, err = send(c, "GET", callback, http.Header{"Accept": {"text/html"}}, "")
	if err != nil {
		return nil, err
	}
	if err := expect("callback", resp, raw, http.StatusFound); err != nil {
		return nil, err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != state {
		return nil, fmt.Errorf("callback: bad redirect %q", resp.Header.Get("Location"))
	}

	tokForm := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "code_verifier": {verifier},
		"client_id": {regOut.ClientID}, "redirect_uri": {clientRedirect}}
	resp, raw, err = send(c, "POST", at()+"/api/v1/auth/token", form, tokForm.Encode())
	if err != nil {
		return nil, err
	}
	if err := expect("token", resp, raw, http.StatusOK); err != nil {
		return nil, err
	}
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.Access == "" || tok.Refresh == "" {
		return nil, fmt.Errorf("token: bad answer")
	}

	resp, raw, err = send(c, "GET", at()+"/api/v1/me", http.Header{"Authorization": {"Bearer " + tok.Access}}, "")
	if err != nil {
		return nil, err
	}
	if err := expect("protected call", resp, raw, http.StatusOK); err != nil {
		return nil, err
	}

	refForm := url.Values{"client_id": {regOut.ClientID}, "redirect_uri": {clientRedirect}, "refresh_token": {tok.Refresh}}
	resp, raw, err = send(c, "POST", at()+"/api/v1/auth/refresh", form, refForm.Encode())
	if err != nil {
		return nil, err
	}
	if err := expect("refresh", resp, raw, http.StatusOK); err != nil {
		return nil, err
	}
	var ref struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&ref); err != nil || ref.Access == "" {
		return nil, fmt.Errorf("refresh: bad answer")
	}
	return &flowResult{access: ref.Access, refresh: ref.Refresh}, nil
}

type flowStats struct {
	flows, errors int64
	elapsed       time.Duration
	cpu           float64            // CPU seconds of the gateway processes (procCPU's "gateway…" keys) over the run
	procCPU       map[string]float64 // CPU seconds of every process over the run
	busy          float64            // share of all cores busy over the run (/proc/stat)
	firstErr      string
}

// add sums two runs.
func (s flowStats) add(o flowStats) flowStats {
	r := flowStats{flows: s.flows + o.flows, errors: s.errors + o.errors, elapsed: s.elapsed + o.elapsed, cpu: s.cpu + o.cpu,
		procCPU: map[string]float64{}, firstErr: s.firstErr}
	for k, v := range s.procCPU {
		r.procCPU[k] += v
	}
	for k, v := range o.procCPU {
		r.procCPU[k] += v
	}
	// busy is time-weighted
	if r.elapsed > 0 {
		r.busy = (s.busy*s.elapsed.Seconds() + o.busy*o.elapsed.Seconds()) / r.elapsed.Seconds()
	}
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	return r
}

// cpuShares lists each process's CPU seconds per flow.
func (s flowStats) cpuShares() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.procCPU)) {
		parts = append(parts, fmt.Sprintf("%s %.2f ms", k, 1000*s.procCPU[k]/float64(max(s.flows, 1))))
	}
	return "CPU per flow: " + strings.Join(parts, ", ")
}

// machineCPU returns busy and total jiffies over all cores from /proc/stat.
func machineCPU() (busy, total float64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

func (s flowStats) perSecond() float64 { return float64(s.flows) / s.elapsed.Seconds() }
func (s flowStats) cpuPerFlow() float64 {
	if s.flows == 0 {
		return 0
	}
	return s.cpu / float64(s.flows)
}

// throughput runs conc workers doing full flows for d and reads every process's CPU time;
// the processes whose name starts with "gateway" are the gateway's.
func (f *flowRunner) throughput(pids map[string]int, conc int, d time.Duration) flowStats {
	before := map[string]float64{}
	for k, p := range pids {
		before[k], _ = cpuSeconds(p)
	}
	b0, t0 := machineCPU()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var ok, bad atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := f.run(); err != nil {
					bad.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	s := flowStats{flows: ok.Load(), errors: bad.Load(), elapsed: el, procCPU: map[string]float64{}}
	for k, p := range pids {
		v, _ := cpuSeconds(p)
		s.procCPU[k] = v - before[k]
		if strings.HasPrefix(k, "gateway") {
			s.cpu += s.procCPU[k]
		}
	}
	if b1, t1 := machineCPU(); t1 > t0 {
		s.busy = (b1 - b0) / (t1 - t0)
	}
	if v, _ := firstErr.Load().(string); v != "" {
		s.firstErr = v
	}
	return s
}
