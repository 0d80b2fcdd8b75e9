package caddymodule

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestMetricsCount checks that the domain metrics move with what they count.
func TestMetricsCount(t *testing.T) {
	g := newTestGateway(t, nil)
	regs := counterValue(t, gatewayMetrics.registrations)
	codes := counterValue(t, gatewayMetrics.tokens.WithLabelValues("authorization_code"))
	exchanges := counterValue(t, gatewayMetrics.workos.WithLabelValues("code", "ok"))
	missing := counterValue(t, refusedMissing)
	invalid := counterValue(t, refusedInvalid)
	replays := counterValue(t, gatewayMetrics.revocations.WithLabelValues("code_replay"))

	c := g.register(t)
	f := g.startFlow(t, c, "ada@example.com")
	code := f.code(t)
	if resp := g.form(t, "/api/v1/auth/token", f.tokenForm(code)); resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, resp.Body)
	}
	g.do(t, "GET", "/api/v1/me", "", "", nil)
	g.do(t, "GET", "/api/v1/me", "", "", bearer("not.a.token"))
	g.form(t, "/api/v1/auth/token", f.tokenForm(code)) // replay

	for _, tc := range []struct {
		name   string
		c      prometheus.Counter
		before float64
	}{
		{"registrations_total", gatewayMetrics.registrations, regs},
		{"tokens_issued_total{authorization_code}", gatewayMetrics.tokens.WithLabelValues("authorization_code"), codes},
		{"workos_calls_total{code,ok}", gatewayMetrics.workos.WithLabelValues("code", "ok"), exchanges},
		{"bearer_refused_total{missing}", refusedMissing, missing},
		{"bearer_refused_total{invalid}", refusedInvalid, invalid},
		{"sessions_revoked_total{code_replay}", gatewayMetrics.revocations.WithLabelValues("code_replay"), replays},
	} {
		if got := counterValue(t, tc.c) - tc.before; got != 1 {
			t.Errorf("%s moved by %v, want 1", tc.name, got)
		}
	}
	reg := prometheus.NewRegistry()
	if err := registerMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := registerMetrics(reg); err != nil {
		t.Errorf("registering twice (a reload) = %v, want nil", err)
	}
}
