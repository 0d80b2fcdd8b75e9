package caddymodule

// matrix_register_test.go proves rows R1-R23 of the security matrix (§2.2) through the
// handler: every refusal creates no client record, calls nothing and answers OAuth JSON.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
)

const dacRegisterPath = "/api/v1/auth/register"

// dacRegister posts a registration body and checks the invariants: a 201 creates exactly one
// client record, anything else none.
func dacRegister(t *testing.T, g *testGateway, ctype, body string) *testkit.Response {
	t.Helper()
	before := g.snapshot(t)
	resp := g.do(t, "POST", dacRegisterPath, ctype, body, nil)
	want := changes()
	if resp.StatusCode == http.StatusCreated {
		want = changes(store.KindClient, 1)
	}
	g.assertInvariants(t, before, resp, want)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("I6: registration answer %d has Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	return resp
}

// dacRefused asserts a 400 with the OAuth error code and no client_id.
func dacRefused(t *testing.T, row string, resp *testkit.Response, code string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest || resp.JSON["error"] != code {
		t.Errorf("%s: %d %s, want 400 %s", row, resp.StatusCode, resp.Body, code)
	}
	if _, ok := resp.JSON["client_id"]; ok {
		t.Errorf("%s: refusal carries a client_id", row)
	}
}

func dacRegBody(uris ...string) string {
	b, _ := json.Marshal(map[string]any{"redirect_uris": uris})
	return string(b)
}

// dacStoredClient reads a client record's raw stored bytes.
func dacStoredClient(t *testing.T, g *testGateway, id string) string {
	t.Helper()
	v, err := g.store().Get(context.Background(), store.Key(store.KindClient, id))
	if err != nil {
		t.Fatalf("client %s not stored: %v", id, err)
	}
	return string(v)
}

func TestMatrixRegister(t *testing.T) {
	g := newTestGateway(t, nil)
	const js = "application/json"

	t.Run("R1/public-client", func(t *testing.T) {
		resp := dacRegister(t, g, js, `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none","client_name":"App","scope":"openid email"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("R1: %d %s", resp.StatusCode, resp.Body)
		}
		id, _ := resp.JSON["client_id"].(string)
		if !strings.HasPrefix(id, "drio_") || len(id) < 20 {
			t.Errorf("R1: client_id %q is not server-made", id)
		}
		if _, ok := resp.JSON["client_secret"]; ok {
			t.Error("R1: client_secret in a none registration")
		}
		if resp.JSON["token_endpoint_auth_method"] != "none" || resp.JSON["client_name"] != "App" || resp.JSON["scope"] != "openid email" ||
			!equalJSON(resp.JSON["redirect_uris"], []string{"https://app.example/cb"}) ||
			!equalJSON(resp.JSON["grant_types"], []string{"authorization_code"}) || !equalJSON(resp.JSON["response_types"], []string{"code"}) {
			t.Errorf("R1: metadata not echoed: %s", resp.Body)
		}
		if strings.Contains(resp.Body, tgClientID) || strings.Contains(resp.Body, tgAPIKey) {
			t.Errorf("R1: body carries the WorkOS client id or key: %s", resp.Body)
		}
	})

	t.Run("R2/redirect-uris-missing-or-wrong-type", func(t *testing.T) {
		for _, body := range []string{`{}`, `{"redirect_uris":[]}`, `{"redirect_uris":"https://app.example/cb"}`,
			`{"redirect_uris":null}`, `{"redirect_uris":{"a":"https://app.example/cb"}}`, `{"redirect_uris":[1]}`} {
			dacRefused(t, "R2 "+body, dacRegister(t, g, js, body), respond.CodeInvalidRedirectURI)
		}
	})

	refuseURIs := func(row string, uris ...string) {
		t.Helper()
		t.Run(row, func(t *testing.T) {
			for _, u := range uris {
				dacRefused(t, fmt.Sprintf("%s %q", row, u), dacRegister(t, g, js, dacRegBody(u)), respond.CodeInvalidRedirectURI)
			}
		})
	}
	refuseURIs("R3/http-non-loopback", "http://app.example/cb", "http://127.0.0.2/cb", "http://localhost.evil.test/cb")

	t.Run("R4/loopback-http", func(t *testing.T) {
		for _, u := range []string{"http://127.0.0.1:3000/cb", "http://[::1]/cb", "http://localhost:8080/cb"} {
			if resp := dacRegister(t, g, js, dacRegBody(u)); resp.StatusCode != http.StatusCreated {
				t.Errorf("R4 %q: %d %s", u, resp.StatusCode, resp.Body)
			}
		}
	})

	refuseURIs("R5/fragment", "https://app.example/cb#frag", "https://app.example/cb#")
	refuseURIs("R6/wildcard", "https://*.example.com/cb", "https://app.example/*", "https://app.example/cb*")
	refuseURIs("R7/dangerous-scheme", "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:x", "java\tscript:x",
		"data:text/html,x", "vbscript:x", "file:///etc/passwd", "blob:https://x/y")
	refuseURIs("R8/userinfo-backslash-nul-dots", "https://app.example@evil.test/cb", "http://localhost:80@evil.test/cb",
		`https://app.example\@evil.test`, "https://app.example/cb\u0000", "https://app.example/%2e%2e/cb")
	refuseURIs("R9/relative", "cb", "/cb", "//evil.test/cb")

	t.Run("R10/too-many-or-too-long", func(t *testing.T) {
		var many []string
		for i := range 11 {
			many = append(many, fmt.Sprintf("https://app.example/cb%d", i))
		}
		dacRefused(t, "R10 11 URIs", dacRegister(t, g, js, dacRegBody(many...)), respond.CodeInvalidClientMetadata)
		long := "https://app.example/" + strings.Repeat("a", 2049)
		dacRefused(t, "R10 long URI", dacRegister(t, g, js, dacRegBody(long)), respond.CodeInvalidClientMetadata)
		if resp := dacRegister(t, g, js, dacRegBody(many[:10]...)); resp.StatusCode != http.StatusCreated {
			t.Errorf("R10: 10 URIs refused: %d %s", resp.StatusCode, resp.Body)
		}
	})

	t.Run("R11/grant-types", func(t *testing.T) {
		for _, gt := range []string{"password", "implicit", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code", "foo"} {
			body := `{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","` + gt + `"]}`
			dacRefused(t, "R11 "+gt, dacRegister(t, g, js, body), respond.CodeInvalidClientMetadata)
			body = `{"redirect_uris":["https://app.example/cb"],"grant_types":["` + gt + `"]}`
			dacRefused(t, "R11 only "+gt, dacRegister(t, g, js, body), respond.CodeInvalidClientMetadata)
		}
	})

	t.Run("R12/response-types", func(t *testing.T) {
		for _, extra := range []string{`"response_types":["token"]`, `"response_types":["code","token"]`, `"response_types":["id_token"]`,
			`"response_types":["code"],"grant_types":["refresh_token"]`} {
			dacRefused(t, "R12 "+extra, dacRegister(t, g, js, `{"redirect_uris":["https://app.example/cb"],`+extra+`}`), respond.CodeInvalidClientMetadata)
		}
	})

	t.Run("R13/auth-method", func(t *testing.T) {
		for _, m := range []string{"private_key_jwt", "tls_client_auth", "client_secret_jwt", "bogus"} {
			body := `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"` + m + `"}`
			dacRefused(t, "R13 "+m, dacRegister(t, g, js, body), respond.CodeInvalidClientMetadata)
		}
	})

	t.Run("R14/client-chosen-id-and-secret-ignored", func(t *testing.T) {
		resp := dacRegister(t, g, js, `{"client_id":"admin","client_secret":"s3cr3t-chosen","client_id_issued_at":1,"client_secret_expires_at":0,"redirect_uris":["https://app.example/cb"]}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("R14: %d %s", resp.StatusCode, resp.Body)
		}
		if id := resp.JSON["client_id"]; id == "admin" || !strings.HasPrefix(id.(string), "drio_") {
			t.Errorf("R14: client_id %v", id)
		}
		if at, _ := resp.JSON["client_id_issued_at"].(float64); at < float64(time.Now().Add(-time.Hour).Unix()) {
			t.Errorf("R14: client_id_issued_at %v is the client's", resp.JSON["client_id_issued_at"])
		}
		if strings.Contains(resp.Body, "s3cr3t-chosen") || strings.Contains(resp.Body, "client_secret") {
			t.Errorf("R14: secret echoed: %s", resp.Body)
		}
		if _, err := g.store().Get(context.Background(), store.Key(store.KindClient, "admin")); err == nil {
			t.Error("R14: a client stored under the chosen id")
		}
		if raw := dacStoredClient(t, g, resp.JSON["client_id"].(string)); strings.Contains(raw, "s3cr3t-chosen") {
			t.Errorf("R14: chosen secret stored: %s", raw)
		}
	})

	t.Run("R15/unknown-field-ignored", func(t *testing.T) {
		resp := dacRegister(t, g, js, `{"x_evil":"<script>alert(1)</script>","software_statement":"eyJ.x.y","redirect_uris":["https://app.example/cb"]}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("R15: %d %s", resp.StatusCode, resp.Body)
		}
		if strings.Contains(resp.Body, "x_evil") || strings.Contains(resp.Body, "script") || strings.Contains(resp.Body, "software_statement") {
			t.Errorf("R15: unknown field echoed: %s", resp.Body)
		}
		if raw := dacStoredClient(t, g, resp.JSON["client_id"].(string)); strings.Contains(raw, "x_evil") || strings.Contains(raw, "script") {
			t.Errorf("R15: unknown field stored: %s", raw)
		}
	})

	t.Run("R16/no-outbound-fetch", func(t *testing.T) {
		var hits atomic.Int64
		probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		defer probe.Close()
		body := `{"redirect_uris":["https://app.example/cb"],"jwks_uri":"` + probe.URL + `/jwks","logo_uri":"` + probe.URL +
			`/logo.png","client_uri":"` + probe.URL + `/","policy_uri":"` + probe.URL + `/p","tos_uri":"` + probe.URL +
			`/t","sector_identifier_uri":"` + probe.URL + `/s","request_uris":["` + probe.URL + `/r"]}`
		resp := dacRegister(t, g, js, body)
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("R16: %d %s", resp.StatusCode, resp.Body)
		}
		dacRegister(t, g, js, `{"redirect_uris":["https://app.example/cb"],"jwks_uri":"http://169.254.169.254/latest/meta-data","logo_uri":"http://127.0.0.1:6379/"}`)
		if resp.StatusCode == http.StatusCreated {
			// Rendering the consent page must not fetch the logo either.
			id := resp.JSON["client_id"].(string)
			q := "response_type=code&client_id=" + id + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge=" + dacChallenge + "&code_challenge_method=S256"
			g.do(t, "GET", "/api/v1/auth/authorize?"+q, "", "", nil)
		}
		time.Sleep(50 * time.Millisecond)
		if n := hits.Load(); n != 0 {
			t.Errorf("R16: %d outbound requests to client-supplied URLs", n)
		}
	})

	t.Run("R17/unsafe-metadata-uris", func(t *testing.T) {
		for _, extra := range []string{`"logo_uri":"javascript:x"`, `"client_uri":"data:text/html,x"`, `"policy_uri":"http://evil.test/p"`,
			`"tos_uri":"https://user@evil.test/"`, `"logo_uri":"file:///etc/passwd"`} {
			dacRefused(t, "R17 "+extra, dacRegister(t, g, js, `{"redirect_uris":["https://app.example/cb"],`+extra+`}`), respond.CodeInvalidClientMetadata)
		}
	})

	t.Run("R18/client-name-escaped-on-consent", func(t *testing.T) {
		name := `<img src=x onerror=alert(1)>`
		resp := dacRegister(t, g, js, `{"redirect_uris":["https://app.example/cb"],"client_name":"`+name+`"}`)
		if resp.StatusCode != http.StatusCreated || resp.JSON["client_name"] != name {
			t.Fatalf("R18: %d %s", resp.StatusCode, resp.Body)
		}
		id := resp.JSON["client_id"].(string)
		q := "response_type=code&client_id=" + id + "&code_challenge=" + dacChallenge + "&code_challenge_method=S256&state=xyz"
		page := g.do(t, "GET", "/api/v1/auth/authorize?"+q, "", "", http.Header{"Accept": {"text/html"}})
		if page.StatusCode != http.StatusOK {
			t.Fatalf("R18: consent %d %s", page.StatusCode, page.Body)
		}
		if strings.Contains(page.Body, "<img") || !strings.Contains(page.Body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("R18: client_name not escaped on the consent page")
		}
		assertPageHeaders(t, page)
	})

	t.Run("R19/oversized-bodies", func(t *testing.T) {
		big := `{"redirect_uris":["https://app.example/cb"],"client_name":"` + strings.Repeat("a", 10<<20) + `"}`
		start := time.Now()
		resp := dacRegister(t, g, js, big)
		if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("R19 10 MiB: %d", resp.StatusCode)
		}
		host := strings.TrimPrefix(g.URL, "http://")
		// A Content-Length far larger than the body: refused without waiting for the body.
		status, took := dacRawRequest(t, host, "POST "+dacRegisterPath+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{}", nil)
		if status != http.StatusRequestEntityTooLarge && status != http.StatusBadRequest || took > 2*time.Second {
			t.Errorf("R19 lying Content-Length: %d after %v", status, took)
		}
		// A chunked body that never ends: refused once the limit is read.
		stop := make(chan struct{})
		chunk := "4000\r\n" + strings.Repeat("a", 0x4000) + "\r\n"
		status, took = dacRawRequest(t, host, "POST "+dacRegisterPath+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", func(c net.Conn) {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write([]byte(chunk)); err != nil {
					return
				}
			}
		})
		close(stop)
		if status != http.StatusRequestEntityTooLarge && status != http.StatusBadRequest || took > 2*time.Second {
			t.Errorf("R19 endless chunked body: %d after %v", status, took)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("R19: took %v", time.Since(start))
		}
	})

	t.Run("R20/malformed-json", func(t *testing.T) {
		for name, body := range map[string]string{
			"malformed":     `{"redirect_uris":["https://app.example/cb"]`,
			"array":         `[{"redirect_uris":["https://app.example/cb"]}]`,
			"deep":          `{"redirect_uris":["https://app.example/cb"],"x":` + strings.Repeat("[", 8000) + strings.Repeat("]", 8000) + `}`,
			"duplicate-key": `{"redirect_uris":["https://evil.test/cb"],"redirect_uris":["https://app.example/cb"]}`,
			"two-objects":   `{"redirect_uris":["https://app.example/cb"]}{}`,
			"empty":         ``,
			"null":          `null`,
		} {
			dacRefused(t, "R20 "+name, dacRegister(t, g, js, body), respond.CodeInvalidClientMetadata)
		}
		// 10,000 levels do not fit the body limit: refused as too large, before any parsing.
		deep := `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
		if resp := dacRegister(t, g, js, deep); resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("R20 10,000 levels: %d", resp.StatusCode)
		}
	})

	t.Run("R21/content-type", func(t *testing.T) {
		for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "", "multipart/form-data; boundary=x"} {
			resp := dacRegister(t, g, ct, dacRegBody("https://app.example/cb"))
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				dacRefused(t, "R21 "+ct, resp, respond.CodeInvalidClientMetadata)
			}
		}
		if resp := dacRegister(t, g, "application/json; charset=utf-8", dacRegBody("https://app.example/cb")); resp.StatusCode != http.StatusCreated {
			t.Errorf("R21: application/json with charset refused: %d", resp.StatusCode)
		}
	})

	t.Run("R23/get-register", func(t *testing.T) {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			before := g.snapshot(t)
			resp := g.do(t, m, dacRegisterPath, "", "", nil)
			g.assertInvariants(t, before, resp, changes())
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("R23 %s: %d", m, resp.StatusCode)
			}
		}
	})
}

// TestMatrixRegisterRateLimit is R22: a burst of registrations from one address is cut off
// with 429 and Retry-After, and the store stops growing.
func TestMatrixRegisterRateLimit(t *testing.T) {
	g := newTestGateway(t, func(a *App) { a.RateLimit = &RateLimitConfig{PerSecond: 1, Burst: 20} })
	before := g.count(store.KindClient)
	var limited *testkit.Response
	for i := range 200 {
		resp := g.do(t, "POST", dacRegisterPath, "application/json", dacRegBody("https://app.example/cb"), nil)
		assertResponseInvariants(t, resp)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = resp
			if i < 20 {
				t.Errorf("R22: limited after only %d requests", i)
			}
			break
		}
	}
	if limited == nil {
		t.Fatal("R22: 200 registrations in a row were never limited")
	}
	if limited.Header.Get("Retry-After") == "" {
		t.Error("R22: 429 without Retry-After")
	}
	for range 50 {
		g.do(t, "POST", dacRegisterPath, "application/json", dacRegBody("https://app.example/cb"), nil)
	}
	if grew := g.count(store.KindClient) - before; grew > 25 {
		t.Errorf("R22: %d clients stored from one address in a burst", grew)
	}
}

// dacRawRequest writes head on a raw connection, runs feed (if any) concurrently to keep
// sending, and returns the response status and how long it took.
func dacRawRequest(t *testing.T, host, head string, feed func(net.Conn)) (int, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(start.Add(5 * time.Second))
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	if feed != nil {
		go feed(c)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("raw request: %v", err)
		return 0, time.Since(start)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
