package caddymodule

// fuzz_handlers_test.go holds the handler-level fuzz targets of the test matrix:
// FuzzRegisterHandler, FuzzAuthorizeQuery and FuzzCallbackQuery. Each builds one gateway
// outside f.Fuzz and calls the handler chain in-process (no client sockets), so an iteration costs one
// handler call and a few store counts. Seeds are the matrix vectors (R6-R9, R19-R21, A1-A18,
// C1, C5-C10).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
)

// newSharedGateway is newTestGateway for a testing.TB (a fuzz target's *testing.F), so one
// gateway serves every iteration. The returned gateway has no g.t: use the TB-taking helpers
// (snapshot, assertInvariants, dacServe), not count or checkLogs.
func newSharedGateway(tb testing.TB, configure func(*App)) *testGateway {
	tb.Helper()
	return newGateway(tb, gatewayOptions{configure: configure})
}

// dacState is g.state() for a gateway without g.t.
func dacState(tb testing.TB, g *testGateway) *oauth.Runtime {
	tb.Helper()
	st, err := g.App.runtime(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// dacServe runs r through the gateway's handler chain in-process.
func dacServe(g *testGateway, r *http.Request) *testkit.Response {
	w := httptest.NewRecorder()
	g.serve(w, r)
	res := w.Result()
	return testkit.NewResponse(res.StatusCode, res.Header, w.Body.Bytes())
}

// dacRequest is a request for path with a raw query that need not be valid.
func dacRequest(method, path, rawQuery string, body []byte) *http.Request {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.URL.RawQuery = rawQuery
	r.RequestURI = path + "?" + rawQuery
	return r
}

// dacFuzzMu serialises iterations: snapshots compare counts, so they must not interleave.
var dacFuzzMu sync.Mutex

func FuzzRegisterHandler(f *testing.F) {
	g := newSharedGateway(f, nil)
	const js = "application/json"
	seeds := []string{
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["http://127.0.0.1:3000/cb"],"client_name":"<img src=x onerror=alert(1)>"}`,
		`{"redirect_uris":["http://[::1]/cb"],"grant_types":["authorization_code","refresh_token"],"scope":"openid email"}`,
		`{"client_id":"admin","client_secret":"x","client_id_issued_at":1,"redirect_uris":["https://app.example/cb"]}`,
		`{"x_evil":"<script>","redirect_uris":["https://app.example/cb"],"logo_uri":"https://app.example/l.png"}`,
		`{"redirect_uris":["https://app.example/cb"],"jwks_uri":"http://169.254.169.254/latest/meta-data","logo_uri":"http://127.0.0.1:6379/"}`,
		`{}`, `{"redirect_uris":[]}`, `{"redirect_uris":"https://app.example/cb"}`,
		`{"redirect_uris":["https://app.example/cb"],"grant_types":["password"]}`,
		`{"redirect_uris":["https://app.example/cb"],"response_types":["token"]}`,
		`{"redirect_uris":["https://app.example/cb"],"response_types":["code"],"grant_types":["refresh_token"]}`,
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`,
		`{"redirect_uris":["https://app.example/cb"],"logo_uri":"javascript:x","client_uri":"data:x"}`,
		`{"redirect_uris":["https://app.example/cb"]`, `[{"redirect_uris":["https://app.example/cb"]}]`,
		`{"redirect_uris":["https://evil.test/cb"],"redirect_uris":["https://app.example/cb"]}`,
		`{"redirect_uris":["https://app.example/cb"],"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	}
	for _, u := range []string{"http://app.example/cb", "https://app.example/cb#frag", "https://*.example.com/cb", "https://app.example/cb*",
		"javascript:alert(1)", " javascript:x", "java\tscript:x", "data:text/html,x", "file:///etc/passwd", "blob:https://x/y",
		"https://app.example@evil.test/cb", `https://app.example\@evil.test`, "https://app.example/cb\u0000", "https://app.example/%2e%2e/cb",
		"cb", "/cb", "//evil.test/cb", "com.example.app:/cb", "myapp://cb"} {
		seeds = append(seeds, dacRegBody(u))
	}
	for _, s := range seeds {
		f.Add([]byte(s), js)
	}
	f.Add([]byte(seeds[0]), "application/x-www-form-urlencoded")
	f.Add([]byte(seeds[0]), "text/plain")
	f.Add([]byte(seeds[0]), "")
	f.Add([]byte(seeds[0]), "application/json; charset=utf-8")
	f.Add([]byte(seeds[0]), "APPLICATION/JSON")
	f.Add([]byte("redirect_uris=https://app.example/cb"), "application/x-www-form-urlencoded")

	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		dacFuzzMu.Lock()
		defer dacFuzzMu.Unlock()
		g.assertCleanLogs(t, 0)
		g.Logs.TakeAll()
		r := dacRequest("POST", dacRegisterPath, "", body)
		r.Header.Set("Content-Type", ctype)
		before := g.snapshot(t)
		began := time.Now()
		resp := dacServe(g, r)
		if took := time.Since(began); took > 2*time.Second {
			t.Errorf("register took %v", took)
		}
		if !slices.Contains([]int{201, 400, 413, 415, 429}, resp.StatusCode) {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		want := changes()
		if resp.StatusCode == http.StatusCreated {
			want = changes(store.KindClient, 1)
		}
		g.assertInvariants(t, before, resp, want)
		if resp.StatusCode != http.StatusCreated {
			return
		}
		// A 201 re-parses and matches what was stored.
		var got struct {
			ClientID                string   `json:"client_id"`
			ClientName              string   `json:"client_name"`
			RedirectURIs            []string `json:"redirect_uris"`
			GrantTypes              []string `json:"grant_types"`
			ResponseTypes           []string `json:"response_types"`
			TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
			Scope                   string   `json:"scope"`
			ClientURI               string   `json:"client_uri"`
			LogoURI                 string   `json:"logo_uri"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
			t.Fatalf("201 body does not parse: %v", err)
		}
		rec, err := dacState(t, g).Grants.Clients.Get(context.Background(), got.ClientID)
		if err != nil {
			t.Fatalf("201 client %q not stored: %v", got.ClientID, err)
		}
		if rec.ID != got.ClientID || !slices.Equal(rec.RedirectURIs, got.RedirectURIs) || !slices.Equal(rec.GrantTypes, got.GrantTypes) ||
			!slices.Equal(rec.ResponseTypes, got.ResponseTypes) || rec.Name != got.ClientName || rec.Scope != got.Scope ||
			rec.LogoURI != got.LogoURI || rec.ClientURI != got.ClientURI || got.TokenEndpointAuthMethod != "none" {
			t.Fatalf("201 body %s differs from the stored record %+v", resp.Body, rec)
		}
		for _, u := range rec.RedirectURIs {
			if err := oauth.ValidateRedirectURI(u, nil); err != nil {
				t.Fatalf("stored redirect URI %q fails validation: %v", u, err)
			}
			if p, err := url.Parse(u); err != nil || p.Fragment != "" || p.User != nil || strings.ContainsAny(u, "*\\#") {
				t.Fatalf("stored redirect URI %q", u)
			}
		}
	})
}

// Fixed client ids, so that every fuzz worker process has the same clients as the seeds.
const (
	dacFuzzC1 = "drio_fuzzC1xxxxxxxxxxxxxxx"
	dacFuzzC2 = "drio_fuzzC2xxxxxxxxxxxxxxx"
	dacFuzzCM = "drio_fuzzCMxxxxxxxxxxxxxxx"
)

// dacFuzzClients are the registered redirects of the fuzz clients, as reference patterns of
// where a redirect may lead (an exact URI, or the loopback one on any port), query included.
var dacFuzzClients = map[string][]*regexp.Regexp{
	dacFuzzC1: {regexp.MustCompile(`^https://app\.example/cb\?`)},
	dacFuzzC2: {regexp.MustCompile(`^http://127\.0\.0\.1(:[0-9]+)?/cb\?`)},
	dacFuzzCM: {regexp.MustCompile(`^https://app\.example/cb\?`), regexp.MustCompile(`^https://app\.example/cb2\?`)},
}

func dacPutFuzzClients(tb testing.TB, g *testGateway) {
	for id, uris := range map[string][]string{dacFuzzC1: {dacC1URI}, dacFuzzC2: {dacC2URI}, dacFuzzCM: {dacC1URI, "https://app.example/cb2"}} {
		rec := &grants.Client{ID: id, Name: id, RedirectURIs: uris, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}}
		if err := dacState(tb, g).Grants.Clients.Put(context.Background(), rec, 0); err != nil {
			tb.Fatal(err)
		}
	}
}

func FuzzAuthorizeQuery(f *testing.F) {
	g := newSharedGateway(f, nil)
	dacPutFuzzClients(f, g)
	valid := url.Values{"response_type": {"code"}, "client_id": {dacFuzzC1}, "redirect_uri": {dacC1URI},
		"code_challenge": {dacChallenge}, "code_challenge_method": {"S256"}, "state": {"xyz"}, "resource": {g.App.Issuer + "/api/v1"}}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range valid {
			q[kk] = append([]string(nil), vv...)
		}
		if v == "\x00del" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q.Encode()
	}
	f.Add(valid.Encode())
	f.Add(with("client_id", "unknown"))
	f.Add(with("client_id", dacFuzzCM))
	f.Add(with("redirect_uri", "https://evil.test/cb"))
	for _, v := range []string{"https://APP.example/cb", "https://app.example/cb/", "https://app.example/cb?x=1", "https://app.example/cb#x",
		"https://app.example/cb%20", "https://app.example:443/cb", "https://app.example.evil.test/cb", "https://app.example/cb/../cb",
		"https://app.example/cb%2F..%2Fevil", "\x00del"} {
		f.Add(with("redirect_uri", v))
	}
	q2 := func(redirect string) string {
		return "response_type=code&client_id=" + dacFuzzC2 + "&redirect_uri=" + url.QueryEscape(redirect) + "&code_challenge=" + dacChallenge + "&code_challenge_method=S256&state=xyz"
	}
	for _, v := range []string{"http://127.0.0.1:51004/cb", "http://127.0.0.1:51004/cb?x=1", "http://127.0.0.1:51004/other",
		"http://localhost.evil.test:51004/cb", "http://127.0.0.1.nip.io:51004/cb", "http://[::1]:51004/cb", "https://127.0.0.1:51004/cb",
		"http://127.0.0.1:51004@evil.test/cb"} {
		f.Add(q2(v))
	}
	f.Add(with("code_challenge", "\x00del"))
	f.Add(with("code_challenge_method", "plain"))
	f.Add(with("code_challenge_method", "s256"))
	f.Add(with("code_challenge", dacChallenge[:42]))
	f.Add(with("response_type", "token"))
	f.Add(with("response_type", "code token"))
	f.Add(with("response_type", "\x00del"))
	f.Add(with("state", "\x00del"))
	f.Add(with("state", strings.Repeat("s", 4096)))
	f.Add(valid.Encode() + "&client_id=" + dacFuzzC2)
	f.Add(valid.Encode() + "&redirect_uri=" + url.QueryEscape("https://evil.test/cb"))
	f.Add(valid.Encode() + "&scope=openid&scope=email")
	f.Add(valid.Encode() + "&foo=bar")
	f.Add(with("resource", "https://other.example"))
	f.Add(with("resource", "https://x#frag"))
	f.Add("%zz&client_id=" + dacFuzzC1)
	f.Add("")

	workosAuthorize := g.App.WorkOS.Endpoint + "/user_management/authorize?"
	f.Fuzz(func(t *testing.T, raw string) {
		dacFuzzMu.Lock()
		defer dacFuzzMu.Unlock()
		g.assertCleanLogs(t, 0)
		g.Logs.TakeAll()
		before := g.snapshot(t)
		resp := dacServe(g, dacRequest("GET", dacAuthzPath, raw, nil))
		loc := resp.Header.Get("Location")
		created := changes()
		if resp.StatusCode == http.StatusOK || strings.HasPrefix(loc, workosAuthorize) {
			created = changes(store.KindPending, 1)
		}
		g.assertInvariants(t, before, resp, created)
		if loc == "" {
			if resp.StatusCode >= 300 && resp.StatusCode < 400 {
				t.Fatalf("redirect status %d without Location", resp.StatusCode)
			}
			return
		}
		if strings.HasPrefix(loc, workosAuthorize) {
			return
		}
		// The redirect must go to a registered URI of the client the request named.
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("redirect %q for an unparsable query", loc)
		}
		ok := false
		for _, re := range dacFuzzClients[q.Get("client_id")] {
			ok = ok || re.MatchString(loc)
		}
		if !ok || len(q["client_id"]) != 1 {
			t.Fatalf("redirect to %q for client_id %q", loc, q["client_id"])
		}
	})
}

func FuzzCallbackQuery(f *testing.F) {
	g := newSharedGateway(f, nil)
	for _, s := range []string{
		"code=W&state=never-issued",
		"code=W&state=" + strings.Repeat("s", 43),
		"code=W", "state=", "code=W&state=a&state=b", "state=%zz",
		"error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=never",
		"error=weird_upstream_code&state=never",
		"code=W&state=never&iss=https%3A%2F%2Fevil",
		"code=W&error=access_denied&state=never",
		"state=never",
		"code=W&state=" + strings.Repeat("s", 5000),
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		dacFuzzMu.Lock()
		defer dacFuzzMu.Unlock()
		g.assertCleanLogs(t, 0)
		g.Logs.TakeAll()
		before := g.snapshot(t)
		resp := dacServe(g, dacRequest("GET", dacCallbackPath, raw, nil))
		g.assertInvariants(t, before, resp, changes())
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("unknown state: %d Location=%q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}
