package oauth

// health.go answers load balancers. <api_base>/auth/health is readiness: the store answers
// and a WorkOS key set has been fetched, so sign-ins and bearer checks can succeed; 503 with
// Retry-After otherwise. <api_base>/auth/live is liveness: the process serves, and nothing
// else is checked, so a store outage never gets every instance restarted.

import (
	"context"
	"net/http"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// healthTimeout bounds the store check of a readiness probe.
const healthTimeout = 2 * time.Second

// health is the readiness answer.
type health struct {
	Status string `json:"status"`
	Store  string `json:"store"`
	JWKS   string `json:"jwks"`
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	h := health{Status: "ok", Store: "ok", JWKS: "ok"}
	if err := rt.Grants.Ping(ctx); err != nil {
		h.Status, h.Store = "unavailable", "not answering"
	}
	if rt.Verifier.Stats().Keys == 0 {
		h.Status, h.JWKS = "unavailable", "no key set fetched yet"
	}
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusOK
	if h.Status != "ok" {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	respond.JSON(w, status, h)
	return nil
}

func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, _ *Runtime) *respond.Error {
	w.Header().Set("Cache-Control", "no-store")
	respond.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
