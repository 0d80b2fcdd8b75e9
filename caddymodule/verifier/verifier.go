package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Config configures a [Verifier]. Zero values take the documented defaults.
type Config struct {
	// JWKSURL is the URL of the WorkOS JWKS, for example
	// https://api.workos.com/sso/jwks/<client_id>. Required; http or https.
	JWKSURL string
	// Issuers are the accepted iss values, compared as exact strings (a
	// trailing slash matters). Required, at least one.
	Issuers []string
	// Audience, when set, must be one of the token's aud values. Optional:
	// WorkOS access tokens usually carry no aud.
	Audience string
	// Skew is the leeway applied to exp, nbf and iat. Default: 30s.
	// Negative values are refused.
	Skew time.Duration
	// MaxTokenSize is the largest token, in bytes, that is parsed at all;
	// longer tokens are refused before any work. Default: 8192. At most
	// [MaxBearerTokenLength].
	MaxTokenSize int
	// MinRefetchInterval is the least time between two JWKS fetches
	// triggered by an unknown kid. Default: 10s.
	MinRefetchInterval time.Duration
	// RefreshInterval is the period of the background JWKS refresh started
	// by [Verifier.Start]. Default: 1h.
	RefreshInterval time.Duration
	// FetchTimeout bounds one JWKS fetch. Default: 5s.
	FetchTimeout time.Duration
	// MaxJWKSSize bounds the JWKS response body, in bytes. Default: 1 MiB.
	MaxJWKSSize int64
	// CacheSize is the number of verified tokens kept in memory. Default:
	// 10000. A negative value disables the cache.
	CacheSize int
	// HTTPClient fetches the JWKS. Default: a client with FetchTimeout.
	// Redirects are never followed, even with a client given here (the
	// verifier uses a copy whose CheckRedirect refuses them).
	HTTPClient *http.Client
	// Now is the clock used for exp, nbf, iat and the refetch rate limit.
	// Default: time.Now.
	Now func() time.Time
	// Logger receives JWKS fetch problems (Warn) and key set changes
	// (Info). Tokens are never logged. Default: zap.NewNop().
	Logger *zap.Logger
}

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultSkew               = 30 * time.Second
	DefaultMaxTokenSize       = 8192
	DefaultMinRefetchInterval = 10 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultFetchTimeout       = 5 * time.Second
	DefaultMaxJWKSSize        = 1 << 20
	DefaultCacheSize          = 10000
)

// ErrNoKeys is returned by [Verifier.Verify] when no signing key is
// available at all, typically a cold start with the JWKS unreachable. The
// caller should answer 503 with Retry-After rather than 401.
var ErrNoKeys = errors.New("verifier: no signing keys available")

// ErrInvalidToken matches, with errors.Is, every refusal of a token by
// [Verifier.Verify]. The caller answers 401 with error="invalid_token".
var ErrInvalidToken = errors.New("verifier: invalid token")

// InvalidTokenError is the error returned for a refused token. Its reason
// is a fixed phrase, safe to log and to send as error_description; it
// never contains the token or any part of it.
type InvalidTokenError struct {
	reason string
}

// Reason returns the short, fixed explanation, for example "token expired".
func (e *InvalidTokenError) Reason() string { return e.reason }

// Error implements error.
func (e *InvalidTokenError) Error() string { return "verifier: invalid token: " + e.reason }

// Is makes errors.Is(err, ErrInvalidToken) true.
func (e *InvalidTokenError) Is(target error) bool { return target == ErrInvalidToken }

func invalid(reason string) *InvalidTokenError { return &InvalidTokenError{reason: reason} }

// The refusals are preallocated, so refusing costs no allocation.
var (
	errEmpty           = invalid("empty token")
	errTooLarge        = invalid("token too large")
	errMalformed       = invalid("malformed token")
	errNotCompact      = invalid("not a compact JWS")
	errHeaderTooLarge  = invalid("header too large")
	errMalformedHeader = invalid("malformed header")
	errAlgorithm       = invalid("unsupported algorithm")
	errCritical        = invalid("unsupported critical header")
	errMissingKID      = invalid("missing key id")
	errUnknownKey      = invalid("unknown signing key")
	errSignature       = invalid("invalid signature")
	errMalformedClaims = invalid("malformed claims")
	errMissingExp      = invalid("missing exp")
	errExpired         = invalid("token expired")
	errNotYetValid     = invalid("token not yet valid")
	errIssuedInFuture  = invalid("token issued in the future")
	errIssuer          = invalid("issuer not accepted")
	errAudience        = invalid("audience not accepted")
	errMissingSubject  = invalid("missing sub")
	errMissingSession  = invalid("missing sid")
)

// Verifier verifies WorkOS access tokens. Create it with [New], start the
// JWKS refresh with [Verifier.Start], and release it with [Verifier.Close].
// It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	issuers map[string]struct{}
	client  *http.Client
	log     *zap.Logger
	cache   *tokenCache // nil when disabled
	headers headerCache

	keys atomic.Pointer[keySet] // never nil after New

	fetches     atomic.Int64
	fetchErrors atomic.Int64

	// ctx is cancelled by Close; every goroutine watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex // guards the fields below
	inflight     *fetchCall // the one JWKS fetch running, if any
	lastOnDemand time.Time  // start of the last unknown-kid fetch
	closed       bool
	started      bool
}

