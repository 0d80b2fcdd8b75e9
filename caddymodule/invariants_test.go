package caddymodule

// invariants_test.go is the shared check of the security matrix's per-row invariants
// (the I rows of SECURITY.md's test matrix): take a snapshot before a request, then
//
//	before := g.snapshot(t)
//	resp := g.do(t, …)
//	g.assertInvariants(t, before, resp, changes(store.KindClient, 1))
//
// assertInvariants checks, for that one request:
//
//   - I1: the status is below 500;
//   - I2: no header or body carries the WorkOS API key or a Go stack trace;
//   - I3: no log line written since the snapshot carries a noted secret (noteSecret), the
//     WorkOS API key, a bearer JWT or a panic (testkit.Secrets.CheckLog);
//   - I4: store record counts per kind are unchanged except as listed in want;
//   - I5: WorkOS stand-in hits per endpoint are unchanged except as listed in want;
//   - I6: a 4xx answer is either OAuth JSON ({"error": "…"}, Content-Type application/json,
//     Cache-Control no-store) or the local HTML error page with its anti-framing headers.
//
// I7 (no goroutine leak) is left to goleak at package level: the harness's Badger and JWKS
// goroutines live as long as the gateway, so a per-row check would be noise.
//
// The helpers take testing.TB and never use g.t, so fuzz targets can use them too.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// stackTrace matches the marks of a Go panic or stack dump.
var stackTrace = regexp.MustCompile(`goroutine \d+ \[|panic: |runtime/debug\.`)

// invKinds are the store kinds compared by I4.
var invKinds = []store.Kind{store.KindClient, store.KindPending, store.KindCode, store.KindSession,
	store.KindRefresh, store.KindSecret}

// invEndpoints are the WorkOS stand-in endpoints compared by I5.
var invEndpoints = []workosmock.Endpoint{workosmock.EndpointAuthenticateCode, workosmock.EndpointAuthenticateRefresh,
	workosmock.EndpointJWKS, workosmock.EndpointRevoke, workosmock.EndpointAuthorize}

// invSnapshot is the observable state of a test gateway at one moment.
type invSnapshot struct {
	Store  map[store.Kind]int
	WorkOS map[workosmock.Endpoint]int64
	logs   int // number of captured log entries, so I3 looks only at what came after
}

// invDelta is the change a row expects between two snapshots; kinds and endpoints that are
// not listed must not change.
type invDelta struct {
	Store  map[store.Kind]int
	WorkOS map[workosmock.Endpoint]int64
}

// changes builds an invDelta from pairs: a store.Kind or a workosmock.Endpoint, then the
// expected change as an int. changes() expects no change at all.
func changes(pairs ...any) invDelta {
	d := invDelta{Store: map[store.Kind]int{}, WorkOS: map[workosmock.Endpoint]int64{}}
	if len(pairs)%2 != 0 {
		panic("changes: odd number of arguments")
	}
	for i := 0; i < len(pairs); i += 2 {
		n, ok := pairs[i+1].(int)
		if !ok {
			panic(fmt.Sprintf("changes: argument %d is %T, want int", i+1, pairs[i+1]))
		}
		switch k := pairs[i].(type) {
		case store.Kind:
			d.Store[k] += n
		case workosmock.Endpoint:
			d.WorkOS[k] += int64(n)
		default:
			panic(fmt.Sprintf("changes: argument %d is %T, want store.Kind or workosmock.Endpoint", i, pairs[i]))
		}
	}
	return d
}

// snapshot records the store counts, the WorkOS hits and the log position of g.
func (g *testGateway) snapshot(tb testing.TB) invSnapshot {
	tb.Helper()
	if _, err := g.App.runtime(context.Background()); err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	s := invSnapshot{Store: map[store.Kind]int{}, WorkOS: map[workosmock.Endpoint]int64{}, logs: g.Logs.Len()}
	for _, k := range invKinds {
		n, err := g.store().Count(context.Background(), k)
		if err != nil {
			tb.Fatalf("snapshot: count %s: %v", k, err)
		}
		s.Store[k] = n
	}
	for _, ep := range invEndpoints {
		s.WorkOS[ep] = g.WorkOS.Hits(ep)
	}
	return s
}

