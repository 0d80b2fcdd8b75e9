package caddymodule

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

func FuzzSanitizeHeaders(f *testing.F) {
	for _, s := range []string{
		"X-Drio-User-Id\nx_drio_user_id\nX-AUTH-USER\nX_Forwarded_Email\nAccept",
		"X-Auth-User\nX-User-Id\nX-Forwarded-Email\nx-AUTH-user\nX_Auth_User\nx_forwarded_email",
		"Authorization\nkeep-alive\nX-Drio-User-Id",
		"Connection\nCookie\nX-Request-Id\nx_request_id",
		"Remote-User\nremote_user\nX-Remote-User\nX-Authenticated-User\nX-Org-Id\nX-Session-Id",
		"X-Drio-\nx-drio-org-id \n\tX-Drio-Session-Id\nX-Drio-User-Email,X-Drio-User-Role",
		"", "\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keepAuthz := len(data)%2 == 1
		h := http.Header{}
		var names []string
		for i, n := range strings.Split(string(data), "\n") {
			if n == "" {
				continue
			}
			names = append(names, n)
			h[n] = append(h[n], "client-"+strconv.Itoa(i)) // as sent, any spelling
			h.Add(n, "client")                             // as net/http canonicalizes it
		}
		h["Connection"] = append(h["Connection"], strings.Join(names, ", "), "keep-alive")
		h.Add("Cookie", "a=1; drio_bind=x; __Host-drio_consent=y; b=2")
		h.Set("Authorization", "Bearer client")
		sanitizeRequestHeaders(h, nil, keepAuthz)

		for k := range h {
			n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
			if strings.HasPrefix(n, "x-drio-") || commonIdentityHeaders[n] || n == "x-request-id" {
				t.Fatalf("sanitizeRequestHeaders(%q) kept identity header %q", names, k)
			}
		}
		for _, v := range h["Connection"] {
			for _, tok := range strings.Split(v, ",") {
				tok = textproto.TrimString(tok)
				n := strings.ReplaceAll(strings.ToLower(tok), "_", "-")
				if strings.HasPrefix(n, "x-drio-") || commonIdentityHeaders[n] || n == "x-request-id" || n == "authorization" {
					t.Fatalf("sanitizeRequestHeaders(%q) left Connection token %q", names, tok)
				}
			}
		}
		for _, c := range h.Values("Cookie") {
			for _, part := range strings.Split(c, ";") {
				name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
				if oauth.IsGatewayCookie(strings.TrimSpace(name)) {
					t.Fatalf("sanitizeRequestHeaders(%q) kept module cookie %q", names, part)
				}
			}
		}
		if got := h.Get("Authorization") != ""; got != keepAuthz {
			t.Fatalf("sanitizeRequestHeaders(keepAuthorization=%v) Authorization present = %v", keepAuthz, got)
		}

		// The gateway then sets its headers, and the reverse proxy drops what Connection names
		// (as caddy's reverseproxy.removeConnectionHeaders does).
		for _, g := range fuzzGatewayHeaders {
			h.Set(g, "gateway")
		}
		for _, v := range h["Connection"] {
			for _, tok := range strings.Split(v, ",") {
				if tok = textproto.TrimString(tok); tok != "" {
					h.Del(tok)
				}
			}
		}
		for _, g := range fuzzGatewayHeaders {
			if got := h.Values(g); len(got) != 1 || got[0] != "gateway" {
				t.Fatalf("after sanitizeRequestHeaders(%q) and the proxy's Connection handling, %s = %q, want [gateway]", names, g, got)
			}
		}
		if keepAuthz && h.Get("Authorization") != "Bearer client" {
			t.Fatalf("after sanitizeRequestHeaders(%q, keepAuthorization) and the proxy's Connection handling, Authorization was removed", names)
		}
	})
}

// fuzzGatewayHeaders are set by the gateway after sanitizing and must reach the upstream.
var fuzzGatewayHeaders = []string{HeaderUserID, HeaderOrgID, HeaderSessionID, HeaderUserEmail, HeaderUserRole, HeaderPermissions, HeaderRequestID}
