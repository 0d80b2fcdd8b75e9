// peer.go holds the peer: oauth2-proxy v7.15.6 (built into bin/ by `make bench`, never a
// dependency of our module), configured by peer/oauth2-proxy.cfg and peer/oauth2-proxy.yaml to
// verify the same WorkOS tokens against the stand-in's JWKS and to pass the identity to the same
// resource API. Before it is measured, checkPeer proves that it really verifies and that the
// identity reaches the upstream; otherwise the peer rows are skipped with the reason.

package main

import (
	"crypto/rand"
	"debug/buildinfo"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

//go:embed peer/oauth2-proxy.cfg peer/oauth2-proxy.yaml
var peerConfig embed.FS

// peerVersion is the oauth2-proxy release `make bench` builds.
const peerVersion = "v7.15.6"

// startPeer runs oauth2-proxy on addr in front of upstream, trusting tokens of issuer signed
// with the keys at workosURL's JWKS.
func startPeer(bin, dir, addr, upstream, workosURL, issuer string) (*proc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %v (make bench builds it with `go install github.com/oauth2-proxy/oauth2-proxy/v7@%s`; that needs the Go module proxy)", bin, err, peerVersion)
	}
	// `go install` leaves no version in the binary's --version; its build info has it.
	if bi, err := buildinfo.ReadFile(bin); err != nil || bi.Main.Version != peerVersion {
		got := "unknown"
		if err == nil {
			got = bi.Main.Path + " " + bi.Main.Version
		}
		return nil, fmt.Errorf("%s is %s, not oauth2-proxy %s (remove it; make bench rebuilds it)", bin, got, peerVersion)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var paths []string
	for _, name := range []string{"oauth2-proxy.cfg", "oauth2-proxy.yaml"} {
		raw, err := peerConfig.ReadFile("peer/" + name)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	p, err := startProcEnv("oauth2-proxy", dir, bin, []string{
		"OAUTH2_PROXY_COOKIE_SECRET=" + base64.RawURLEncoding.EncodeToString(secret)[:32],
		"O2P_ADDR=" + addr, "O2P_UPSTREAM=" + upstream, "O2P_WORKOS=" + workosURL,
		"O2P_ISSUER=" + issuer, "O2P_CLIENT_ID=" + workosClientID,
	}, "--config", paths[0], "--alpha-config", paths[1])
	if err != nil {
		return nil, err
	}
	if err := p.waitHTTP("http://"+addr+"/ping", 200); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// checkPeer asserts, once, that the peer refuses a request without a token and one with a
// forged token, and that a good token reaches the resource API with X-Drio-User-Id = wantSub
// (/api/v1/me answers 401 without that header and echoes it in user.id).
func checkPeer(base, good, wantSub string) error {
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(auth string) (int, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		// A client-sent identity header must not survive either.
		req.Header.Set("X-Drio-User-Id", "user_forged")
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, body, err
	}
	for _, tc := range []struct{ what, auth string }{
		{"no token", ""},
		{"a token with a forged signature", "Bearer " + forgeSignature(good)},
	} {
		code, body, err := get(tc.auth)
		if err != nil {
			return fmt.Errorf("peer with %s: %v", tc.what, err)
		}
		if code == http.StatusOK || code/100 == 5 {
			return fmt.Errorf("peer does not refuse %s: %d %s", tc.what, code, tail(string(body), 300))
		}
	}
	code, body, err := get("Bearer " + good)
	if err != nil {
		return fmt.Errorf("peer with a good token: %v", err)
	}
	var me struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &me) != nil || me.User.ID != wantSub {
		return fmt.Errorf("peer with a good token: %d %s; want 200 and the upstream seeing X-Drio-User-Id %s", code, tail(string(body), 300), wantSub)
	}
	return nil
}

// forgeSignature returns tok with its signature's first byte changed: same header and claims,
// a signature the key never made.
func forgeSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || i+2 >= len(tok) {
		return tok + "x"
	}
	c := byte('A')
	if tok[i+1] == 'A' {
		c = 'B'
	}
	return tok[:i+1] + string(c) + tok[i+2:]
}
