// admin.go is the operator's API for the gateway's clients and grants, served by Caddy's own
// admin endpoint (module admin.api.drio), so it inherits the admin listener's access controls
// (localhost by default, or Caddy's remote admin with its TLS client authentication):
//
//	GET    /drio/clients[?limit=N]                                   registered clients (no secrets: they have none)
//	                                                                 (clients configured in the drio block are not listed: they live in the config)
//	DELETE /drio/clients/<client_id>                                 remove a client; its sessions end
//	GET    /drio/sessions[?client_id=…][&user_id=…][&revoked=1][&limit=N]  brokered sessions
//	DELETE /drio/sessions/<session_id>                               end a session, here and at WorkOS

package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// Listing bounds of the admin API.
const (
	adminDefaultLimit = 1000
	adminMaxLimit     = 10000
)

// AdminAPI serves /drio/ on Caddy's admin endpoint (module admin.api.drio). Caddy loads it
// with every config; it answers 404 when the config has no drio app.
type AdminAPI struct {
	app    *App
	server *oauth.Server
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.drio",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision finds the drio app, if the config has one, and builds the server whose
// revocations the API uses.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	app, err := ctx.AppIfConfigured("drio")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil
	}
	if err != nil {
		return err
	}
	a.app = app.(*App)
	a.server, err = a.app.newServer(a.logger)
	return err
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/drio/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	if a.app == nil {
		return apiError(http.StatusNotFound, "this config has no drio app")
	}
	rt, err := a.app.runtime(r.Context())
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "the drio app is not started")
	}
	collection, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/drio/"), "/")
	limit, err := listLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	switch {
	case collection == "clients" && id == "" && r.Method == http.MethodGet:
		list, more, err := a.server.ListClients(r.Context(), rt, limit)
		if err != nil {
			return apiError(http.StatusServiceUnavailable, "listing clients: "+err.Error())
		}
		return writeAdminJSON(w, http.StatusOK, map[string]any{"clients": list, "more": more})
	case collection == "sessions" && id == "" && r.Method == http.MethodGet:
		list, more, err := a.server.ListSessions(r.Context(), rt, q.Get("client_id"), q.Get("user_id"), q.Get("revoked") == "1", limit)
		if err != nil {
			return apiError(http.StatusServiceUnavailable, "listing sessions: "+err.Error())
		}
		return writeAdminJSON(w, http.StatusOK, map[string]any{"sessions": list, "more": more})
	case collection == "clients" && id != "" && r.Method == http.MethodDelete:
		found, ended, err := a.server.DeleteClient(r.Context(), rt, id)
		if err != nil {
			return apiError(http.StatusServiceUnavailable, "deleting client: "+err.Error())
		}
		if why := a.server.UnstoredClient(id); !found && why != "" {
			return apiError(http.StatusNotFound, why)
		}
		if !found {
			return apiError(http.StatusNotFound, "no such client")
		}
		a.logger.Info("client deleted through the admin API", zap.String("client_id", id), zap.Int("sessions_ended", ended))
		return writeAdminJSON(w, http.StatusOK, map[string]any{"client_id": id, "deleted": true, "sessions_ended": ended})
	case collection == "sessions" && id != "" && r.Method == http.MethodDelete:
		found, err := a.server.EndSession(r.Context(), rt, id)
		if err != nil {
			return apiError(http.StatusServiceUnavailable, "revoking session: "+err.Error())
		}
		if !found {
			return apiError(http.StatusNotFound, "no such session")
		}
		return writeAdminJSON(w, http.StatusOK, map[string]any{"session_id": id, "revoked": true})
	case collection == "clients" || collection == "sessions":
		return apiError(http.StatusMethodNotAllowed, "use GET on the collection and DELETE on one item")
	}
	return apiError(http.StatusNotFound, "no such resource: use /drio/clients or /drio/sessions")
}

func listLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return adminDefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > adminMaxLimit {
		return 0, apiError(http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", adminMaxLimit))
	}
	return n, nil
}

func apiError(status int, msg string) error {
	return caddy.APIError{HTTPStatus: status, Err: errors.New(msg)}
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
