package verifier

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
)

const (
	// minRSABits is the smallest RSA modulus accepted from the JWKS.
	minRSABits = 2048
	// maxRSABits bounds the work of one verification (and of a hostile JWKS).
	maxRSABits = 8192
	// maxJWKSEntries bounds how many JWKS entries are looked at.
	maxJWKSEntries = 100
)

// keySet is an immutable set of usable signing keys, swapped atomically.
type keySet struct {
	keys map[string]*verifyKey // kid → key, precomputed for RS256
}

// fetchCall is one JWKS fetch that callers can wait for.
type fetchCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// errNoUsableKeys is returned when a JWKS parses but holds no usable key.
var errNoUsableKeys = errors.New("verifier: jwks has no usable signing key")

// lookupKey returns the key for kid. When kid is unknown it joins the
// in-flight JWKS fetch, or starts one if the rate limit allows, waits for
// it within ctx, and looks again once.
func (v *Verifier) lookupKey(ctx context.Context, kid string) (*verifyKey, error) {
	if k := v.keys.Load().keys[kid]; k != nil {
		return k, nil
	}
	if call := v.startFetch(true); call != nil {
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("verifier: waiting for jwks: %w", ctx.Err())
		}
	}
	set := v.keys.Load()
	if k := set.keys[kid]; k != nil {
		return k, nil
	}
	if len(set.keys) == 0 {
		return nil, ErrNoKeys
	}
	return nil, errUnknownKey
}

// startFetch returns the in-flight fetch, or starts a new one. An
// on-demand fetch (unknown kid) is refused, returning nil, when the last
// one started less than MinRefetchInterval ago; the check and the start
// happen under one lock, so a burst cannot slip through. A clock that went
// backwards counts as the interval having passed.
func (v *Verifier) startFetch(onDemand bool) *fetchCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.inflight != nil {
		return v.inflight
	}
	if v.closed {
		return nil
	}
	if onDemand {
		now := v.cfg.Now()
		if !v.lastOnDemand.IsZero() {
			if el := now.Sub(v.lastOnDemand); el >= 0 && el < v.cfg.MinRefetchInterval {
				return nil
			}
		}
		v.lastOnDemand = now
	}
	call := &fetchCall{done: make(chan struct{})}
	v.inflight = call
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		err := v.fetchAndSwap()
		v.mu.Lock()
		call.err = err
		v.inflight = nil
		v.mu.Unlock()
		close(call.done)
	}()
	return call
}

// Refresh fetches the JWKS now (joining a fetch already in flight) and
// waits for it within ctx. On failure the last good key set is kept and
// the error is returned. It ignores the on-demand rate limit.
func (v *Verifier) Refresh(ctx context.Context) error {
	call := v.startFetch(false)
	if call == nil {
		return errors.New("verifier: closed")
	}
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return fmt.Errorf("verifier: waiting for jwks: %w", ctx.Err())
	}
}

// refreshLoop is the background refresh started by Start.
func (v *Verifier) refreshLoop(ctx context.Context) {
	defer v.wg.Done()
	failures := 0
	for {
		err := v.Refresh(ctx)
		wait := v.cfg.RefreshInterval
		if err != nil {
			failures++
			wait = retryDelay(v.cfg.MinRefetchInterval, v.cfg.RefreshInterval, failures)
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		case <-v.ctx.Done():
			t.Stop()
			return
		}
	}
}

