package oauth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

func registrationHandler(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{
		Issuer: "https://gw.example", APIBase: "/api/v1", PendingTTL: 10 * time.Minute,
		Scopes: []string{"openid", "profile", "email"},
	}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parseReg drives parseRegistration with a POST /register of body and content type ctype.
func parseReg(t *testing.T, ctype, body string) (*grants.Client, *respond.Error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/register", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return registrationHandler(t).parseRegistration(httptest.NewRecorder(), r)
}

func regBody(uris ...string) string {
	b, _ := json.Marshal(map[string]any{"redirect_uris": uris})
	return string(b)
}

func TestParseRegistrationAccepted(t *testing.T) {
	rec, oerr := parseReg(t, "application/json", `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`)
	if oerr != nil {
		t.Fatalf("R1: parseRegistration = %v, want accepted", oerr)
	}
	if !slices.Equal(rec.RedirectURIs, []string{"https://app.example/cb"}) || !slices.Equal(rec.GrantTypes, []string{"authorization_code"}) ||
		!slices.Equal(rec.ResponseTypes, []string{"code"}) || rec.ID != "" {
		t.Errorf("R1: parseRegistration = %+v, want the URI, default grant and response types, no id", rec)
	}

	for _, uri := range []string{"http://127.0.0.1:3000/cb", "http://[::1]/cb", "http://localhost:8080/cb", "com.example.app:/cb"} {
		t.Run("R4/"+uri, func(t *testing.T) {
			if _, oerr := parseReg(t, "application/json", regBody(uri)); oerr != nil {
				t.Errorf("parseRegistration(%q) = %v, want accepted", uri, oerr)
			}
		})
	}

	t.Run("R1/full-metadata", func(t *testing.T) {
		rec, oerr := parseReg(t, "application/json; charset=utf-8", `{"redirect_uris":["https://app.example/cb","http://127.0.0.1/cb"],
			"grant_types":["refresh_token","authorization_code","refresh_token"],"response_types":["code"],
			"client_name":"Claude <b>","scope":" openid  email offline_access ","client_uri":"https://app.example",
			"logo_uri":"https://app.example/logo.png","policy_uri":"http://localhost/p","tos_uri":"https://app.example/tos"}`)
		if oerr != nil {
			t.Fatalf("parseRegistration = %v, want accepted", oerr)
		}
		want := grants.Client{
			Name: "Claude <b>", RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			Scope: "openid email offline_access", ClientURI: "https://app.example", LogoURI: "https://app.example/logo.png",
			PolicyURI: "http://localhost/p", TosURI: "https://app.example/tos",
		}
		got, _ := json.Marshal(rec)
		wantJSON, _ := json.Marshal(want)
		if string(got) != string(wantJSON) {
			t.Errorf("parseRegistration = %s, want %s", got, wantJSON)
		}
	})

	for _, m := range []string{"client_secret_post", "client_secret_basic", "none"} {
		t.Run("R13/"+m+"-as-public-client", func(t *testing.T) {
			rec, oerr := parseReg(t, "application/json", `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"`+m+`"}`)
			if oerr != nil {
				t.Fatalf("parseRegistration(token_endpoint_auth_method %q) = %v, want accepted", m, oerr)
			}
			got, _ := json.Marshal(rec)
			if strings.Contains(string(got), "secret") {
				t.Errorf("parseRegistration(token_endpoint_auth_method %q) = %s, want no secret stored", m, got)
			}
		})
	}

	t.Run("R14/client-chosen-id-and-secret-ignored", func(t *testing.T) {
		rec, oerr := parseReg(t, "application/json", `{"client_id":"admin","client_secret":"hunter2","client_id_issued_at":1,"client_secret_expires_at":0,"redirect_uris":["https://app.example/cb"]}`)
		if oerr != nil {
			t.Fatalf("parseRegistration = %v, want accepted", oerr)
		}
		got, _ := json.Marshal(rec)
		if rec.ID != "" || rec.IssuedAt != 0 || strings.Contains(string(got), "admin") || strings.Contains(string(got), "hunter2") {
			t.Errorf("parseRegistration = %s, want client_id, client_secret and client_id_issued_at ignored", got)
		}
	})

	t.Run("R15/unknown-field-not-stored", func(t *testing.T) {
		rec, oerr := parseReg(t, "application/json", `{"x_evil":"<script>","jwks_uri":"http://169.254.169.254/latest/meta-data","software_statement":"e.y.z","redirect_uris":["https://app.example/cb"]}`)
		if oerr != nil {
			t.Fatalf("parseRegistration = %v, want accepted", oerr)
		}
		got, _ := json.Marshal(rec)
		for _, s := range []string{"x_evil", "<script>", "script", "169.254", "e.y.z"} {
			if strings.Contains(string(got), s) {
				t.Errorf("parseRegistration = %s, contains %q, want unknown fields dropped", got, s)
			}
		}
	})
}

func TestParseRegistrationRefused(t *testing.T) {
	const cb = `"redirect_uris":["https://app.example/cb"]`
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("https://app.example/cb%d", i)
	}
	longURI := "https://app.example/" + strings.Repeat("a", maxRedirectURILength+1-len("https://app.example/"))
	// 10,000 levels opened (closing them too would pass the 16 KiB body limit first).
	deep := `{` + cb + `,"x":` + strings.Repeat("[", 10000)
	type row struct {
		name, ctype, body string
		status            int
		code              string
	}
	rows := []row{
		{"R2/missing", "application/json", `{"client_name":"x"}`, 400, respond.CodeInvalidRedirectURI},
		{"R2/empty", "application/json", `{"redirect_uris":[]}`, 400, respond.CodeInvalidRedirectURI},
		{"R2/null", "application/json", `{"redirect_uris":null}`, 400, respond.CodeInvalidRedirectURI},
		{"R2/string", "application/json", `{"redirect_uris":"https://app.example/cb"}`, 400, respond.CodeInvalidRedirectURI},
		{"R2/object", "application/json", `{"redirect_uris":{"a":"https://app.example/cb"}}`, 400, respond.CodeInvalidRedirectURI},
		{"R2/array-of-numbers", "application/json", `{"redirect_uris":[1]}`, 400, respond.CodeInvalidRedirectURI},
		{"R2/listed-twice", "application/json", regBody("https://app.example/cb", "https://app.example/cb"), 400, respond.CodeInvalidRedirectURI},
		{"R10/eleven-uris", "application/json", regBody(eleven...), 400, respond.CodeInvalidClientMetadata},
		{"R10/2049-byte-uri", "application/json", regBody(longURI), 400, respond.CodeInvalidClientMetadata},
		{"R11/password", "application/json", `{` + cb + `,"grant_types":["password"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/implicit", "application/json", `{` + cb + `,"grant_types":["implicit"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/client-credentials", "application/json", `{` + cb + `,"grant_types":["client_credentials"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/device-code", "application/json", `{` + cb + `,"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/foo", "application/json", `{` + cb + `,"grant_types":["foo"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/code-plus-password", "application/json", `{` + cb + `,"grant_types":["authorization_code","password"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/empty-list", "application/json", `{` + cb + `,"grant_types":[]}`, 400, respond.CodeInvalidClientMetadata},
		{"R11/not-a-list", "application/json", `{` + cb + `,"grant_types":"authorization_code"}`, 400, respond.CodeInvalidClientMetadata},
		{"R12/token", "application/json", `{` + cb + `,"response_types":["token"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R12/code-and-token", "application/json", `{` + cb + `,"response_types":["code","token"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R12/refresh-only", "application/json", `{` + cb + `,"response_types":["code"],"grant_types":["refresh_token"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R13/private-key-jwt", "application/json", `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt"}`, 400, respond.CodeInvalidClientMetadata},
		{"R13/client-secret-jwt", "application/json", `{` + cb + `,"token_endpoint_auth_method":"client_secret_jwt"}`, 400, respond.CodeInvalidClientMetadata},
		{"R13/tls-client-auth", "application/json", `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth"}`, 400, respond.CodeInvalidClientMetadata},
		{"R13/not-a-string", "application/json", `{` + cb + `,"token_endpoint_auth_method":1}`, 400, respond.CodeInvalidClientMetadata},
		{"R17/logo-javascript", "application/json", `{` + cb + `,"logo_uri":"javascript:x"}`, 400, respond.CodeInvalidClientMetadata},
		{"R17/client-uri-data", "application/json", `{` + cb + `,"client_uri":"data:text/html,<script>alert(1)</script>"}`, 400, respond.CodeInvalidClientMetadata},
		{"R17/policy-http", "application/json", `{` + cb + `,"policy_uri":"http://app.example/p"}`, 400, respond.CodeInvalidClientMetadata},
		{"R17/tos-userinfo", "application/json", `{` + cb + `,"tos_uri":"https://app.example@evil.test/"}`, 400, respond.CodeInvalidClientMetadata},
		{"R17/logo-relative", "application/json", `{` + cb + `,"logo_uri":"/logo.png"}`, 400, respond.CodeInvalidClientMetadata},
		{"R18/name-control-char", "application/json", `{` + cb + `,"client_name":"a\u0007b"}`, 400, respond.CodeInvalidClientMetadata},
		{"R18/name-too-long", "application/json", `{` + cb + `,"client_name":"` + strings.Repeat("n", maxClientNameLength+1) + `"}`, 400, respond.CodeInvalidClientMetadata},
		{"R18/scope-unknown", "application/json", `{` + cb + `,"scope":"openid admin"}`, 400, respond.CodeInvalidClientMetadata},
		{"R19/body-over-16KiB", "application/json", `{` + cb + `,"client_name":"` + strings.Repeat("n", maxRegisterBody) + `"}`, 413, respond.CodeInvalidRequest},
		{"R20/malformed", "application/json", `{"redirect_uris":["https://app.example/cb"]`, 400, respond.CodeInvalidClientMetadata},
		{"R20/not-json", "application/json", `redirect_uris=https://app.example/cb`, 400, respond.CodeInvalidClientMetadata},
		{"R20/top-level-array", "application/json", `[{` + cb + `}]`, 400, respond.CodeInvalidClientMetadata},
		{"R20/nesting-10000", "application/json", deep, 400, respond.CodeInvalidClientMetadata},
		{"R20/duplicate-redirect-uris-key", "application/json", `{"redirect_uris":["https://app.example/cb"],"redirect_uris":["https://evil.test/cb"]}`, 400, respond.CodeInvalidClientMetadata},
		{"R20/empty", "application/json", ``, 400, respond.CodeInvalidClientMetadata},
		{"R21/form", "application/x-www-form-urlencoded", `redirect_uris=https://app.example/cb`, 400, respond.CodeInvalidClientMetadata},
		{"R21/text-plain", "text/plain", `{` + cb + `}`, 400, respond.CodeInvalidClientMetadata},
		{"R21/no-content-type", "", `{` + cb + `}`, 400, respond.CodeInvalidClientMetadata},
		{"R21/json-suffix", "application/jsonx", `{` + cb + `}`, 400, respond.CodeInvalidClientMetadata},
	}
	for _, v := range refusedRedirectURIs {
		if v.id == "R10" || v.id == "R9" && v.uri == "" {
			continue
		}
		rows = append(rows, row{v.id + "/" + v.name, "application/json", regBody(v.uri), 400, respond.CodeInvalidRedirectURI})
	}
	rows = append(rows, row{"R9/empty", "application/json", regBody(""), 400, respond.CodeInvalidRedirectURI})
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			rec, oerr := parseReg(t, tc.ctype, tc.body)
			if oerr == nil {
				t.Fatalf("parseRegistration(%q, %.80q) = %+v, want %d %s", tc.ctype, tc.body, rec, tc.status, tc.code)
			}
			if oerr.Status != tc.status || oerr.Code != tc.code {
				t.Errorf("parseRegistration(%q, %.80q) = %d %s (%s), want %d %s", tc.ctype, tc.body, oerr.Status, oerr.Code, oerr.Description, tc.status, tc.code)
			}
		})
	}
}

func TestParseRegistrationLyingContentLength(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int64
		body   string
	}{
		{"R19/content-length-999999999-short-body", 999999999, `{"redirect_uris":["https://app.example/cb"]}`},
		{"R19/content-length-small-long-body", 10, `{"client_name":"` + strings.Repeat("n", 1<<20) + `","redirect_uris":["https://app.example/cb"]}`},
		{"R19/unknown-length-long-body", -1, `{"client_name":"` + strings.Repeat("n", 1<<20) + `","redirect_uris":["https://app.example/cb"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/register", nil)
			r.Body = io.NopCloser(strings.NewReader(tc.body))
			r.ContentLength = tc.length
			r.Header.Set("Content-Type", "application/json")
			_, oerr := registrationHandler(t).parseRegistration(httptest.NewRecorder(), r)
			if oerr == nil || oerr.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("parseRegistration(Content-Length %d, %d-byte body) = %v, want 413", tc.length, len(tc.body), oerr)
			}
		})
	}
}
