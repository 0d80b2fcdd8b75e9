package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/upstream-mock/workosmock"
)

// seedStore writes n clients and n live sessions into a Badger data directory, in the
// gateway's record format (caddymodule/records.go: clientRecord, sessionRecord), before the
// gateway opens it. Registering 100k clients and completing 100k flows through HTTP would
// take most of the time budget; the records are the same bytes either way.
func seedStore(dir string, n int, sessionTTL time.Duration) error {
	s, err := store.OpenBadger(dir, store.BadgerOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now().Unix()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				cid := fmt.Sprintf("client_bench%08d", i)
				client, _ := json.Marshal(map[string]any{
					"id": cid, "name": fmt.Sprintf("bench client %d", i), "redirect_uris": []string{clientRedirect},
					"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
					"issued_at": now,
				})
				if err := s.Put(ctx, store.Key(store.KindClient, cid), client, 0); err != nil {
					errc <- err
					return
				}
				sid := benchSID(i)
				sess, _ := json.Marshal(map[string]any{
					"id": sid, "client_id": cid, "user_id": benchUser(i), "email": fmt.Sprintf("user%d@example.com", i),
					"first_name": "Bench", "last_name": fmt.Sprint(i), "organization_id": workosmock.DemoOrgID, "created_at": now,
				})
				if err := s.Put(ctx, store.Key(store.KindSession, sid), sess, sessionTTL); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func benchSID(i int) string  { return fmt.Sprintf("session_01BENCH%011d", i) }
func benchUser(i int) string { return fmt.Sprintf("user_01BENCH%014d", i) }

// mintTokens signs access tokens from..to-1 exactly as the WorkOS stand-in does (RS256, kid,
// WorkOS claims), in parallel with the stand-in's signing key: token i has jti i and belongs to
// seeded session i mod sessions (pass sessions ≥ to for one token per session).
func mintTokens(wm *workosmock.Server, from, to, sessions int, ttl time.Duration) []string {
	k := to - from
	kid, key := wm.SigningKey()
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid})
	h64 := base64.RawURLEncoding.EncodeToString(hdr)
	out := make([]string, k)
	var next atomic.Int64
	var wg sync.WaitGroup
	now := time.Now()
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1) - 1)
				if j >= k {
					return
				}
				i, s := from+j, (from+j)%sessions
				claims, _ := json.Marshal(map[string]any{
					"iss": wm.Issuer(), "sub": benchUser(s), "sid": benchSID(s), "jti": fmt.Sprintf("jti%d", i),
					"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "org_id": workosmock.DemoOrgID,
					"role": "member", "permissions": []string{"apps:read"},
				})
				signing := h64 + "." + base64.RawURLEncoding.EncodeToString(claims)
				sum := sha256.Sum256([]byte(signing))
				sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
				if err != nil {
					panic(err)
				}
				out[j] = signing + "." + base64.RawURLEncoding.EncodeToString(sig)
			}
		}()
	}
	wg.Wait()
	return out
}

type memSample struct {
	requests   int64
	rss, hwm   int64 // KiB
	at         time.Duration
	errorsSeen int64
}

// memLoad sends up to total protected requests, round robin over tokens, with conc workers,
// stopping early at budget; it samples the gateway's RSS every `every` requests.
func memLoad(gw string, pid int, tokens []string, total int64, conc int, budget time.Duration, every int64, logf func(string, ...any)) ([]memSample, int64, int64) {
	client := &http.Client{Transport: newTransport(conc), Timeout: 10 * time.Second}
	var next, done, errs atomic.Int64
	var samples []memSample
	var smu sync.Mutex
	start := time.Now()
	deadline := start.Add(budget)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > total {
					return
				}
				req, _ := http.NewRequest("GET", gw+"/api/v1/me", nil)
				req.Header.Set("Authorization", "Bearer "+tokens[int(i-1)%len(tokens)])
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
				}
				if n := done.Add(1); n%every == 0 {
					rss, hwm, _ := memKiB(pid)
					smu.Lock()
					samples = append(samples, memSample{requests: n, rss: rss, hwm: hwm, at: time.Since(start), errorsSeen: errs.Load()})
					smu.Unlock()
					logf("  %d requests: VmRSS %.1f MiB, VmHWM %.1f MiB", n, float64(rss)/1024, float64(hwm)/1024)
				}
			}
		}()
	}
	wg.Wait()
	return samples, done.Load(), errs.Load()
}