// retryDelay is the wait after the n-th consecutive failure: base·2^(n-1),
// at least one second, at most ceiling.
func retryDelay(base, ceiling time.Duration, n int) time.Duration {
	d := max(base, time.Second)
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// fetchAndSwap fetches and filters the JWKS and installs it when it holds
// at least one usable key. Otherwise the current set stays.
func (v *Verifier) fetchAndSwap() error {
	v.fetches.Add(1)
	ctx, cancel := context.WithTimeout(v.ctx, v.cfg.FetchTimeout)
	defer cancel()
	body, err := v.fetchJWKS(ctx)
	if err == nil {
		err = v.applyJWKS(body)
	}
	if err != nil {
		v.fetchErrors.Add(1)
		v.log.Warn("jwks fetch failed; keeping the last good key set",
			zap.String("jwks_url", v.cfg.JWKSURL),
			zap.Int("keys_kept", len(v.keys.Load().keys)),
			zap.Error(err))
	}
	return err
}

// fetchJWKS GETs the JWKS body: 200 only, no redirects, size-capped.
func (v *Verifier) fetchJWKS(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("verifier: building jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verifier: fetching jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("verifier: fetching jwks: unexpected status %d", resp.StatusCode)
	}
	if resp.ContentLength > v.cfg.MaxJWKSSize {
		return nil, fmt.Errorf("verifier: jwks larger than %d bytes", v.cfg.MaxJWKSSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.cfg.MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("verifier: reading jwks: %w", err)
	}
	if int64(len(body)) > v.cfg.MaxJWKSSize {
		return nil, fmt.Errorf("verifier: jwks larger than %d bytes", v.cfg.MaxJWKSSize)
	}
	return body, nil
}

// applyJWKS parses body and, when it holds a usable key, swaps it in and
// drops cached tokens whose kid disappeared.
func (v *Verifier) applyJWKS(body []byte) error {
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return err
	}
	old := v.keys.Swap(&keySet{keys: keys})
	var removed []string
	for kid, k := range old.keys {
		if nk := keys[kid]; nk == nil || !nk.Equal(k.PublicKey) {
			removed = append(removed, kid)
		}
	}
	if len(removed) > 0 && v.cache != nil {
		v.cache.dropKIDs(removed)
	}
	changed := len(removed) > 0 || len(keys) != len(old.keys)
	if changed {
		kids := make([]string, 0, len(keys))
		for kid := range keys {
			kids = append(kids, kid)
		}
		slices.Sort(kids)
		v.log.Info("jwks key set updated", zap.Strings("kids", kids), zap.Int("skipped", skipped))
	}
	return nil
}

// parseJWKS parses a JWKS document and keeps only the usable keys: RSA
// public keys with a kid, alg RS256, use absent or "sig", key_ops absent
// or including "verify", and a modulus of 2048 to 8192 bits. Entries that
// fail to parse are skipped one by one; a duplicated kid is dropped. It
// fails when no usable key is left.
func parseJWKS(body []byte) (map[string]*verifyKey, int, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, 0, errors.New("verifier: jwks is not a json key set")
	}
	keys := make(map[string]*verifyKey, len(doc.Keys))
	dup := map[string]bool{}
	skipped := 0
	for i, raw := range doc.Keys {
		if i >= maxJWKSEntries {
			skipped += len(doc.Keys) - i
			break
		}
		kid, pub, ok := usableKey(raw)
		if !ok {
			skipped++
			continue
		}
		if _, seen := keys[kid]; seen || dup[kid] {
			delete(keys, kid)
			dup[kid] = true
			skipped++
			continue
		}
		keys[kid] = newVerifyKey(pub)
	}
	if len(keys) == 0 {
		return nil, skipped, errNoUsableKeys
	}
	return keys, skipped, nil
}

// usableKey parses one JWK and applies the filter of parseJWKS.
func usableKey(raw json.RawMessage) (string, *rsa.PublicKey, bool) {
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return "", nil, false
	}
	if key.KeyType() != jwa.RSA {
		return "", nil, false
	}
	if _, priv := key.(jwk.RSAPrivateKey); priv {
		return "", nil, false // a JWKS must not publish private keys
	}
	rk, ok := key.(jwk.RSAPublicKey)
	if !ok {
		return "", nil, false
	}
	kid := key.KeyID()
	if kid == "" || len(kid) > maxKIDLength {
		return "", nil, false
	}
	if key.Algorithm() == nil || key.Algorithm().String() != jwa.RS256.String() {
		return "", nil, false
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return "", nil, false
	}
	if ops := key.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return "", nil, false
	}
	var pub *rsa.PublicKey
	if err := rk.Raw(&pub); err != nil || pub == nil || pub.N == nil {
		return "", nil, false
	}
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return "", nil, false
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return "", nil, false
	}
	return kid, pub, true
}
