package tests

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/drio-gateway/gateway/internal/testkit"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// workosFaults are the ways WorkOS can misbehave that are not a verdict on the grant: the
// gateway's own misconfiguration (401, 403: a rotated or mistyped API key), load shedding
// (429), WorkOS failing (500), a connection reset mid-answer, no answer within the timeout,
// and an answer that is not JSON. None of them may end a user's session.
var workosFaults = []struct {
	name  string
	fault workosmock.Fault
}{
	{"401", workosmock.Fault{Mode: workosmock.FaultStatus, Status: http.StatusUnauthorized}},
	{"403", workosmock.Fault{Mode: workosmock.FaultStatus, Status: http.StatusForbidden}},
	{"429", workosmock.Fault{Mode: workosmock.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "1"}},
	{"500", workosmock.Fault{Mode: workosmock.FaultStatus, Status: http.StatusInternalServerError}},
	{"reset", workosmock.Fault{Mode: workosmock.FaultTruncate}},
	{"hang", workosmock.Fault{Mode: workosmock.FaultHang}},
	{"garbage", workosmock.Fault{Mode: workosmock.FaultGarbage}},
}

// TestWorkOSFaultsOnRefresh drives each fault through a real Caddy at the refresh grant and
// checks what the client gets (503 temporarily_unavailable with Retry-After), that the
// session survives (the access token still works), and that the very same refresh token
// works once WorkOS recovers. WorkOS's own invalid_grant is the one final answer: the
// session ends.
func TestWorkOSFaultsOnRefresh(t *testing.T) {
	s := startStack(t, stackOptions{})
	c := s.register(t, "fault client")
	for _, tc := range workosFaults {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.kit.Login(t, c, "ada@example.com")
			f := tc.fault
			f.Count = 1
			s.WorkOS.SetFault(workosmock.EndpointAuthenticateRefresh, f)
			defer s.WorkOS.ClearFaults()
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {c.ClientID}}
			resp, body := s.postForm(t, "/api/v1/auth/token", form)
			if resp.StatusCode != http.StatusServiceUnavailable || str(body, "error") != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("refresh while WorkOS answers %s: %d %v (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
					tc.name, resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
			if resp, body := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("the session did not survive WorkOS answering %s: /api/v1/me %d %v", tc.name, resp.StatusCode, body)
			}
			s.WorkOS.ClearFaults()
			resp, body = s.postForm(t, "/api/v1/auth/token", form)
			if resp.StatusCode != http.StatusOK || str(body, "access_token") == "" {
				t.Fatalf("the same refresh token after WorkOS recovered from %s: %d %v, want 200", tc.name, resp.StatusCode, body)
			}
			s.noteSecret(str(body, "access_token"))
			s.noteSecret(str(body, "refresh_token"))
		})
	}
	t.Run("invalid_grant", func(t *testing.T) {
		tok := s.kit.Login(t, c, "ada@example.com")
		s.WorkOS.ExpireSession(testkit.JWTClaim(t, tok.AccessToken, "sid"))
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {c.ClientID}}
		resp, body := s.postForm(t, "/api/v1/auth/token", form)
		if resp.StatusCode != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
			t.Fatalf("refresh of a session WorkOS ended: %d %v, want 400 invalid_grant", resp.StatusCode, body)
		}
		if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the access token of a session WorkOS ended still works: %d", resp.StatusCode)
		}
	})
}

// TestWorkOSFaultsOnCodeExchange drives each fault through the callback's code exchange: the
// client is sent back with error=temporarily_unavailable (never a token, never a 5xx page),
// and a new sign-in works once WorkOS recovers.
func TestWorkOSFaultsOnCodeExchange(t *testing.T) {
	s := startStack(t, stackOptions{})
	c := s.register(t, "fault client")
	for _, tc := range workosFaults {
		t.Run(tc.name, func(t *testing.T) {
			flow := s.kit.StartFlow(t, c, "ada@example.com")
			f := tc.fault
			f.Count = 1
			s.WorkOS.SetFault(workosmock.EndpointAuthenticateCode, f)
			defer s.WorkOS.ClearFaults()
			resp := flow.Callback(t)
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), c.RedirectURI) ||
				loc.Query().Get("error") != "temporarily_unavailable" || loc.Query().Get("code") != "" {
				t.Fatalf("callback while WorkOS answers %s: %d %q, want a redirect to the client with error=temporarily_unavailable",
					tc.name, resp.StatusCode, resp.Header.Get("Location"))
			}
			s.WorkOS.ClearFaults()
			if tok := s.kit.Login(t, c, "ada@example.com"); tok.AccessToken == "" {
				t.Fatalf("no sign-in after WorkOS recovered from %s", tc.name)
			}
		})
	}
}
