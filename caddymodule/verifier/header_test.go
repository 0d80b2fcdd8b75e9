package verifier

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
	one := func(v string) http.Header { return http.Header{"Authorization": {v}} }
	cases := []struct {
		name        string
		h           http.Header
		want        string
		wantPresent bool
		wantErr     error
	}{
		{"B1/no-header", http.Header{}, "", false, nil},
		{"B1/nil-header", nil, "", false, nil},
		{"B1/other-headers-only", http.Header{"Cookie": {"a=b"}, "X-Access-Token": {tok}}, "", false, nil},
		{"B2/basic", one("Basic dTpw"), "", true, ErrUnsupportedScheme},
		{"B2/token", one("Token abc"), "", true, ErrUnsupportedScheme},
		{"B2/dpop", one("DPoP " + tok), "", true, ErrUnsupportedScheme},
		{"B2/scheme-only", one("Negotiate"), "", true, ErrUnsupportedScheme},
		{"B2/bearer-prefix-word", one("Bearerx " + tok), "", true, ErrUnsupportedScheme},
		{"B3/Bearer", one("Bearer " + tok), tok, true, nil},
		{"B3/bearer-lowercase", one("bearer " + tok), tok, true, nil},
		{"B3/BEARER-uppercase", one("BEARER " + tok), tok, true, nil},
		{"B3/bEaReR-mixed", one("bEaReR " + tok), tok, true, nil},
		{"B3/token68-full-alphabet", one("Bearer aZ09-._~+/=="), "aZ09-._~+/==", true, nil},
		{"B4/bearer-empty", one("Bearer"), "", true, ErrMalformed},
		{"B4/bearer-space-empty", one("Bearer "), "", true, ErrMalformed},
		{"B4/extra-spaces", one("Bearer  " + tok + "  "), "", true, ErrMalformed},
		{"B4/two-spaces-before", one("Bearer  " + tok), "", true, ErrMalformed},
		{"B4/trailing-space", one("Bearer " + tok + " "), "", true, ErrMalformed},
		{"B4/leading-space", one(" Bearer " + tok), "", true, ErrMalformed},
		{"B4/two-values", one("Bearer a b"), "", true, ErrMalformed},
		{"B4/comma-list", one("Bearer a, Bearer b"), "", true, ErrMalformed},
		{"B4/nul", one("Bearer " + tok + "\x00"), "", true, ErrMalformed},
		{"B4/tab-separator", one("Bearer\t" + tok), "", true, ErrMalformed},
		{"B4/newline", one("Bearer " + tok + "\r\nX: y"), "", true, ErrMalformed},
		{"B4/del", one("Bearer " + tok + "\x7f"), "", true, ErrMalformed},
		{"B4/non-ascii", one("Bearer tök"), "", true, ErrMalformed},
		{"B4/non-ascii-after-scheme", one("BEARER\u00a0" + tok), "", true, ErrMalformed},
		{"B4/padding-in-middle", one("Bearer ab=cd"), "", true, ErrMalformed},
		{"B4/only-padding", one("Bearer =="), "", true, ErrMalformed},
		{"B4/quoted", one(`Bearer "` + tok + `"`), "", true, ErrMalformed},
		{"B4/empty-value", one(""), "", true, ErrMalformed},
		{"B4/too-long", one("Bearer " + strings.Repeat("a", MaxBearerTokenLength+1)), "", true, ErrMalformed},
		{"B4/max-length-ok", one("Bearer " + strings.Repeat("a", MaxBearerTokenLength)), strings.Repeat("a", MaxBearerTokenLength), true, nil},
		{"B5/two-headers", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, "", true, ErrMultipleHeaders},
		{"B5/bearer-and-basic", http.Header{"Authorization": {"Basic dTpw", "Bearer " + tok}}, "", true, ErrMultipleHeaders},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, present, err := BearerToken(tc.h)
			if got != tc.want || present != tc.wantPresent || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("BearerToken = (%.40q, %v, %v); want (%.40q, %v, %v)", got, present, err, tc.want, tc.wantPresent, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tok) {
				t.Fatal("error contains the token")
			}
		})
	}
	t.Run("B6/query-access-token-ignored", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/echo?access_token="+tok, nil)
		got, present, err := BearerToken(r.Header)
		if got != "" || present || err != nil {
			t.Fatalf("BearerToken = (%q, %v, %v); the query must be ignored", got, present, err)
		}
	})
	t.Run("B6/form-access-token-ignored", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/echo", strings.NewReader("access_token="+tok))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, present, _ := BearerToken(r.Header); present {
			t.Fatal("form body treated as a credential")
		}
	})
	t.Run("B5/header-and-query-still-one-header", func(t *testing.T) {
		// Detecting the query as a second method is the caller's job
		// (it has the request); BearerToken sees one header only.
		r := httptest.NewRequest(http.MethodGet, "/api/v1/echo?access_token=x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if got, present, err := BearerToken(r.Header); got != tok || !present || err != nil {
			t.Fatalf("BearerToken = (%q, %v, %v)", got, present, err)
		}
	})
}

func TestBearerTokenEndToEnd(t *testing.T) {
	e := newEnv(t, nil).ready(t)
	tok := e.valid(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		t.Run("B3/"+scheme+"-verifies", func(t *testing.T) {
			got, present, err := BearerToken(http.Header{"Authorization": {scheme + " " + tok}})
			if err != nil || !present {
				t.Fatal(err)
			}
			c, err := e.v.Verify(bg, got)
			wantValid(t, c, err)
		})
	}
}
