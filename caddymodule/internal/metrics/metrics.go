// Package metrics holds the gateway's domain metrics. Caddy already counts requests, statuses
// and durations per handler (caddy_http_requests_total{handler="drio_oauth"}); these add what
// only the gateway knows, with bounded label values. The collectors are created once and
// registered with every config's registry (Caddy makes a new registry on each reload).
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// Registrations counts clients registered through dynamic client registration.
	Registrations = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "registrations_total",
		Help: "Clients registered through dynamic client registration.",
	})
	// Tokens counts token pairs issued, by grant.
	Tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "tokens_issued_total",
		Help: "Token pairs issued, by grant (authorization_code, refresh_token).",
	}, []string{"grant"})
	// BearerRefused counts requests to protected routes refused, by reason.
	BearerRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "bearer_refused_total",
		Help: "Requests to protected routes refused, by reason (missing, malformed, invalid, session_ended, unavailable, forbidden).",
	}, []string{"reason"})
	// Revocations counts brokered sessions revoked, by reason.
	Revocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "sessions_revoked_total",
		Help: "Brokered sessions revoked, by reason (code_replay, refresh_reuse, upstream_refused, client_revoked, logout, admin).",
	}, []string{"reason"})
	// Introspections counts introspection answers, by result.
	Introspections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "introspections_total",
		Help: "Introspection answers, by result (active, inactive).",
	}, []string{"result"})
	// WorkOSLatency is the duration of calls to WorkOS, by call.
	WorkOSLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "workos_call_duration_seconds",
		Help:    "Duration of calls to WorkOS, by call (code, refresh, revoke), whatever their outcome.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"call"})
	// RevocationBroadcastUp is 1 while this instance hears other instances' revocations at
	// once (Redis pub/sub), 0 while that is down (revocations then take effect within the
	// session cache time, and with a store that does not broadcast).
	RevocationBroadcastUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "revocation_broadcast_up",
		Help: "1 while other instances' revocations reach this one at once; 0 while that broadcast is down.",
	})
	// StoreErrors counts requests that failed because the store did, by what was being done.
	StoreErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "store_errors_total",
		Help: "Requests answered 503 because the store failed, by endpoint.",
	}, []string{"during"})
	// WorkOSCalls counts calls to WorkOS, by call and outcome.
	WorkOSCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "workos_calls_total",
		Help: "Calls to WorkOS, by call (code, refresh, revoke) and outcome (ok, refused, misconfigured, unavailable).",
	}, []string{"call", "outcome"})
	// ClientDocumentFetches counts fetches of client metadata documents, by outcome.
	ClientDocumentFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "client_document_fetches_total",
		Help: "Fetches of client ID metadata documents, by outcome (ok, invalid_url, blocked_address, network, timeout, status, content_type, too_large, invalid_document).",
	}, []string{"outcome"})
)

// Bearer refusal counters, resolved once so the hot path does no label lookup.
var (
	RefusedMissing      = BearerRefused.WithLabelValues("missing")
	RefusedMalformed    = BearerRefused.WithLabelValues("malformed")
	RefusedInvalid      = BearerRefused.WithLabelValues("invalid")
	RefusedSessionEnded = BearerRefused.WithLabelValues("session_ended")
	RefusedUnavailable  = BearerRefused.WithLabelValues("unavailable")
)

// Register adds the gateway's collectors to a config's registry; a nil registry is a no-op.
func Register(reg *prometheus.Registry) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{Registrations, Tokens, BearerRefused, Revocations, WorkOSCalls,
		Introspections, WorkOSLatency, StoreErrors, RevocationBroadcastUp, ClientDocumentFetches} {
		var already prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &already) {
			return err
		}
	}
	return nil
}