// assertInvariants checks I1-I6 for resp (nil when the row made no single request) against
// the snapshot taken before it; want lists the store and WorkOS changes the row expects.
func (g *testGateway) assertInvariants(tb testing.TB, before invSnapshot, resp *testkit.Response, want invDelta) {
	tb.Helper()
	after := g.snapshot(tb)
	for _, k := range invKinds {
		if got := after.Store[k] - before.Store[k]; got != want.Store[k] {
			tb.Errorf("I4: store %q records changed by %d, want %d", k, got, want.Store[k])
		}
	}
	for _, ep := range invEndpoints {
		if got := after.WorkOS[ep] - before.WorkOS[ep]; got != want.WorkOS[ep] {
			tb.Errorf("I5: WorkOS %q hits changed by %d, want %d", ep, got, want.WorkOS[ep])
		}
	}
	g.assertCleanLogs(tb, before.logs)
	if resp != nil {
		assertResponseInvariants(tb, resp)
	}
}

// assertResponseInvariants checks I1, I2 and I6 on one response.
func assertResponseInvariants(tb testing.TB, resp *testkit.Response) {
	tb.Helper()
	if resp.StatusCode >= 500 {
		tb.Errorf("I1: status %d: %s", resp.StatusCode, resp.Body)
	}
	var all strings.Builder
	all.WriteString(resp.Body)
	for k, vs := range resp.Header {
		all.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	if strings.Contains(all.String(), tgAPIKey) {
		tb.Errorf("I2: response carries the WorkOS API key")
	}
	if m := stackTrace.FindString(all.String()); m != "" {
		tb.Errorf("I2: response carries a stack trace (%q)", m)
	}
	if resp.StatusCode < 400 {
		return
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		var body map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			tb.Errorf("I6: %d error body is not a JSON object: %q", resp.StatusCode, resp.Body)
			return
		}
		code, ok := body["error"].(string)
		if !ok || code == "" {
			// The protected routes' envelope is {"error": {"code": …}}.
			if env, isObj := body["error"].(map[string]any); !isObj || env["code"] == "" {
				tb.Errorf("I6: %d error body has no error code: %q", resp.StatusCode, resp.Body)
			}
			return
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			tb.Errorf("I6: OAuth error %q has Cache-Control %q, want no-store", code, cc)
		}
	case strings.HasPrefix(ct, "text/html"):
		assertPageHeaders(tb, resp)
	default:
		tb.Errorf("I6: %d answer has Content-Type %q, want application/json or the HTML page", resp.StatusCode, ct)
	}
}

// assertPageHeaders checks the headers every HTML page of the gateway must send (A22).
func assertPageHeaders(tb testing.TB, resp *testkit.Response) {
	tb.Helper()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		tb.Errorf("A22: Content-Security-Policy %q lacks frame-ancestors 'none'", csp)
	}
	if v := resp.Header.Get("X-Frame-Options"); v != "DENY" {
		tb.Errorf("A22: X-Frame-Options %q, want DENY", v)
	}
	if v := resp.Header.Get("Referrer-Policy"); v != "no-referrer" {
		tb.Errorf("A22: Referrer-Policy %q, want no-referrer", v)
	}
	if v := resp.Header.Get("Cache-Control"); !strings.Contains(v, "no-store") {
		tb.Errorf("A22: page Cache-Control %q, want no-store", v)
	}
}

// assertCleanLogs is I3 over the log entries from index from on.
func (g *testGateway) assertCleanLogs(tb testing.TB, from int) {
	tb.Helper()
	entries := g.Logs.All()
	if from > len(entries) {
		from = len(entries)
	}
	for _, e := range entries[from:] {
		line, _ := json.Marshal(e.ContextMap())
		g.secrets.CheckLog(tb, fmt.Sprintf("I3: log entry %q", e.Message), e.Message+" "+string(line))
	}
}

