package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// docServer is a loopback https server of one client metadata document, with a certificate
// from a CA made for the test (written to CAFile, which only the test option trusts).
type docServer struct {
	URL    string
	CAFile string
	hits   atomic.Int32
}

func newDocServer(t *testing.T, redirectURI string) *docServer {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drio test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	d := &docServer{CAFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(d.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		if r.URL.Path != "/oauth/client.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"CIMD e2e app","redirect_uris":[%q],`+
			`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`,
			d.URL, redirectURI)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	d.URL = srv.URL + "/oauth/client.json"
	return d
}

// testOnlyDocuments is the drio option that lets the gateway fetch from the loopback document
// server: its CA, and loopback addresses, both explicitly.
func testOnlyDocuments(d *docServer) string {
	return "client_metadata_documents {\n\t\ttrust_ca " + d.CAFile + "\n\t\tallow_private_addresses\n\t}"
}

// TestClientsMCPSDKClientMetadataDocument: the MCP SDK's auth() with a clientMetadataUrl
// completes discovery, authorization (consent naming the verified host), the token exchange
// and a protected call without registering; its client_id is the document's URL, which the
// gateway fetched over https.
func TestClientsMCPSDKClientMetadataDocument(t *testing.T) {
	requireJSClients(t)
	d := newDocServer(t, "http://127.0.0.1:8090/callback")
	s := startStack(t, stackOptions{DrioExtra: testOnlyDocuments(d)})
	sum := runClientScript(t, s, "mcp-sdk-cimd.mjs", "CLIENT_METADATA_URL="+d.URL)
	wantField(t, sum, d.URL, "clientId")
	wantField(t, sum, d.URL, "clientIdSent")
	wantField(t, sum, "200", "consentStatus")
	wantField(t, sum, "true", "consentShowsHost")
	wantField(t, sum, "REDIRECT", "firstAuth")
	wantField(t, sum, "AUTHORIZED", "secondAuth")
	wantField(t, sum, "ada@example.com", "me", "email")
	reqs := str(sum, "sdkRequests")
	if strings.Contains(reqs, "/register") {
		t.Errorf("the SDK registered although the gateway supports metadata documents: %s", reqs)
	}
	for _, want := range []string{"GET /.well-known/oauth-authorization-server -> 200", "POST /api/v1/auth/token -> 200"} {
		if !strings.Contains(reqs, want) {
			t.Errorf("the SDK did not send %q; it sent %s", want, reqs)
		}
	}
	if d.hits.Load() == 0 {
		t.Error("the gateway never fetched the metadata document")
	}
	s.checkLogs()
}

// TestClientMetadataDocumentRefusedByDefault: the same document, without the test option, is
// never fetched (loopback is not a public address): /authorize answers with the local error
// page, not a redirect to the document's redirect URI, and the token endpoint with
// invalid_client.
func TestClientMetadataDocumentRefusedByDefault(t *testing.T) {
	d := newDocServer(t, "http://127.0.0.1:8090/callback")
	s := startStack(t, stackOptions{})
	q := url.Values{
		"client_id": {d.URL}, "redirect_uri": {"http://127.0.0.1:8090/callback"}, "response_type": {"code"},
		"state": {"s1"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
	}
	req, _ := http.NewRequest(http.MethodGet, s.GW+"/api/v1/auth/authorize?"+q.Encode(), nil)
	req.Header.Set("Accept", "text/html")
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("authorize: status %d, Location %q; want 400 on the local page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(body, "non-public address") {
		t.Errorf("the error page does not say why: %s", body)
	}
	tok, obj := s.postForm(t, "/api/v1/auth/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {d.URL}, "code": {"x"},
		"redirect_uri": {"http://127.0.0.1:8090/callback"}, "code_verifier": {strings.Repeat("v", 43)},
	})
	if tok.StatusCode != http.StatusUnauthorized || obj["error"] != "invalid_client" {
		t.Errorf("token: status %d %s, want 401 invalid_client", tok.StatusCode, tok.Body)
	}
	if n := d.hits.Load(); n != 0 {
		t.Errorf("the document server was reached %d times", n)
	}
	s.checkLogs()
}
