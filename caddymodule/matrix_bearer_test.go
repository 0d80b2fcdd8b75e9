package caddymodule

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// The B rows of the test matrix (SECURITY.md), the gateway-level parts: what drio_protect answers and
// whether the request reaches the upstream. The verifier's own rows (B7-B15, B20-B26) are
// unit tests of the verifier package.

// signRS256 signs claims with key under kid, as WorkOS would.
func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid})
	p, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// wantResourceError checks the drio resource envelope (I6) and that nothing was forwarded.
func wantResourceError(t *testing.T, g *testGateway, row string, resp *testkit.Response, status int, code string, forwardedBefore int64) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: got %d %s, want %d", row, resp.StatusCode, strings.TrimSpace(resp.Body), status)
	}
	e, _ := resp.JSON["error"].(map[string]any)
	if e == nil || e["code"] != code || e["requestId"] == nil || e["requestId"] == "" {
		t.Errorf("%s: body %s, want the drio envelope with code %s and a requestId", row, strings.TrimSpace(resp.Body), code)
	}
	if g.Resource.Requests() != forwardedBefore {
		t.Errorf("%s: the request was forwarded to the upstream", row)
	}
}

// wantChallenge checks a 401's Bearer challenge, with or without an error= attribute.
func wantChallenge(t *testing.T, row string, resp *testkit.Response, withError bool) {
	t.Helper()
	ch := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `resource_metadata="`) {
		t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge with resource_metadata", row, ch)
	}
	if strings.Contains(ch, "error=") != withError {
		t.Errorf("%s: WWW-Authenticate %q: error attribute present=%v, want %v", row, ch, !withError, withError)
	}
}

func TestMatrixBearer(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")

	t.Run("B1 no Authorization", func(t *testing.T) {
		n := g.Resource.Requests()
		resp := g.do(t, "GET", "/api/v1/me", "", "", nil)
		wantResourceError(t, g, "B1", resp, 401, respond.EnvelopeUnauthorized, n)
		wantChallenge(t, "B1", resp, false)
	})

	t.Run("B2 other schemes", func(t *testing.T) {
		for _, h := range []string{"Basic dTpw", "Token abc", "DPoP abc"} {
			n := g.Resource.Requests()
			resp := g.do(t, "GET", "/api/v1/me", "", "", http.Header{"Authorization": {h}})
			wantResourceError(t, g, "B2 "+h, resp, 401, respond.EnvelopeUnauthorized, n)
			wantChallenge(t, "B2 "+h, resp, false)
		}
	})

	t.Run("B3 scheme case", func(t *testing.T) {
		for _, s := range []string{"bearer", "BEARER", "bEaReR"} {
			resp := g.do(t, "GET", "/api/v1/me", "", "", http.Header{"Authorization": {s + " " + access}})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("B3 %s: got %d, want 200", s, resp.StatusCode)
			}
		}
	})

	t.Run("B4 malformed credentials", func(t *testing.T) {
		for _, h := range []string{"Bearer", "Bearer ", "Bearer  " + access + "  ", "Bearer a b", "Bearer " + access + ",x"} {
			n := g.Resource.Requests()
			resp := g.do(t, "GET", "/api/v1/me", "", "", http.Header{"Authorization": {h}})
			if resp.StatusCode != 401 && resp.StatusCode != 400 {
				t.Errorf("B4 %.12q: got %d, want 401 or 400", h, resp.StatusCode)
			}
			if g.Resource.Requests() != n {
				t.Errorf("B4 %.12q: forwarded", h)
			}
		}
	})

	t.Run("B5 more than one method", func(t *testing.T) {
		n := g.Resource.Requests()
		resp := g.do(t, "GET", "/api/v1/me", "", "", http.Header{"Authorization": {"Bearer " + access, "Bearer " + access}})
		wantResourceError(t, g, "B5 two headers", resp, 400, respond.EnvelopeBadRequest, n)
		resp = g.do(t, "GET", "/api/v1/me?access_token="+access, "", "", testkit.Bearer(access))
		wantResourceError(t, g, "B5 header+query", resp, 400, respond.EnvelopeBadRequest, n)
	})

	t.Run("B6 query token only", func(t *testing.T) {
		n := g.Resource.Requests()
		resp := g.do(t, "GET", "/api/v1/me?access_token="+access, "", "", nil)
		wantResourceError(t, g, "B6", resp, 401, respond.EnvelopeUnauthorized, n)
		wantChallenge(t, "B6", resp, false)
	})

	t.Run("B28 revoked session", func(t *testing.T) {
		a, _ := g.login(t, c, "grace@example.com")
		if resp := g.me(t, a); resp.StatusCode != http.StatusOK {
			t.Fatalf("B28: fresh token got %d", resp.StatusCode)
		}
		g.OAuth.server.RevokeGrant(jwtSID(t, a), oauth.RevokeCodeReplay, g.state())
		n := g.Resource.Requests()
		resp := g.me(t, a)
		wantResourceError(t, g, "B28", resp, 401, respond.EnvelopeUnauthorized, n)
		wantChallenge(t, "B28", resp, true)
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("B28: challenge %q, want invalid_token", resp.Header.Get("WWW-Authenticate"))
		}
		waitRevokedAtWorkOS(g, jwtSID(t, a))
	})

	t.Run("B28 foreign session", func(t *testing.T) {
		foreign := g.WorkOS.MintAccessToken(workosmock.DemoUsers()[0], "session_NOTBROKEREDHERE", 0, nil)
		n := g.Resource.Requests()
		wantResourceError(t, g, "B28 foreign", g.me(t, foreign), 401, respond.EnvelopeUnauthorized, n)
	})

	t.Run("B29 identity headers", func(t *testing.T) {
		resp := g.me(t, access)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("B29: got %d", resp.StatusCode)
		}
		_, _, h := g.Resource.LastRequest()
		want := map[string]string{
			HeaderUserID: workosmock.DemoAdaID, HeaderOrgID: workosmock.DemoOrgID, HeaderSessionID: jwtSID(t, access),
			HeaderUserEmail: "ada@example.com", HeaderUserRole: "admin", HeaderPermissions: "apps:read,apps:write",
		}
		for k, v := range want {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("B29: upstream %s = %q, want %q", k, got, v)
			}
		}
		if h.Get(HeaderRequestID) == "" || h.Get(HeaderRequestID) != resp.Header.Get(HeaderRequestID) {
			t.Errorf("B29: X-Request-Id upstream %q, response %q", h.Get(HeaderRequestID), resp.Header.Get(HeaderRequestID))
		}
	})
}

