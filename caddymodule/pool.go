// pool.go keeps the resources that must survive a config reload in package-level usage pools.
// During a reload the new config starts before the old one stops, and Badger's directory lock
// admits one opener, so both configs must share one handle: the pool counts holders and the
// last release closes it.

package caddymodule

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/workos"
	"github.com/drio-gateway/gateway/caddymodule/store"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

// backends holds one *backend per storage location ("badger:<dir>" or "redis:<url>").
// Use acquireBackend and releaseBackend, not the pool directly.
var backends = caddy.NewUsagePool()

// verifiers holds one JWKS verifier per (JWKS URL, issuers, audience), so a reload keeps the
// cached key set instead of refetching it.
var verifiers = caddy.NewUsagePool()

// backend is a store plus the state derived from it that all configs share.
type backend struct {
	store  store.Store
	grants *grants.Stores
	// secret signs cookies and CSRF tokens; kept in the store so restarts and other instances
	// agree on it.
	secret []byte
	// stopWatch ends the watch for other instances' revocations; watching is closed when it
	// has returned.
	stopWatch context.CancelFunc
	watching  chan struct{}
}

// Destruct stops watching for revocations and closes the store when the last config using
// it is gone.
func (b *backend) Destruct() error {
	b.stopWatch()
	<-b.watching
	return b.store.Close()
}

// watchRevocations keeps the session cache in step with revocations made by other instances
// sharing the store (Redis), and reports the broadcast's state in a metric and the log.
func (b *backend) watchRevocations(logger *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	b.stopWatch, b.watching = cancel, make(chan struct{})
	if !b.grants.Sessions.Broadcasts() {
		close(b.watching)
		return
	}
	go func() {
		defer close(b.watching)
		b.grants.Sessions.Watch(ctx, func(up bool) {
			if up {
				metrics.RevocationBroadcastUp.Set(1)
				logger.Info("listening for revocations by other instances")
				return
			}
			metrics.RevocationBroadcastUp.Set(0)
			if ctx.Err() == nil {
				logger.Warn("lost the revocation broadcast; until it is back, another instance's revocation takes effect here within the session cache time",
					zap.Duration("session_cache", defaultSessionCache))
			}
		})
	}()
}

func acquireBackend(key string, cfg *StorageConfig, logger *zap.Logger) (*backend, error) {
	val, _, err := backends.LoadOrNew(key, func() (caddy.Destructor, error) {
		s, err := openStore(cfg, logger)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		secret, err := grants.LoadOrCreateSecret(ctx, s)
		if err != nil {
			s.Close()
			return nil, err
		}
		b := &backend{store: s, grants: grants.New(s, defaultSessionCache), secret: secret}
		b.watchRevocations(logger.Named("revocations"))
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*backend), nil
}

func releaseBackend(key string, logger *zap.Logger) {
	if _, err := backends.Delete(key); err != nil {
		logger.Error("closing store", zap.Error(err))
	}
}

func openStore(cfg *StorageConfig, logger *zap.Logger) (store.Store, error) {
	switch cfg.Backend {
	case "redis":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return store.OpenRedis(ctx, cfg.URL, store.RedisOptions{Prefix: cfg.Prefix, Logger: logger.Named("redis")})
	default:
		return store.OpenBadger(cfg.Dir, store.BadgerOptions{SyncWrites: cfg.SyncWrites, Logger: logger.Named("badger")})
	}
}

type pooledVerifier struct {
	v      *verifier.Verifier
	cancel context.CancelFunc
}

// Destruct stops the verifier's background refresh.
func (p *pooledVerifier) Destruct() error {
	p.cancel()
	p.v.Close()
	return nil
}

func acquireVerifier(key string, cfg verifier.Config) (*verifier.Verifier, error) {
	val, _, err := verifiers.LoadOrNew(key, func() (caddy.Destructor, error) {
		v, err := verifier.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("drio: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		v.Start(ctx)
		return &pooledVerifier{v: v, cancel: cancel}, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*pooledVerifier).v, nil
}

func releaseVerifier(key string, logger *zap.Logger) {
	if _, err := verifiers.Delete(key); err != nil {
		logger.Error("stopping JWKS verifier", zap.Error(err))
	}
}

func (a *App) verifierConfig() verifier.Config {
	return verifier.Config{
		JWKSURL:      a.bridge.JWKSURL(),
		Issuers:      a.TokenIssuers,
		Audience:     a.Audience,
		FetchTimeout: time.Duration(a.WorkOS.Timeout),
		HTTPClient:   workos.HTTPClient(time.Duration(a.WorkOS.Timeout)),
		Logger:       a.logger.Named("jwks"),
	}
}

func (a *App) verifierPoolKey() string {
	return fmt.Sprintf("%s|%q|%s|%s", a.bridge.JWKSURL(), a.TokenIssuers, a.Audience, time.Duration(a.WorkOS.Timeout))
}
