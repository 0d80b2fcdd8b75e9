package tests

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestRestartAfterKill completes a flow, SIGKILLs the gateway, starts it again on the same
// data directory, and checks that the client, the session, the refresh token and the
// redeemed-code record all survived: a killed process loses nothing it acknowledged.
func TestRestartAfterKill(t *testing.T) {
	s := startStack(t, stackOptions{})
	c := s.register(t, "survivor")
	flow := s.kit.StartFlow(t, c, "grace@example.com")
	code := flow.Code(t)
	tok, err := c.Config.Exchange(ctxT(t), code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	s.noteSecret(tok.AccessToken)
	s.noteSecret(tok.RefreshToken)

	s.kill()
	if resp, err := http.Get(s.GW + "/.well-known/oauth-authorization-server"); err == nil {
		resp.Body.Close()
		t.Fatal("the gateway still answers after SIGKILL")
	}
	s.startCaddy() // same data directory; must open without a lock error

	// The session: the access token issued before the crash still works.
	if resp, body := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/me after restart: %d %v", resp.StatusCode, body)
	}
	// The redeemed-code record: a replay is still refused.
	resp, body := s.postForm(t, "/api/v1/auth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {flow.Verifier},
		"client_id": {c.ClientID}, "redirect_uri": {c.RedirectURI},
	})
	if resp.StatusCode != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
		t.Fatalf("replayed code after restart: %d %v, want 400 invalid_grant", resp.StatusCode, body)
	}
	// That replay revoked the grant: the access token is refused at once.
	if resp, _ := s.call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token still accepted after its code was replayed: %d", resp.StatusCode)
	}

	// The client: a new flow with the same client_id works, and so does its refresh.
	flow2 := s.kit.StartFlow(t, c, "grace@example.com")
	tok2, err := c.Config.Exchange(ctxT(t), flow2.Code(t), oauth2.VerifierOption(flow2.Verifier))
	if err != nil {
		t.Fatalf("new flow for the registered client after restart: %v", err)
	}
	s.noteSecret(tok2.AccessToken)
	s.noteSecret(tok2.RefreshToken)

	s.kill()
	s.startCaddy()
	expired := *tok2
	expired.Expiry = time.Now().Add(-time.Minute)
	tok3, err := c.Config.TokenSource(ctxT(t), &expired).Token()
	if err != nil {
		t.Fatalf("refresh after a second restart: %v", err)
	}
	s.noteSecret(tok3.AccessToken)
	s.noteSecret(tok3.RefreshToken)
	if resp, body := s.call(t, http.MethodGet, "/api/v1/apps", tok3.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/apps with the refreshed token: %d %v", resp.StatusCode, body)
	}
	s.checkLogs()
}
