package cimd

import (
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// checkRedirect stands in for the gateway's redirect URI rules: https, or http on 127.0.0.1.
func checkRedirect(u string) error {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://127.0.0.1") {
		return nil
	}
	return errors.New("not an allowed redirect URI")
}

// docServer is a loopback https server of one document at /client.json, and options that
// trust its certificate and allow loopback.
type docServer struct {
	srv  *httptest.Server
	URL  string
	opts Options
}

func newDocServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, self string)) *docServer {
	t.Helper()
	d := &docServer{}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, d.URL) }))
	t.Cleanup(d.srv.Close)
	d.URL = d.srv.URL + "/client.json"
	pool := x509.NewCertPool()
	pool.AddCert(d.srv.Certificate())
	d.opts = Options{RootCAs: pool, AllowPrivateAddresses: true, CheckRedirectURI: checkRedirect}
	return d
}

// serveJSON answers with body (%s is replaced by the document's URL) as application/json.
func serveJSON(body string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, self string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, body, self)
	}
}

const goodDoc = `{"client_id":%q,"client_name":"Example App","redirect_uris":["http://127.0.0.1:8090/callback"],` +
	`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","logo_uri":"https://cdn.example/logo.png"}`

func TestFetchValidDocument(t *testing.T) {
	d := newDocServer(t, serveJSON(goodDoc))
	doc, _, e := newFetcher(d.opts).fetch(context.Background(), d.URL)
	if e != nil {
		t.Fatalf("fetch: %v (%s)", e, e.Kind)
	}
	if doc.ClientID != d.URL || doc.ClientName != "Example App" || len(doc.RedirectURIs) != 1 ||
		strings.Join(doc.GrantTypes, ",") != "authorization_code,refresh_token" {
		t.Fatalf("document = %+v", doc)
	}
}

// Each refusal of an address: a literal IP in the URL, or a name resolving to one. The
// name case points at a live server on 127.0.0.1, and the same fetch succeeds once private
// addresses are allowed, so the address check alone is what refused it.
func TestFetchRefusesNonPublicAddresses(t *testing.T) {
	for _, host := range []string{
		"127.0.0.1", "[::1]", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.169.254",
		"[fe80::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "100.64.0.1", "[fd00::1]", "[64:ff9b::a9fe:a9fe]",
		"[fe80::1%25lo]", "[::1%25lo]", // IPv6 with a zone
	} {
		f := newFetcher(Options{CheckRedirectURI: checkRedirect, Timeout: 2 * time.Second})
		_, _, e := f.fetch(context.Background(), "https://"+host+"/client.json")
		if e == nil || e.Kind != KindBlockedAddress {
			t.Errorf("fetch from %s: %v, want %s", host, e, KindBlockedAddress)
		}
	}

	d := newDocServer(t, serveJSON(goodDoc))
	id := "https://app.test:" + d.srv.URL[strings.LastIndexByte(d.srv.URL, ':')+1:] + "/client.json"
	toLoopback := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	opts := d.opts
	opts.lookup = toLoopback
	opts.AllowPrivateAddresses = false
	if _, _, e := newFetcher(opts).fetch(context.Background(), id); e == nil || e.Kind != KindBlockedAddress {
		t.Fatalf("a name resolving to loopback: %v, want %s", e, KindBlockedAddress)
	}
	opts.AllowPrivateAddresses = true
	// httptest's certificate names example.com and 127.0.0.1, not app.test: a TLS failure
	// after connecting shows the connection itself was allowed.
	if _, _, e := newFetcher(opts).fetch(context.Background(), id); e == nil || e.Kind != KindNetwork {
		t.Fatalf("with private addresses allowed: %v, want the TLS name mismatch (%s)", e, KindNetwork)
	}
}