// New checks cfg, applies defaults and returns a Verifier. It does not
// fetch the JWKS: call [Verifier.Start] (or [Verifier.Refresh]).
func New(cfg Config) (*Verifier, error) {
	if cfg.JWKSURL == "" {
		return nil, errors.New("verifier: jwks url is required")
	}
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("verifier: jwks url must be an absolute http or https url")
	}
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("verifier: at least one issuer is required")
	}
	issuers := make(map[string]struct{}, len(cfg.Issuers))
	for _, iss := range cfg.Issuers {
		if iss == "" || strings.TrimSpace(iss) != iss {
			return nil, fmt.Errorf("verifier: invalid issuer %q", iss)
		}
		issuers[iss] = struct{}{}
	}
	if cfg.Skew < 0 || cfg.MaxTokenSize < 0 || cfg.MinRefetchInterval < 0 || cfg.RefreshInterval < 0 ||
		cfg.FetchTimeout < 0 || cfg.MaxJWKSSize < 0 {
		return nil, errors.New("verifier: durations and sizes must not be negative")
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if cfg.MaxTokenSize > MaxBearerTokenLength {
		return nil, fmt.Errorf("verifier: max token size must be at most %d", MaxBearerTokenLength)
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.MaxJWKSSize == 0 {
		cfg.MaxJWKSSize = DefaultMaxJWKSSize
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	var client http.Client
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	} else {
		client.Timeout = cfg.FetchTimeout
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	v := &Verifier{
		cfg:     cfg,
		issuers: issuers,
		client:  &client,
		log:     cfg.Logger,
	}
	if cfg.CacheSize > 0 {
		v.cache = newTokenCache(cfg.CacheSize)
	}
	v.keys.Store(&keySet{})
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v, nil
}

// Verify checks token and returns its claims.
//
// Every refusal matches [ErrInvalidToken]. [ErrNoKeys] means no signing key
// is available at all. When the kid is unknown, Verify may wait for a JWKS
// fetch; ctx bounds that wait, and its error (wrapped) is returned when it
// ends first. A token seen before and still valid is answered from the
// cache. Verify does not check revocation: look up [Claims.SessionID] in
// the session registry.
//
// The returned Claims must be treated as read-only.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > v.cfg.MaxTokenSize {
		return nil, errTooLarge
	}
	if token == "" {
		return nil, errEmpty
	}
	now := v.cfg.Now()
	if v.cache != nil {
		if c := v.cache.get(token, now, v.cfg.Skew); c != nil {
			return c.clone(), nil
		}
	}

	// Compact JWS: exactly three non-empty base64url segments.
	d1 := strings.IndexByte(token, '.')
	if d1 < 0 {
		return nil, errNotCompact
	}
	d2 := d1 + 1 + strings.IndexByte(token[d1+1:], '.')
	if d2 <= d1 || strings.IndexByte(token[d2+1:], '.') >= 0 {
		return nil, errNotCompact
	}
	hdrSeg, payloadSeg, sigSeg := token[:d1], token[d1+1:d2], token[d2+1:]
	if !isBase64URL(hdrSeg) {
		return nil, errMalformed
	}
	kid, err := v.headers.kid(hdrSeg)
	if err != nil {
		return nil, err
	}
	if !isBase64URL(payloadSeg) || !isBase64URL(sigSeg) {
		return nil, errMalformed
	}

	key, err := v.lookupKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	if !verifyRS256(key, token[:d2], sigSeg) {
		return nil, errSignature
	}
	payload, err := rawURL.DecodeString(payloadSeg)
	if err != nil {
		return nil, errMalformed
	}
	tc, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(tc, now); err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, kid, tc, now, v.cfg.Skew)
	}
	return tc.claims.clone(), nil
}

// Stats are counters for metrics and tests.
type Stats struct {
	// Fetches counts JWKS fetch attempts; FetchErrors those that failed or
	// yielded no usable key.
	Fetches, FetchErrors int64
	// CacheHits and CacheMisses count verified-token cache lookups.
	CacheHits, CacheMisses int64
	// Keys is the number of usable signing keys held now.
	Keys int
}

// Stats returns the current counters.
func (v *Verifier) Stats() Stats {
	s := Stats{
		Fetches:     v.fetches.Load(),
		FetchErrors: v.fetchErrors.Load(),
		Keys:        len(v.keys.Load().keys),
	}
	if v.cache != nil {
		s.CacheHits, s.CacheMisses = v.cache.stats()
	}
	return s
}

// Start fetches the JWKS in the background at once, then every
// RefreshInterval (sooner, with backoff, after a failure). The goroutine
// stops when ctx is done or on [Verifier.Close]. Start returns at once;
// calling it again has no effect.
func (v *Verifier) Start(ctx context.Context) {
	v.mu.Lock()
	if v.started || v.closed {
		v.mu.Unlock()
		return
	}
	v.started = true
	v.wg.Add(1)
	v.mu.Unlock()
	go v.refreshLoop(ctx)
}

// Close stops the background refresh and any fetch in flight, and waits
// for their goroutines. Verify keeps working with the keys already held.
// Close is idempotent.
func (v *Verifier) Close() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	v.cancel()
	v.wg.Wait()
}
