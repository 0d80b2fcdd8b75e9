package caddymodule

import (
	"net/http"
	"slices"
	"testing"
)

func TestSanitizeRequestHeadersIdentity(t *testing.T) {
	removed := []string{
		// P1: the gateway's own headers and common identity headers.
		HeaderUserID, HeaderOrgID, HeaderSessionID, HeaderUserEmail, HeaderUserRole, HeaderPermissions,
		HeaderRequestID, "X-Drio-Anything-New", "X-Auth-User", "X-User-Id", "X-Forwarded-Email",
		"X-Forwarded-User", "X-Forwarded-Groups", "X-Remote-User", "Remote-User", "X-Auth-Request-Email",
		"X-Authenticated-User", "X-Org-Id", "X-Session-Id", "X-Email", "X-User",
		// P2: underscore and odd-case variants, as raw (non-canonical) keys.
		"x_drio_user_id", "X_Drio_User_Id", "x-DRIO-user-ID", "X-AUTH-USER", "x-AUTH-user", "X_Auth_User",
		"x_forwarded_email", "X_Forwarded_Email", "X_USER_ID", "remote_user", "X_Request_Id", "x-drio-",
	}
	kept := []string{"Accept", "User-Agent", "X-Drio", "X-Drioo-User-Id", "X-Forwarded-For", "X-User-Agent", "X-Custom-Thing", "Content-Type"}
	h := http.Header{}
	for _, name := range removed {
		h[name] = []string{"client-value"}
	}
	for _, name := range kept {
		h[name] = []string{"keep-" + name}
	}
	sanitizeRequestHeaders(h, nil, false)
	for _, name := range removed {
		id := "P1"
		if name != http.CanonicalHeaderKey(name) {
			id = "P2"
		}
		t.Run(id+"/removed/"+name, func(t *testing.T) {
			if v, ok := h[name]; ok {
				t.Errorf("sanitizeRequestHeaders kept %q = %q, want it removed", name, v)
			}
		})
	}
	for _, name := range kept {
		t.Run("P1/kept/"+name, func(t *testing.T) {
			if got := h[name]; len(got) != 1 || got[0] != "keep-"+name {
				t.Errorf("sanitizeRequestHeaders left %q = %q, want %q", name, got, "keep-"+name)
			}
		})
	}
	if len(h) != len(kept) {
		t.Errorf("sanitizeRequestHeaders left %d headers (%v), want %d", len(h), h, len(kept))
	}
}

func TestSanitizeRequestHeadersExtra(t *testing.T) {
	extra := map[string]bool{"x-tenant": true}
	h := http.Header{"X-Tenant": {"evil"}, "X_tenant": {"evil"}, "X-Tenant-Name": {"ok"}}
	sanitizeRequestHeaders(h, extra, false)
	for name, want := range map[string]bool{"X-Tenant": false, "X_tenant": false, "X-Tenant-Name": true} {
		if _, got := h[name]; got != want {
			t.Errorf("sanitizeRequestHeaders(extra %v) kept %q = %v, want %v", extra, name, got, want)
		}
	}
}

func TestSanitizeRequestHeadersConnection(t *testing.T) {
	for _, tc := range []struct {
		name       string
		connection []string
		keepAuthz  bool
		want       []string // remaining Connection values; nil means no header
	}{
		{"P3/identity-authorization-keep-alive", []string{"X-Drio-User-Id, Authorization, keep-alive"}, false, []string{"keep-alive"}},
		{"P3/keep-authorization-still-dropped-from-connection", []string{"X-Drio-User-Id, Authorization, keep-alive"}, true, []string{"keep-alive"}},
		{"P3/underscore-and-case", []string{"x_drio_user_id,X-AUTH-USER , authorization"}, false, nil},
		{"P3/two-lines", []string{"X-User-Id", "Upgrade, X-Request-Id"}, false, []string{"Upgrade"}},
		{"P3/empty-tokens", []string{" , ,keep-alive,, "}, false, []string{"keep-alive"}},
		{"P4/hop-by-hop-kept-for-proxy", []string{"keep-alive, Upgrade, TE"}, false, []string{"keep-alive, Upgrade, TE"}},
		{"P3/tab-around-token", []string{"\tX-Forwarded-Email\t, close"}, false, []string{"close"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Connection": tc.connection, "Authorization": {"Bearer t"}, "X-Drio-User-Id": {"evil"}}
			sanitizeRequestHeaders(h, nil, tc.keepAuthz)
			if got := h.Values("Connection"); !slices.Equal(got, tc.want) {
				t.Errorf("sanitizeRequestHeaders(Connection: %q) Connection = %q, want %q", tc.connection, got, tc.want)
			}
			if _, ok := h["X-Drio-User-Id"]; ok {
				t.Errorf("sanitizeRequestHeaders(Connection: %q) kept X-Drio-User-Id", tc.connection)
			}
			if got, want := h.Get("Authorization") != "", tc.keepAuthz; got != want {
				t.Errorf("sanitizeRequestHeaders(keepAuthorization=%v) Authorization present = %v, want %v", tc.keepAuthz, got, want)
			}
		})
	}
}

func TestSanitizeRequestHeadersAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep bool
	}{{"P6/strip", false}, {"P7/forward", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("Authorization", "Bearer abc")
			sanitizeRequestHeaders(h, nil, tc.keep)
			want := ""
			if tc.keep {
				want = "Bearer abc"
			}
			if got := h.Get("Authorization"); got != want {
				t.Errorf("sanitizeRequestHeaders(keepAuthorization=%v) Authorization = %q, want %q", tc.keep, got, want)
			}
		})
	}
}

func TestSanitizeRequestHeadersCookies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cookie []string
		want   []string
	}{
		{"P8/binding-and-consent", []string{"a=1; drio_bind=xyz; b=2; __Host-drio_consent=123.c.m; c=3"}, []string{"a=1; b=2; c=3"}},
		{"P8/host-binding", []string{"__Host-drio_bind=x"}, nil},
		{"P8/plain-consent", []string{"drio_consent=x;session=s"}, []string{"session=s"}},
		{"P8/two-lines-order-kept", []string{"z=1; drio_bind=x", "y=2; a=3"}, []string{"z=1; y=2; a=3"}},
		{"P8/no-value", []string{"drio_bind; keep"}, []string{"keep"}},
		{"P8/spaces-around-name", []string{" drio_bind =x; k=v"}, []string{"k=v"}},
		{"P8/lookalikes-kept", []string{"drio_binding=1; xdrio_bind=2; __Secure-drio_bind=3; DRIO_BIND=4"}, []string{"drio_binding=1; xdrio_bind=2; __Secure-drio_bind=3; DRIO_BIND=4"}},
		{"P8/only-unrelated", []string{"a=1"}, []string{"a=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": tc.cookie}
			sanitizeRequestHeaders(h, nil, false)
			if got := h.Values("Cookie"); !slices.Equal(got, tc.want) {
				t.Errorf("sanitizeRequestHeaders(Cookie: %q) Cookie = %q, want %q", tc.cookie, got, tc.want)
			}
		})
	}
}
