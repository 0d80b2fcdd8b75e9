package caddymodule

import (
	"net/http"
	"testing"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/internal/testkit"
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
	regs := counterValue(t, metrics.Registrations)
	codes := counterValue(t, metrics.Tokens.WithLabelValues("authorization_code"))
	exchanges := counterValue(t, metrics.WorkOSCalls.WithLabelValues("code", "ok"))
	missing := counterValue(t, metrics.RefusedMissing)
	invalid := counterValue(t, metrics.RefusedInvalid)
	replays := counterValue(t, metrics.Revocations.WithLabelValues("code_replay"))

	c := g.register(t)
	f := g.kit.StartFlow(t, c, "ada@example.com")
	code := f.Code(t)
	if resp := g.form(t, "/api/v1/auth/token", f.TokenForm(code)); resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, resp.Body)
	}
	g.do(t, "GET", "/api/v1/me", "", "", nil)
	g.do(t, "GET", "/api/v1/me", "", "", testkit.Bearer("not.a.token"))
	g.form(t, "/api/v1/auth/token", f.TokenForm(code)) // replay

	for _, tc := range []struct {
		name   string
		c      prometheus.Counter
		before float64
	}{
		{"registrations_total", metrics.Registrations, regs},
		{"tokens_issued_total{authorization_code}", metrics.Tokens.WithLabelValues("authorization_code"), codes},
		{"workos_calls_total{code,ok}", metrics.WorkOSCalls.WithLabelValues("code", "ok"), exchanges},
		{"bearer_refused_total{missing}", metrics.RefusedMissing, missing},
		{"bearer_refused_total{invalid}", metrics.RefusedInvalid, invalid},
		{"sessions_revoked_total{code_replay}", metrics.Revocations.WithLabelValues("code_replay"), replays},
	} {
		if got := counterValue(t, tc.c) - tc.before; got != 1 {
			t.Errorf("%s moved by %v, want 1", tc.name, got)
		}
	}
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := metrics.Register(reg); err != nil {
		t.Errorf("registering twice (a reload) = %v, want nil", err)
	}
}
