package caddymodule

// client_documents_flow_test.go runs metadata-document clients through the in-process gateway,
// where they meet the other client features: remembered consent, the token, revocation and
// logout endpoints, grant-type enforcement, and the store (which must never hold them).

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/internal/testkit"
	"go.uber.org/zap"
)

// newDocClient serves a client metadata document at a loopback https URL and returns a
// gateway that trusts that server (through the test-only options), with the document client
// as the flow driver sees it. grantTypes is the document's grant_types JSON array.
func newDocClient(t *testing.T, grantTypes string, configure func(*App)) (*testGateway, *testkit.Registration) {
	t.Helper()
	var id string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Doc App","redirect_uris":[%q],"grant_types":%s}`, id, dacC1URI, grantTypes)
	}))
	t.Cleanup(srv.Close)
	id = srv.URL + "/oauth/client.json"
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newTestGateway(t, func(a *App) {
		a.ClientMetadataDocuments = &ClientDocumentsConfig{TrustCAFile: caFile, AllowPrivateAddresses: true}
		if configure != nil {
			configure(a)
		}
	})
	return g, &testkit.Registration{ClientID: id, RedirectURI: dacC1URI, Config: g.kit.OAuth2Config(id, dacC1URI)}
}

// Approving a metadata-document client is remembered like any other approval, and does not
// make the browser forget the approvals it gave before (the client id is a URL, full of the
// characters the remembered-consent cookie uses as separators).
func TestClientDocumentConsentRemembered(t *testing.T) {
	g, doc := newDocClient(t, `["authorization_code"]`, nil)
	reg := dacClient(t, g, "Registered", dacC2URI)
	f := dacFlow(t, g, reg, g.URL+dacAuthzPath+"?"+dacQuery(g, reg).Encode(), "ada@example.com")
	b := f.Browser.HTTP
	docURL := g.URL + dacAuthzPath + "?" + dacQuery(g, doc).Encode()
	txn, csrf := dacConsent(t, "document client, first time", dacGet(t, b, docURL, nil))
	g.noteSecret(txn)
	if resp := dacPostConsent(t, g, b, url.Values{"txn": {txn}, "csrf": {csrf}, "decision": {"approve"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approving the document client: %d %s", resp.StatusCode, resp.Body)
	}
	same := http.Header{"Sec-Fetch-Site": {"same-origin"}}
	dacWorkOSRedirect(t, g, "document client, approved before", dacGet(t, b, docURL, same))
	dacWorkOSRedirect(t, g, "registered client, approved before the document client",
		dacGet(t, b, g.URL+dacAuthzPath+"?"+dacQuery(g, reg).Encode(), same))
}

// A metadata-document client's tokens work at every endpoint that authenticates a client by
// its id: its document's grant_types are enforced at refresh, it revokes its own token, and
// logout accepts a return address from its document. Nothing of it is ever stored as a
// client registration.
func TestClientDocumentTokenEndpoints(t *testing.T) {
	g, doc := newDocClient(t, `["authorization_code"]`, nil)
	tok := g.kit.Login(t, doc, "ada@example.com")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {doc.ClientID}}
	if resp := g.form(t, "/api/v1/auth/token", form); resp.StatusCode != http.StatusBadRequest || resp.JSON["error"] != "unauthorized_client" {
		t.Errorf("refresh by a document client without refresh_token in its grant_types: %d %s", resp.StatusCode, resp.Body)
	}
	resp := g.form(t, "/api/v1/auth/revoke", url.Values{"token": {tok.AccessToken}, "client_id": {doc.ClientID}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke by the document client: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := g.kit.Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token after the document client revoked it: %d, want 401", resp.StatusCode)
	}

	tok = g.kit.Login(t, doc, "ada@example.com")
	resp = g.form(t, "/api/v1/auth/logout", url.Values{"client_id": {doc.ClientID}, "token": {tok.AccessToken},
		"post_logout_redirect_uri": {dacC1URI}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "app.example") {
		t.Errorf("logout of a document client returning to its document's redirect URI: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
	if resp := g.kit.Call(t, http.MethodGet, "/api/v1/me", tok.AccessToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("access token after logout: %d, want 401", resp.StatusCode)
	}
	if n := g.count(store.KindClient); n != 0 {
		t.Errorf("%d client records stored; a document client must never be", n)
	}
}

// `consent off` is for gateways whose clients are all first-party. A metadata-document client
// is any website that publishes a document, so it still gets the consent page: otherwise a
// page could send a signed-in user through /authorize and receive a code at its own redirect
// URI without the user ever being asked. Registered clients keep skipping it.
func TestClientDocumentConsentOffStillAsks(t *testing.T) {
	g, doc := newDocClient(t, `["authorization_code"]`, func(a *App) { a.DisableConsent = true })
	txn, _ := dacConsent(t, "document client with consent off", dacGet(t, testkit.NewBrowser().HTTP, g.URL+dacAuthzPath+"?"+dacQuery(g, doc).Encode(), nil))
	g.noteSecret(txn)
	reg := dacClient(t, g, "Registered", dacC2URI)
	dacWorkOSRedirect(t, g, "registered client with consent off", dacGet(t, testkit.NewBrowser().HTTP, g.URL+dacAuthzPath+"?"+dacQuery(g, reg).Encode(), nil))
}

// The admin API cannot delete a configured or a metadata-document client, since neither is a
// registration; its 404 says what the id is and how to stop that client instead.
func TestAdminDeleteUnstoredClient(t *testing.T) {
	g, doc := newDocClient(t, `["authorization_code"]`, func(a *App) {
		a.Clients = []*ClientConfig{{ClientID: "acme-cli", RedirectURIs: []string{dacC1URI}, Public: true}}
	})
	srv, err := g.App.newServer(zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	api := &AdminAPI{app: g.App, server: srv, logger: zap.NewNop()}
	for id, want := range map[string]string{
		"acme-cli":       "remove its client block",
		doc.ClientID:     "client_metadata_documents off",
		"drio_not_there": "no such client",
	} {
		err := api.serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/drio/clients/"+id, nil))
		var ae caddy.APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusNotFound || !strings.Contains(ae.Err.Error(), want) {
			t.Errorf("DELETE /drio/clients/%s: %v, want 404 saying %q", id, err, want)
		}
	}
}
