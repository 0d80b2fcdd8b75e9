package caddymodule

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// The T rows of the test matrix (SECURITY.md) at the handler level. Shared helpers of the matrix_*_test.go
// files live here too.

const (
	tokenPath     = "/api/v1/auth/token"
	authorizePath = "/api/v1/auth/authorize"
)

// wantOAuthError checks an OAuth error answer: status, error code, JSON content type and
// (on the token and refresh routes) Cache-Control: no-store (invariants I1, I6).
func wantOAuthError(t *testing.T, row string, resp *testkit.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || resp.JSON["error"] != code {
		t.Errorf("%s: got %d %s, want %d %s", row, resp.StatusCode, strings.TrimSpace(resp.Body), status, code)
		return
	}
	checkOAuthShape(t, row, resp)
}

// checkOAuthShape asserts the I6 shape of any token-route answer and that no tokens come
// with an error.
func checkOAuthShape(t *testing.T, row string, resp *testkit.Response) {
	t.Helper()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", row, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", row, resp.Header.Get("Cache-Control"))
	}
	if resp.StatusCode < 500 { // the rows that pin a 503 say so; I1 holds everywhere else
		assertResponseInvariants(t, resp)
	}
	if resp.StatusCode != http.StatusOK {
		if _, ok := resp.JSON["access_token"]; ok {
			t.Errorf("%s: an error answer carries an access_token", row)
		}
		if strings.Contains(resp.Body, "goroutine ") || strings.Contains(resp.Body, ".go:") {
			t.Errorf("%s: the answer leaks a stack trace: %s", row, resp.Body)
		}
	}
}

// refuse sends form to the token endpoint and expects an error that changes no record and
// calls no WorkOS endpoint (invariants I1-I6 through the shared assertInvariants).
func (g *testGateway) refuse(t *testing.T, row string, form url.Values, status int, code string) {
	t.Helper()
	before := g.snapshot(t)
	resp := g.form(t, tokenPath, form)
	wantOAuthError(t, row, resp, status, code)
	g.assertInvariants(t, before, resp, changes())
}

// wantTokens checks a 200 token answer and returns the pair.
func wantTokens(t *testing.T, g *testGateway, row string, resp *testkit.Response) (access, refresh string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: got %d %s, want 200 with tokens", row, resp.StatusCode, resp.Body)
	}
	checkOAuthShape(t, row, resp)
	access, _ = resp.JSON["access_token"].(string)
	refresh, _ = resp.JSON["refresh_token"].(string)
	if access == "" || refresh == "" || resp.JSON["token_type"] != "Bearer" {
		t.Fatalf("%s: incomplete token answer %s", row, resp.Body)
	}
	if exp, _ := resp.JSON["expires_in"].(float64); exp <= 0 {
		t.Errorf("%s: expires_in %v, want > 0", row, resp.JSON["expires_in"])
	}
	g.noteSecret(access)
	g.noteSecret(refresh)
	return access, refresh
}

// codeRec reads the store record of a bridge code.
func codeRec(t *testing.T, g *testGateway, code string) (grants.Code, bool) {
	t.Helper()
	rec, err := g.grants().Codes.Get(context.Background(), code)
	if err != nil {
		return grants.Code{}, false
	}
	return *rec, true
}

// wantUnconsumed asserts that the code can still be redeemed (not redeemed, not burned).
func wantUnconsumed(t *testing.T, g *testGateway, row, code string) {
	t.Helper()
	rec, ok := codeRec(t, g, code)
	if !ok || rec.Redeemed || rec.Burned || len(rec.Sealed) == 0 {
		t.Errorf("%s: the code was consumed (found=%v redeemed=%v burned=%v)", row, ok, rec.Redeemed, rec.Burned)
	}
}

// jwtSID returns the sid claim of a JWT, without verifying it.
func jwtSID(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.SID == "" {
		t.Fatalf("JWT without sid: %v", err)
	}
	return c.SID
}

// waitRevokedAtWorkOS polls the mock until sid is revoked there (the gateway revokes in the
// background).
func waitRevokedAtWorkOS(g *testGateway, sid string) bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if g.WorkOS.SessionRevoked(sid) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// me calls the protected /api/v1/me with token.
func (g *testGateway) me(t *testing.T, token string) *testkit.Response {
	t.Helper()
	return g.do(t, "GET", "/api/v1/me", "", "", testkit.Bearer(token))
}

// refreshForm is the refresh grant for rt by client c.
func refreshForm(c *testkit.Registration, rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.ClientID}}
}

