// Package resource is a runnable stand-in for the drio v1 resource API
// (/api/v1/templates, /api/v1/me, /api/v1/apps/...), the upstream the
// gateway protects.
//
// It trusts identity ONLY from the headers the gateway sets
// (X-Drio-User-Id, X-Drio-Org-Id, X-Drio-Session-Id, X-Drio-User-Email,
// X-Drio-User-Role, X-Drio-User-Permissions); it never looks at the
// Authorization header. Protected routes answer 401 when X-Drio-User-Id is
// missing, so a gateway that forgot to protect a route is caught. Apps are
// kept in memory and scoped per user id. Every error uses the drio v1
// envelope {"error":{"code","message","details","requestId"}}.
package resource

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Identity headers set by the gateway.
const (
	HeaderUserID      = "X-Drio-User-Id"
	HeaderOrgID       = "X-Drio-Org-Id"
	HeaderSessionID   = "X-Drio-Session-Id"
	HeaderUserEmail   = "X-Drio-User-Email"
	HeaderUserRole    = "X-Drio-User-Role"
	HeaderPermissions = "X-Drio-User-Permissions"
	HeaderRequestID   = "X-Request-Id"
)

// maxBody caps request bodies (1 MiB).
const maxBody = 1 << 20

// Server is the drio v1 resource API. Create it with New.
type Server struct {
	now func() time.Time

	mu      sync.Mutex
	apps    map[string]*app     // by app id
	byOwner map[string][]string // owner user id -> app ids, creation order
	configs map[string]map[string]any
	last    lastRequest

	requests atomic.Int64
}

type lastRequest struct {
	method string
	path   string
	header http.Header
}

// New returns an empty resource API.
func New() *Server {
	return &Server{
		now:     time.Now,
		apps:    map[string]*app{},
		byOwner: map[string][]string{},
		configs: map[string]map[string]any{},
	}
}

// LastRequest returns a copy of the method, path and headers of the last
// request received, for tests that check what the gateway forwarded.
func (s *Server) LastRequest() (method, path string, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.method, s.last.path, s.last.header.Clone()
}

// Requests returns how many requests the server has received.
func (s *Server) Requests() int64 {
	return s.requests.Load()
}

// identity is the caller as described by the gateway's headers.
type identity struct {
	UserID      string
	OrgID       string
	SessionID   string
	Email       string
	Role        string
	Permissions []string
}

func identityFrom(h http.Header) (identity, bool) {
	id := identity{
		UserID:    strings.TrimSpace(h.Get(HeaderUserID)),
		OrgID:     strings.TrimSpace(h.Get(HeaderOrgID)),
		SessionID: strings.TrimSpace(h.Get(HeaderSessionID)),
		Email:     strings.TrimSpace(h.Get(HeaderUserEmail)),
		Role:      strings.TrimSpace(h.Get(HeaderUserRole)),
	}
	id.Permissions = []string{}
	for _, p := range strings.Split(h.Get(HeaderPermissions), ",") {
		if p = strings.TrimSpace(p); p != "" {
			id.Permissions = append(id.Permissions, p)
		}
	}
	return id, id.UserID != ""
}

type ctxKey struct{}

// requestID returns the id assigned to r by ServeHTTP.
func requestID(r *http.Request) string {
	if v, ok := r.Context().Value(ctxKey{}).(string); ok {
		return v
	}
	return ""
}

// validRequestID accepts a caller-supplied id if it is short printable ASCII.
func validRequestID(v string) bool {
	if v == "" || len(v) > 200 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	s.last = lastRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
	s.mu.Unlock()

	rid := r.Header.Get(HeaderRequestID)
	if !validRequestID(rid) {
		rid = uuid.NewString()
	}
	w.Header().Set(HeaderRequestID, rid)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rid))

	if r.URL.Path == "/healthz" {
		if !allow(w, r, http.MethodGet) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
		return
	}

	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	if !ok {
		notFound(w, r)
		return
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")

	switch segs[0] {
	case "templates":
		switch len(segs) {
		case 1:
			if allow(w, r, http.MethodGet) {
				s.listTemplates(w, r)
			}
		case 2:
			if allow(w, r, http.MethodGet) {
				s.getTemplate(w, r, segs[1])
			}
		default:
			notFound(w, r)
		}
		return
	case "me", "apps":
	default:
		notFound(w, r)
		return
	}

	// Everything below is protected.
	who, ok := identityFrom(r.Header)
	if !ok {
		writeError(w, r, http.StatusUnauthorized, CodeUnauthorized, "Missing or invalid bearer token", nil)
		return
	}
	if segs[0] == "me" {
		if len(segs) != 1 {
			notFound(w, r)
			return
		}
		if allow(w, r, http.MethodGet) {
			s.getMe(w, r, who)
		}
		return
	}
	switch {
	case len(segs) == 1:
		if allow(w, r, http.MethodGet, http.MethodPost) {
			if r.Method == http.MethodPost {
				s.createApp(w, r, who)
			} else {
				s.listApps(w, r, who)
			}
		}
	case len(segs) == 2 && segs[1] != "":
		if allow(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete) {
			switch r.Method {
			case http.MethodPatch:
				s.patchApp(w, r, who, segs[1])
			case http.MethodDelete:
				s.deleteApp(w, r, who, segs[1])
			default:
				s.getApp(w, r, who, segs[1])
			}
		}
	case len(segs) == 3 && segs[1] != "" && segs[2] == "config":
		if allow(w, r, http.MethodGet, http.MethodPut) {
			if r.Method == http.MethodPut {
				s.putConfig(w, r, who, segs[1])
			} else {
				s.getConfig(w, r, who, segs[1])
			}
		}
	case len(segs) == 3 && segs[1] != "" && segs[2] == "commands":
		if allow(w, r, http.MethodPost) {
			s.runCommands(w, r, who, segs[1])
		}
	default:
		notFound(w, r)
	}
}

// allow answers 405 (envelope code bad_request) unless r.Method is listed.
// HEAD is accepted wherever GET is.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, r, http.StatusMethodNotAllowed, CodeBadRequest, "Method "+r.Method+" not allowed", nil)
	return false
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, CodeNotFound, "Route not found", nil)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, who identity) {
	writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{
		"id":             who.UserID,
		"email":          nullable(who.Email),
		"organizationId": nullable(who.OrgID),
		"role":           nullable(who.Role),
		"permissions":    who.Permissions,
		"sessionId":      nullable(who.SessionID),
	}})
}
