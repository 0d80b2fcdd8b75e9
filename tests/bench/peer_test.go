package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakePeer answers /api/v1/me like the resource API behind a proxy: 200 with user.id = sub when
// the proxy lets the request through with an identity, else 403.
func fakePeer(t *testing.T, allow func(auth string) bool, sub func(r *http.Request) string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allow(r.Header.Get("Authorization")) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"user": map[string]any{"id": sub(r)}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckPeer(t *testing.T) {
	const good = "aaa.bbb.ccc"
	wantSub := func(*http.Request) string { return "user_1" }
	for _, tc := range []struct {
		name  string
		allow func(string) bool
		sub   func(*http.Request) string
		ok    bool
	}{
		{"verifies and passes the identity", func(a string) bool { return a == "Bearer "+good }, wantSub, true},
		{"lets anything through", func(string) bool { return true }, wantSub, false},
		{"lets a forged signature through", func(a string) bool { return strings.HasPrefix(a, "Bearer aaa.bbb.") }, wantSub, false},
		{"passes the client's identity header on", func(a string) bool { return a == "Bearer "+good },
			func(r *http.Request) string { return r.Header.Get("X-Drio-User-Id") }, false},
		{"refuses the good token", func(string) bool { return false }, wantSub, false},
	} {
		err := checkPeer(fakePeer(t, tc.allow, tc.sub), good, "user_1")
		if (err == nil) != tc.ok {
			t.Errorf("%s: checkPeer = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestForgeSignatureChangesOnlyTheSignature(t *testing.T) {
	for _, tok := range []string{"h.p.Asig", "h.p.Bsig", "h.p.xyz"} {
		f := forgeSignature(tok)
		if f == tok || !strings.HasPrefix(f, "h.p.") || len(f) != len(tok) {
			t.Errorf("forgeSignature(%q) = %q", tok, f)
		}
	}
}
