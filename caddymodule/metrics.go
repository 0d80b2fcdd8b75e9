// metrics.go holds the gateway's domain metrics. Caddy already counts requests, statuses and
// durations per handler (caddy_http_requests_total{handler="drio_oauth"}); these add what
// only the gateway knows, with bounded label values.

package caddymodule

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// gatewayMetrics are created once and registered with every config's registry (Caddy makes a
// new registry on each reload).
var gatewayMetrics = struct {
	registrations prometheus.Counter
	tokens        *prometheus.CounterVec
	bearerRefused *prometheus.CounterVec
	revocations   *prometheus.CounterVec
	workos        *prometheus.CounterVec
}{
	registrations: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "registrations_total",
		Help: "Clients registered through dynamic client registration.",
	}),
	tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "tokens_issued_total",
		Help: "Token pairs issued, by grant (authorization_code, refresh_token).",
	}, []string{"grant"}),
	bearerRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "bearer_refused_total",
		Help: "Requests to protected routes refused, by reason (missing, malformed, invalid, session_ended, unavailable).",
	}, []string{"reason"}),
	revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "sessions_revoked_total",
		Help: "Brokered sessions revoked, by reason (code_replay, refresh_reuse, upstream_refused).",
	}, []string{"reason"}),
	workos: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "drio", Name: "workos_calls_total",
		Help: "Calls to WorkOS, by call (code, refresh, revoke) and outcome (ok, refused, unavailable).",
	}, []string{"call", "outcome"}),
}

// registerMetrics adds the gateway's collectors to a config's registry.
func registerMetrics(reg *prometheus.Registry) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{gatewayMetrics.registrations, gatewayMetrics.tokens,
		gatewayMetrics.bearerRefused, gatewayMetrics.revocations, gatewayMetrics.workos} {
		var already prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

// countWorkOS records the outcome of one WorkOS call.
func countWorkOS(call string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "unavailable"
		if v, _ := classifyWorkOSError(err); v == upstreamRefused {
			outcome = "refused"
		}
	}
	gatewayMetrics.workos.WithLabelValues(call, outcome).Inc()
}

// Bearer refusal counters, resolved once so the hot path does no label lookup.
var (
	refusedMissing      = gatewayMetrics.bearerRefused.WithLabelValues("missing")
	refusedMalformed    = gatewayMetrics.bearerRefused.WithLabelValues("malformed")
	refusedInvalid      = gatewayMetrics.bearerRefused.WithLabelValues("invalid")
	refusedSessionEnded = gatewayMetrics.bearerRefused.WithLabelValues("session_ended")
	refusedUnavailable  = gatewayMetrics.bearerRefused.WithLabelValues("unavailable")
)