func TestFetchRefusals(t *testing.T) {
	big := strings.Repeat(" ", DefaultMaxBytes)
	for _, tc := range []struct {
		name string
		h    func(http.ResponseWriter, *http.Request, string)
		kind string
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request, self string) {
			http.Redirect(w, r, "/elsewhere.json", http.StatusFound)
		}, KindStatus},
		{"not found", func(w http.ResponseWriter, _ *http.Request, _ string) { http.NotFound(w, nil) }, KindStatus},
		{"server error", func(w http.ResponseWriter, _ *http.Request, _ string) { w.WriteHeader(500) }, KindStatus},
		{"html", func(w http.ResponseWriter, _ *http.Request, self string) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, goodDoc, self)
		}, KindContentType},
		{"oversize with length", serveJSON(`{"client_id":%q,"pad":"` + big + `"}`), KindTooLarge},
		{"oversize chunked", func(w http.ResponseWriter, _ *http.Request, self string) {
			w.Header().Set("Content-Type", "application/json")
			for range 8 {
				fmt.Fprint(w, strings.Repeat(" ", 1024))
				w.(http.Flusher).Flush()
			}
		}, KindTooLarge},
		// Go's transport asks for gzip and inflates it; the cap applies to the inflated bytes,
		// so a 1 MiB document squeezed into about a kilobyte is still too large.
		{"gzip bomb", func(w http.ResponseWriter, _ *http.Request, self string) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprintf(zw, `{"client_id":%q,"pad":"%s"}`, self, strings.Repeat(" ", 1<<20))
			_ = zw.Close()
		}, KindTooLarge},
		{"bad json", serveJSON(`{"client_id":%q,`), KindInvalidDocument},
		{"not an object", serveJSON(`[%q]`), KindInvalidDocument},
		{"client_id mismatch", func(w http.ResponseWriter, r *http.Request, self string) {
			serveJSON(goodDoc)(w, r, self+"x")
		}, KindInvalidDocument},
		{"client_id missing", serveJSON(`{"redirect_uris":["https://a.example/cb"],"x":%q}`), KindInvalidDocument},
		{"client_secret", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"client_secret":"s"}`), KindInvalidDocument},
		{"client_secret_expires_at", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"client_secret_expires_at":0}`), KindInvalidDocument},
		{"client_secret_basic", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`), KindInvalidDocument},
		{"private_key_jwt", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`), KindInvalidDocument},
		{"no redirect_uris", serveJSON(`{"client_id":%q}`), KindInvalidDocument},
		{"bad redirect_uri", serveJSON(`{"client_id":%q,"redirect_uris":["javascript:alert(1)"]}`), KindInvalidDocument},
		{"duplicate redirect_uri", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`), KindInvalidDocument},
		{"implicit grant", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`), KindInvalidDocument},
		{"token response type", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`), KindInvalidDocument},
		{"control in name", serveJSON(`{"client_id":%q,"redirect_uris":["https://a.example/cb"],"client_name":"a\u0007b"}`), KindInvalidDocument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocServer(t, tc.h)
			_, _, e := newFetcher(d.opts).fetch(context.Background(), d.URL)
			if e == nil || e.Kind != tc.kind {
				t.Fatalf("fetch: %v, want kind %s", e, tc.kind)
			}
		})
	}
}

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	d := newDocServer(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		select {
		case <-release:
		case <-r.Context().Done():
			// A hung server never answers: returning would send an empty 200, which the
			// client may still read as it gives up (its close races the response).
			panic(http.ErrAbortHandler)
		}
	})
	defer close(release)
	opts := d.opts
	opts.Timeout = 300 * time.Millisecond
	if _, _, e := newFetcher(opts).fetch(context.Background(), d.URL); e == nil || e.Kind != KindTimeout {
		t.Fatalf("slow server: %v, want %s", e, KindTimeout)
	}
}

// Without the explicit extra CA, the test server's certificate is not trusted.
func TestFetchUsesSystemRootsByDefault(t *testing.T) {
	d := newDocServer(t, serveJSON(goodDoc))
	opts := d.opts
	opts.RootCAs = nil
	if _, _, e := newFetcher(opts).fetch(context.Background(), d.URL); e == nil || e.Kind != KindNetwork {
		t.Fatalf("untrusted certificate: %v, want %s", e, KindNetwork)
	}
}

func TestFetchRefusesBadURLsWithoutFetching(t *testing.T) {
	hits := 0
	d := newDocServer(t, func(w http.ResponseWriter, r *http.Request, self string) { hits++; serveJSON(goodDoc)(w, r, self) })
	base := strings.TrimSuffix(d.URL, "/client.json")
	for _, id := range []string{
		strings.Replace(base, "https:", "http:", 1) + "/client.json", base, base + "/", base + "/client.json#f",
		strings.Replace(base, "https://", "https://user@", 1) + "/client.json", base + "/a/../client.json",
	} {
		if _, _, e := newFetcher(d.opts).fetch(context.Background(), id); e == nil || e.Kind != KindInvalidURL {
			t.Errorf("%s: %v, want %s", id, e, KindInvalidURL)
		}
	}
	if hits != 0 {
		t.Fatalf("the server was asked %d times", hits)
	}
}