// wantSessionRevoked asserts the T5/F4 consequences: the access token is refused at once,
// the refresh token fails, and WorkOS was told.
func wantSessionRevoked(t *testing.T, g *testGateway, c *testkit.Registration, row, access, refresh string) {
	t.Helper()
	if resp := g.me(t, access); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: the revoked session's access token got %d at /api/v1/me, want 401", row, resp.StatusCode)
	} else if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("%s: 401 without invalid_token: %q", row, resp.Header.Get("WWW-Authenticate"))
	}
	if refresh != "" {
		wantOAuthError(t, row+" refresh", g.form(t, tokenPath, refreshForm(c, refresh)), 400, respond.CodeInvalidGrant)
	}
	if !waitRevokedAtWorkOS(g, jwtSID(t, access)) {
		t.Errorf("%s: the WorkOS session was not revoked", row)
	}
}

// freshCode runs a flow up to the bridge code.
func freshCode(t *testing.T, g *testGateway, c *testkit.Registration) (*testkit.Flow, string) {
	t.Helper()
	f := g.kit.StartFlow(t, c, "ada@example.com") // notes the verifier, codes and states
	return f, f.Code(t)
}

func TestMatrixToken(t *testing.T) {
	g := newTestGateway(t, nil)
	c1 := g.register(t)
	c2 := g.register(t)

	t.Run("T1 valid", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		access, _ := wantTokens(t, g, "T1", g.form(t, tokenPath, f.TokenForm(code)))
		if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
			t.Errorf("T1: access token refused: %d", resp.StatusCode)
		}
	})

	t.Run("T2 wrong verifier does not consume; three failures burn", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		wrong := f.TokenForm(code)
		wrong.Set("code_verifier", strings.Repeat("A", 43))
		wantOAuthError(t, "T2", g.form(t, tokenPath, wrong), 400, respond.CodeInvalidGrant)
		wantUnconsumed(t, g, "T2", code)
		wantTokens(t, g, "T2 then right verifier", g.form(t, tokenPath, f.TokenForm(code)))

		f, code = freshCode(t, g, c1)
		wrong = f.TokenForm(code)
		wrong.Set("code_verifier", strings.Repeat("A", 43))
		hitsBefore := g.WorkOS.Hits(workosmock.EndpointRevoke)
		for i := 0; i < oauth.MaxCodeFailures; i++ {
			wantOAuthError(t, "T2 burn", g.form(t, tokenPath, wrong), 400, respond.CodeInvalidGrant)
		}
		if rec, _ := codeRec(t, g, code); !rec.Burned || len(rec.Sealed) != 0 {
			t.Errorf("T2: after %d failures the code is not burned", oauth.MaxCodeFailures)
		}
		wantOAuthError(t, "T2 after burn", g.form(t, tokenPath, f.TokenForm(code)), 400, respond.CodeInvalidGrant)
		if g.WorkOS.Hits(workosmock.EndpointRevoke) != hitsBefore {
			t.Errorf("T2: a wrong verifier revoked something")
		}
	})

	t.Run("T3 missing verifier", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Del("code_verifier")
		g.refuse(t, "T3", form, 400, respond.CodeInvalidGrant)
		wantUnconsumed(t, g, "T3", code)
	})

	t.Run("T4 malformed verifiers", func(t *testing.T) {
		for _, v := range []string{strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("a", 40) + "+/="} {
			f, code := freshCode(t, g, c1)
			form := f.TokenForm(code)
			form.Set("code_verifier", v)
			resp := g.form(t, tokenPath, form)
			if resp.StatusCode != 400 || (resp.JSON["error"] != respond.CodeInvalidGrant && resp.JSON["error"] != respond.CodeInvalidRequest) {
				t.Errorf("T4 %d chars: %d %s", len(v), resp.StatusCode, resp.Body)
			}
			checkOAuthShape(t, "T4", resp)
		}
	})

	t.Run("T5 replay by the verifier holder revokes", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		access, refresh := wantTokens(t, g, "T5", g.form(t, tokenPath, f.TokenForm(code)))
		time.Sleep(time.Second)
		wantOAuthError(t, "T5 replay", g.form(t, tokenPath, f.TokenForm(code)), 400, respond.CodeInvalidGrant)
		wantSessionRevoked(t, g, c1, "T5", access, refresh)
		// F11: a refresh after the revocation stays refused; a second replay stays refused.
		wantOAuthError(t, "T5 second replay", g.form(t, tokenPath, f.TokenForm(code)), 400, respond.CodeInvalidGrant)
	})

	t.Run("T6 replay by a stranger revokes nothing", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		access, refresh := wantTokens(t, g, "T6", g.form(t, tokenPath, f.TokenForm(code)))
		wrong := f.TokenForm(code)
		wrong.Set("code_verifier", strings.Repeat("B", 43))
		wantOAuthError(t, "T6 wrong verifier", g.form(t, tokenPath, wrong), 400, respond.CodeInvalidGrant)
		other := f.TokenForm(code)
		other.Set("client_id", c2.ClientID)
		other.Set("redirect_uri", c2.RedirectURI)
		wantOAuthError(t, "T6 other client", g.form(t, tokenPath, other), 400, respond.CodeInvalidGrant)
		if resp := g.me(t, access); resp.StatusCode != http.StatusOK {
			t.Errorf("T6: the legitimate access token got %d after a stranger's replay", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
		if g.WorkOS.SessionRevoked(jwtSID(t, access)) {
			t.Errorf("T6: a stranger's replay revoked the WorkOS session")
		}
		wantTokens(t, g, "T6 refresh still works", g.form(t, tokenPath, refreshForm(c1, refresh)))
	})

	t.Run("T8 another client", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Set("client_id", c2.ClientID)
		form.Set("redirect_uri", c2.RedirectURI)
		wantOAuthError(t, "T8", g.form(t, tokenPath, form), 400, respond.CodeInvalidGrant)
		form.Set("client_id", "client_unknown")
		form.Del("redirect_uri")
		wantOAuthError(t, "T8 unknown client", g.form(t, tokenPath, form), 401, respond.CodeInvalidClient)
		wantUnconsumed(t, g, "T8", code)
		wantTokens(t, g, "T8 then owner", g.form(t, tokenPath, f.TokenForm(code)))
	})

	t.Run("T9 other redirect_uri", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Set("redirect_uri", "http://127.0.0.1:51004/other")
		g.refuse(t, "T9", form, 400, respond.CodeInvalidGrant)
		wantUnconsumed(t, g, "T9", code)
	})

	t.Run("T10 redirect_uri omitted", func(t *testing.T) {
		// Named at authorize: the token request must repeat it (RFC 6749 §4.1.3), and a
		// refusal leaves the code for its owner.
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Del("redirect_uri")
		g.refuse(t, "T10 named at authorize", form, 400, respond.CodeInvalidGrant)
		wantUnconsumed(t, g, "T10", code)
		wantTokens(t, g, "T10 then repeated", g.form(t, tokenPath, f.TokenForm(code)))

		// Not named at authorize (one registered URI): it may be omitted at the token too.
		reg := *c1
		cfg := *c1.Config
		cfg.RedirectURL = ""
		reg.Config = &cfg
		f = g.kit.StartFlow(t, &reg, "ada@example.com")
		code = f.Code(t)
		form = f.TokenForm(code)
		form.Del("redirect_uri")
		wantTokens(t, g, "T10 omitted at both", g.form(t, tokenPath, form))
	})

	t.Run("T11 bad codes", func(t *testing.T) {
		for _, tc := range []struct {
			code, want string
		}{
			{grants.RandomToken(32), respond.CodeInvalidGrant},
			{"", respond.CodeInvalidRequest},
			{strings.Repeat("x", 10<<10), respond.CodeInvalidGrant},
		} {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {tc.code}, "code_verifier": {strings.Repeat("a", 43)}, "client_id": {c1.ClientID}}
			g.refuse(t, "T11", form, 400, tc.want)
		}
	})

	t.Run("T12 grant types", func(t *testing.T) {
		for _, gt := range []string{"password", "client_credentials", "implicit", "foo"} {
			wantOAuthError(t, "T12 "+gt, g.form(t, tokenPath, url.Values{"grant_type": {gt}, "client_id": {c1.ClientID}}), 400, respond.CodeUnsupportedGrantType)
		}
		g.refuse(t, "T12 missing", url.Values{"client_id": {c1.ClientID}}, 400, respond.CodeInvalidRequest)
	})

	t.Run("T13 duplicate parameters", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		for _, name := range []string{"code", "code_verifier", "client_id", "grant_type"} {
			form := f.TokenForm(code)
			form.Add(name, form.Get(name))
			wantOAuthError(t, "T13 "+name, g.form(t, tokenPath, form), 400, respond.CodeInvalidRequest)
		}
		wantUnconsumed(t, g, "T13", code)
	})

	t.Run("T14 GET", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		resp := g.do(t, "GET", tokenPath+"?"+f.TokenForm(code).Encode(), "", "", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("T14: GET got %d, want 405", resp.StatusCode)
		}
		wantUnconsumed(t, g, "T14", code)
	})

	t.Run("T15 content types", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		js, _ := json.Marshal(map[string]string{"grant_type": "authorization_code", "code": code, "code_verifier": f.Verifier, "client_id": c1.ClientID})
		wantOAuthError(t, "T15 json", g.do(t, "POST", tokenPath, "application/json", string(js), nil), 400, respond.CodeInvalidRequest)
		wantOAuthError(t, "T15 X", g.do(t, "POST", tokenPath, "application/x-www-form-urlencodedX", form.Encode(), nil), 400, respond.CodeInvalidRequest)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k := range form {
			_ = mw.WriteField(k, form.Get(k))
		}
		_ = mw.Close()
		wantOAuthError(t, "T15 multipart", g.do(t, "POST", tokenPath, mw.FormDataContentType(), buf.String(), nil), 400, respond.CodeInvalidRequest)
		wantOAuthError(t, "T15 none", g.do(t, "POST", tokenPath, "", form.Encode(), nil), 400, respond.CodeInvalidRequest)
		wantUnconsumed(t, g, "T15", code)
	})

	t.Run("T16 Basic", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Del("client_id")
		basic := func(id, secret string) http.Header {
			return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
		}
		resp := g.do(t, "POST", tokenPath, "application/x-www-form-urlencoded", form.Encode(), basic(c1.ClientID, "anything"))
		wantOAuthError(t, "T16", resp, 401, respond.CodeInvalidClient)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("T16: WWW-Authenticate %q, want Basic", resp.Header.Get("WWW-Authenticate"))
		}
		wantUnconsumed(t, g, "T16", code)
		// client_secret in the body is refused the same way.
		withSecret := f.TokenForm(code)
		withSecret.Set("client_secret", "s3cret")
		wantOAuthError(t, "T16 body secret", g.form(t, tokenPath, withSecret), 401, respond.CodeInvalidClient)
		// Basic with an empty secret only identifies the client (x/oauth2's default style).
		wantTokens(t, g, "T16 empty secret", g.do(t, "POST", tokenPath, "application/x-www-form-urlencoded", form.Encode(), basic(c1.ClientID, "")))
	})

	t.Run("T17 malformed Basic", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		for _, h := range []string{"Basic !!!notbase64", "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")),
			"Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:")), "Basic", "Basic " + strings.Repeat("A", 4096)} {
			resp := g.do(t, "POST", tokenPath, "application/x-www-form-urlencoded", f.TokenForm(code).Encode(), http.Header{"Authorization": {h}})
			if (resp.StatusCode != 401 && resp.StatusCode != 400) || (resp.JSON["error"] != respond.CodeInvalidClient && resp.JSON["error"] != respond.CodeInvalidRequest) {
				t.Errorf("T17 %.20q: %d %s", h, resp.StatusCode, resp.Body)
			}
			checkOAuthShape(t, "T17", resp)
		}
		wantUnconsumed(t, g, "T17", code)
	})

	t.Run("T18 resource mismatch", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Set("resource", "https://other.example")
		g.refuse(t, "T18", form, 400, respond.CodeInvalidTarget)
		wantUnconsumed(t, g, "T18", code)
	})

	t.Run("T19 broader scope", func(t *testing.T) {
		f, code := freshCode(t, g, c1)
		form := f.TokenForm(code)
		form.Set("scope", "openid admin:everything")
		g.refuse(t, "T19", form, 400, respond.CodeInvalidScope)
		wantUnconsumed(t, g, "T19", code)
	})

	t.Run("T20 1 MiB body", func(t *testing.T) {
		resp := g.do(t, "POST", tokenPath, "application/x-www-form-urlencoded", "code="+strings.Repeat("a", 1<<20), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("T20: got %d, want 413 or 400", resp.StatusCode)
		}
		checkOAuthShape(t, "T20", resp)
	})
}

func TestMatrixTokenExpiredCode(t *testing.T) {
	g := newTestGateway(t, func(a *App) { a.CodeTTL = caddy.Duration(time.Second) })
	c := g.register(t)
	f, code := freshCode(t, g, c)
	time.Sleep(2100 * time.Millisecond)
	wantOAuthError(t, "T7", g.form(t, tokenPath, f.TokenForm(code)), 400, respond.CodeInvalidGrant)
	// An expired code is not a replay: nothing is revoked.
	if n := len(g.WorkOS.RevokedSessions()); n != 0 {
		t.Errorf("T7: an expired code revoked %d sessions", n)
	}
}