// TestInvariantsCanFail proves that each check above reports what it is there to catch, so a
// matrix row that passes them has been checked. The reports go to a testkit.Recorder.
func TestInvariantsCanFail(t *testing.T) {
	g := newTestGateway(t, nil)
	r := &testkit.Recorder{TB: t}
	reported := func(what, prefix string) {
		t.Helper()
		errs := r.Errs()
		if len(errs) == 0 {
			t.Errorf("%s: nothing reported, want a report starting %q", what, prefix)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e, prefix) {
				t.Errorf("%s: reported %q, want only reports starting %q", what, e, prefix)
			}
		}
	}

	// jsonHeader is an OAuth JSON answer's header, with name set to value when name is given.
	jsonHeader := func(nameValue ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
		if len(nameValue) == 2 {
			h.Set(nameValue[0], nameValue[1])
		}
		return h
	}
	text := http.Header{"Content-Type": {"text/plain"}}
	for _, tc := range []struct {
		name, prefix string
		resp         *testkit.Response
	}{
		{"5xx", "I1:", testkit.NewResponse(500, jsonHeader(), []byte(`{"error":"server_error"}`))},
		{"API key in the body", "I2:", testkit.NewResponse(200, jsonHeader(), []byte(`{"key":"`+tgAPIKey+`"}`))},
		{"API key in a header", "I2:", testkit.NewResponse(200, jsonHeader("X-Debug", tgAPIKey), []byte(`{}`))},
		{"stack trace", "I2:", testkit.NewResponse(200, text, []byte("goroutine 7 [running]:\nmain.main()"))},
		{"4xx neither JSON nor page", "I6:", testkit.NewResponse(400, text, []byte("bad request"))},
		{"4xx JSON without an error code", "I6:", testkit.NewResponse(400, jsonHeader(), []byte(`{"message":"bad"}`))},
		{"OAuth error without no-store", "I6:", testkit.NewResponse(400, jsonHeader("Cache-Control", "max-age=60"), []byte(`{"error":"invalid_request"}`))},
		{"page without its headers", "A22:", testkit.NewResponse(400, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, []byte("<p>bad</p>"))},
	} {
		assertResponseInvariants(r, tc.resp)
		reported(tc.name, tc.prefix)
	}

	// I4 and I5: a change the row did not expect, and an expected change that did not happen.
	before := g.snapshot(t)
	g.register(t)
	g.assertInvariants(r, before, nil, changes())
	reported("unexpected client record", "I4:")
	before = g.snapshot(t)
	g.assertInvariants(r, before, nil, changes(store.KindSession, 1))
	reported("missing session record", "I4:")
	before = g.snapshot(t)
	if resp, err := http.Get(g.workosTS.URL + "/sso/jwks/" + tgClientID); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	g.assertInvariants(r, before, nil, changes())
	reported("unexpected WorkOS call", "I5:")
	before = g.snapshot(t)
	g.assertInvariants(r, before, nil, changes(workosmock.EndpointRevoke, 1))
	reported("missing WorkOS call", "I5:")

	// I3: what must never be logged, written to the gateway's captured log. What the gateway
	// logged itself is checked first, as the cleanup would; the injected lines are dropped
	// at the end so that the cleanup does not report them.
	g.assertCleanLogs(t, 0)
	defer g.Logs.TakeAll()
	const secret = "secret-value-0123456789"
	g.noteSecret(secret)
	for name, field := range map[string]zap.Field{
		"noted secret":   zap.String("code", secret),
		"WorkOS API key": zap.String("api_key", tgAPIKey),
		"bearer JWT":     zap.String("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"),
		"panic":          zap.String("error", "panic: runtime error\n\ngoroutine 1 [running]:"),
	} {
		before = g.snapshot(t)
		g.App.logger.Info("leak", field)
		g.assertCleanLogs(r, before.logs)
		reported("log with a "+name, "I3:")
	}
}