func TestMatrixBearerUnknownKid(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")
	_, key := g.WorkOS.SigningKey()
	before := g.WorkOS.Hits(workosmock.EndpointJWKS)
	n := g.Resource.Requests()
	now := time.Now().Unix()
	const count = 200
	var wg sync.WaitGroup
	statuses := make([]int, count)
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := signRS256(t, key, "kid_"+grants.RandomToken(6), map[string]any{
				"iss": g.WorkOS.Issuer(), "sub": workosmock.DemoAdaID, "sid": jwtSID(t, access), "iat": now, "exp": now + 300,
			})
			statuses[i] = g.me(t, tok).StatusCode
		}()
	}
	// Valid-kid traffic is not blocked meanwhile.
	if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
		t.Errorf("B16: a valid token got %d during the unknown-kid burst", resp.StatusCode)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusUnauthorized {
			t.Errorf("B16: request %d got %d, want 401", i, s)
		}
	}
	if d := g.WorkOS.Hits(workosmock.EndpointJWKS) - before; d > 1 {
		t.Errorf("B16: %d JWKS fetches for a burst of unknown kids, want at most 1", d)
	}
	if g.Resource.Requests() != n+1 {
		t.Errorf("B16: unknown-kid tokens were forwarded")
	}
}

func TestMatrixBearerKeyRotation(t *testing.T) {
	g := newTestGateway(t, nil)
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")

	// B18: the JWKS fails; cached keys keep working and nothing waits on a fetch.
	g.WorkOS.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultGarbage})
	if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
		t.Errorf("B18: cached key refused while the JWKS is broken: %d", resp.StatusCode)
	}
	g.WorkOS.ClearFaults()

	// B17: WorkOS rotates to K3; a K3 token verifies after one refetch.
	g.WorkOS.RotateKeys(true)
	before := g.WorkOS.Hits(workosmock.EndpointJWKS)
	k3 := g.WorkOS.MintAccessToken(workosmock.DemoUsers()[0], jwtSID(t, access), 0, nil)
	g.noteSecret(k3)
	if resp := g.me(t, k3); resp.StatusCode != http.StatusOK {
		t.Errorf("B17: token signed by the rotated key got %d, want 200", resp.StatusCode)
	}
	if d := g.WorkOS.Hits(workosmock.EndpointJWKS) - before; d != 1 {
		t.Errorf("B17: %d JWKS fetches, want 1", d)
	}
	if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
		t.Errorf("B17: the old key's token got %d after the rotation (old key kept)", resp.StatusCode)
	}
}

func TestMatrixBearerColdStart(t *testing.T) {
	g := newGateway(t, gatewayOptions{
		noWait: true,
		beforeStart: func(wm *workosmock.Server) {
			wm.SetFault(workosmock.EndpointJWKS, workosmock.Fault{Mode: workosmock.FaultStatus, Status: 500})
		},
	})
	tok := g.WorkOS.MintAccessToken(workosmock.DemoUsers()[0], "session_COLD", 0, nil)
	n := g.Resource.Requests()
	for i := 0; i < 3; i++ {
		resp := g.me(t, tok)
		wantResourceError(t, g, "B19 cold", resp, http.StatusServiceUnavailable, respond.EnvelopeInternal, n)
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("B19: 503 without Retry-After")
		}
	}
	g.WorkOS.ClearFaults()
	// The verifier refetches with backoff (first retry after the 10 s minimum interval).
	deadline := time.Now().Add(25 * time.Second)
	for g.state().Verifier.Stats().Keys == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if g.state().Verifier.Stats().Keys == 0 {
		t.Fatalf("B19: no keys 25 s after the JWKS came back")
	}
	c := g.register(t)
	access, _ := g.login(t, c, "ada@example.com")
	if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
		t.Errorf("B19: after recovery a valid token got %d", resp.StatusCode)
	}
}
