package workosmock_test

import (
	"net/url"
	"testing"

	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

// TestAuthorizeConnectionSelectors: like WorkOS, the stand-in takes exactly one connection
// selector (two are ambiguous_connection_selector at the redirect URI), accepts an
// organization or connection alone, and records what reached it.
func TestAuthorizeConnectionSelectors(t *testing.T) {
	f := newFixture(t, nil)
	if f.mock.LastAuthorize() != nil {
		t.Fatal("LastAuthorize before any request is not nil")
	}
	for _, tc := range []struct {
		name      string
		opts      usermanagement.GetAuthorizationURLOpts
		wantError string
	}{
		{"organization", usermanagement.GetAuthorizationURLOpts{OrganizationID: "org_1", LoginHint: "x@example.com", DomainHint: "example.com"}, ""},
		{"connection", usermanagement.GetAuthorizationURLOpts{ConnectionID: "conn_1"}, ""},
		{"provider and organization", usermanagement.GetAuthorizationURLOpts{Provider: "authkit", OrganizationID: "org_1"}, "ambiguous_connection_selector"},
		{"organization and connection", usermanagement.GetAuthorizationURLOpts{OrganizationID: "org_1", ConnectionID: "conn_1"}, "ambiguous_connection_selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.ClientID, opts.RedirectURI, opts.State = testClientID, testRedirect, "st"
			u, err := f.sdk.GetAuthorizationURL(opts)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := get(t, f, u.String())
			loc, _ := url.Parse(res.Header.Get("Location"))
			switch {
			case tc.wantError != "" && (res.StatusCode != 302 || loc.Query().Get("error") != tc.wantError):
				t.Errorf("%d %q, want a redirect with error=%s", res.StatusCode, res.Header.Get("Location"), tc.wantError)
			case tc.wantError == "" && (res.StatusCode != 200 && loc.Query().Get("code") == ""):
				t.Errorf("%d %q, want the sign-in page or a code", res.StatusCode, res.Header.Get("Location"))
			}
			got := f.mock.LastAuthorize()
			for k, v := range u.Query() {
				if got.Get(k) != v[0] {
					t.Errorf("LastAuthorize %s = %q, want %q", k, got.Get(k), v[0])
				}
			}
		})
	}
}
