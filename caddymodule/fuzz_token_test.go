package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"golang.org/x/oauth2"
)

// FuzzTokenForm is the test matrix's token-endpoint fuzz target: any body, Content-Type and
// Authorization header sent to POST /token. Oracle: never a 5xx; a 200 only for a request
// that carries a fixture's grant (its code, verifier and client, redirect URI absent or
// equal: unknown extra parameters are ignored as RFC 6749 §3.2 requires, so byte equality
// would be too strict); a repeated parameter in a well-formed form body gives
// invalid_request. One gateway serves every input; requests go straight to its handler chain.
func FuzzTokenForm(f *testing.F) {
	g := newGateway(f, gatewayOptions{})
	st, err := g.App.runtime(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	const clientID, redirect = "client_fuzz", "http://127.0.0.1:51004/cb"
	if err := st.Grants.Clients.Put(ctx, &grants.Client{
		ID: clientID, RedirectURIs: []string{redirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, IssuedAt: time.Now().Unix(),
	}, 0); err != nil {
		f.Fatal(err)
	}
	// Fixtures: bridge codes written straight into the store, each with its own verifier.
	var fixtures []url.Values
	for i := 0; i < 3; i++ {
		code, verifier := grants.RandomToken(32), grants.RandomToken(40)
		pair := &grants.TokenPair{AccessToken: "at-fixture-" + grants.RandomToken(8), RefreshToken: "rt-fixture-" + grants.RandomToken(8), ExpiresAt: time.Now().Add(time.Hour).Unix()}
		sealed, err := grants.SealPair(code, grants.PurposeCodePair, pair)
		if err != nil {
			f.Fatal(err)
		}
		if err := st.Grants.Codes.Put(ctx, code, &grants.Code{
			ClientID: clientID, RedirectURI: redirect, CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier),
			SessionID: "session_fuzz", Sealed: sealed, ExpiresAt: time.Now().Add(10 * time.Minute).Unix(),
		}, time.Hour); err != nil {
			f.Fatal(err)
		}
		fixtures = append(fixtures, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"code_verifier": {verifier}, "client_id": {clientID}, "redirect_uri": {redirect}})
	}
	const form = "application/x-www-form-urlencoded"
	// The fixtures are real: the last one redeems (and stays in the list, now a replay).
	sanity := httptest.NewRequest("POST", "/api/v1/auth/token", strings.NewReader(fixtures[2].Encode()))
	sanity.Header.Set("Content-Type", form)
	sanityRec := httptest.NewRecorder()
	g.serve(sanityRec, sanity)
	if sanityRec.Code != http.StatusOK {
		f.Fatalf("fixture does not redeem: %d %s", sanityRec.Code, sanityRec.Body)
	}
	basicEmpty := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"))
	valid := fixtures[0].Encode()
	f.Add([]byte(valid), form, "")
	f.Add([]byte(fixtures[1].Encode()), form, basicEmpty)
	f.Add([]byte(valid), form, "Basic "+base64.StdEncoding.EncodeToString([]byte(clientID+":secret")))
	f.Add([]byte(valid+"&code=x"), form, "")
	f.Add([]byte(valid+"&code_verifier=x"), form, "")
	f.Add([]byte("grant_type=authorization_code&grant_type=refresh_token"), form, "")
	f.Add([]byte(valid), "application/json", "")
	f.Add([]byte(valid), form+"X", "")
	f.Add([]byte(valid), "multipart/form-data; boundary=x", "")
	f.Add([]byte(valid), form+"; charset=utf-8", "Bearer x")
	f.Add([]byte("grant_type=refresh_token&refresh_token=abc&client_id="+clientID), form, "")
	f.Add([]byte("grant_type=password&username=a&password=b"), form, "")
	f.Add([]byte("%zz=1&grant_type=authorization_code"), form, "Basic !!!")
	f.Add([]byte("code="+strings.Repeat("a", 20<<10)), form, "")
	f.Add([]byte(strings.ReplaceAll(valid, "&", ";")), form, "")
	f.Add([]byte{}, "", "")

	f.Fuzz(func(t *testing.T, body []byte, ctype, authz string) {
		req := httptest.NewRequest("POST", "/api/v1/auth/token", strings.NewReader(string(body)))
		req.RemoteAddr = "127.0.0.1:1234"
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		g.serve(rec, req)
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if rec.Code >= 500 {
			t.Fatalf("5xx: %d %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			if _, ok := answer["access_token"]; ok {
				t.Fatalf("tokens in a %d answer", rec.Code)
			}
			if rec.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("I6: error answer headers %v", rec.Header())
			}
		}
		mt, _, mtErr := mime.ParseMediaType(ctype)
		vals, qErr := url.ParseQuery(string(body))
		if rec.Code == http.StatusOK {
			if mtErr != nil || mt != form || qErr != nil || !matchesFixture(vals, fixtures) {
				t.Fatalf("200 for a request that is not a fixture: ctype %q body %q", ctype, body)
			}
		}
		if mtErr == nil && mt == form && len(body) <= oauth.MaxFormBody && qErr == nil {
			for name, vs := range vals {
				if len(vs) > 1 && (rec.Code != http.StatusBadRequest || answer["error"] != respond.CodeInvalidRequest) {
					t.Fatalf("repeated %q: got %d %v, want 400 invalid_request", name, rec.Code, answer["error"])
				}
			}
		}
	})
}

// matchesFixture reports whether vals carries one fixture's grant.
func matchesFixture(vals url.Values, fixtures []url.Values) bool {
	for _, fx := range fixtures {
		if vals.Get("grant_type") == fx.Get("grant_type") && vals.Get("code") == fx.Get("code") &&
			vals.Get("code_verifier") == fx.Get("code_verifier") &&
			(vals.Get("client_id") == fx.Get("client_id") || vals.Get("client_id") == "") &&
			(vals.Get("redirect_uri") == "" || vals.Get("redirect_uri") == fx.Get("redirect_uri")) {
			return true
		}
	}
	return false
}
