package workosmock

import (
	"net/http"
	"strconv"
)

// Endpoint names an endpoint for fault injection and hit counting.
type Endpoint string

// The endpoints that can be faulted and counted.
const (
	// EndpointAuthenticateCode is POST /user_management/authenticate with
	// grant_type=authorization_code.
	EndpointAuthenticateCode Endpoint = "authenticate_code"
	// EndpointAuthenticateRefresh is POST /user_management/authenticate with
	// grant_type=refresh_token.
	EndpointAuthenticateRefresh Endpoint = "authenticate_refresh"
	// EndpointJWKS is GET /sso/jwks/{client_id} (and the
	// /user_management/sessions/jwks/{client_id} alias).
	EndpointJWKS Endpoint = "jwks"
	// EndpointRevoke is POST /user_management/sessions/revoke.
	EndpointRevoke Endpoint = "revoke"
	// EndpointAuthorize is GET /user_management/authorize.
	EndpointAuthorize Endpoint = "authorize"
)

// FaultMode says how a faulted request is answered.
type FaultMode string

// The fault modes.
const (
	// FaultStatus answers Fault.Status (default 500) with an optional
	// Retry-After header and a JSON body {"error":"server_error",...}.
	FaultStatus FaultMode = "status"
	// FaultHang blocks until the client gives up (then aborts the connection without an
	// answer) or the Server is closed.
	FaultHang FaultMode = "hang"
	// FaultTruncate answers 200 with Content-Length 1000, writes 10 bytes
	// and closes the connection.
	FaultTruncate FaultMode = "truncate"
	// FaultGarbage answers 200 with Content-Type application/json and a body
	// that is not JSON.
	FaultGarbage FaultMode = "garbage"
	// FaultEmptyKeySet answers 200 {"keys":[]} (meant for the JWKS).
	FaultEmptyKeySet FaultMode = "empty_key_set"
	// FaultEmptyJSON answers 200 {}.
	FaultEmptyJSON FaultMode = "empty_json"
)

// Fault is an injected failure. It applies to the next Count requests at
// its endpoint; Count <= 0 means until ClearFaults.
type Fault struct {
	Mode       FaultMode
	Status     int
	RetryAfter string
	Count      int
}

// SetFault injects f at ep, replacing any fault already set there.
func (s *Server) SetFault(ep Endpoint, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults[ep] = &fc
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Hits returns how many requests reached ep, faulted or not.
func (s *Server) Hits(ep Endpoint) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[ep]
}

// applyFault counts a hit at ep and, when a fault is armed there, answers
// the request with it and reports true.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, ep Endpoint) bool {
	s.mu.Lock()
	s.hits[ep]++
	f, ok := s.faults[ep]
	var fault Fault
	if ok {
		fault = *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				delete(s.faults, ep)
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	s.serveFault(w, r, fault)
	return true
}

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f.Mode {
	case FaultHang:
		select {
		case <-r.Context().Done():
			// A hung server never answers. Returning would send an empty 200, which a client
			// giving up at that moment may still read (its close races the response).
			panic(http.ErrAbortHandler)
		case <-s.closed:
			writeOAuthError(w, http.StatusServiceUnavailable, "server_error", "The server is shutting down.")
		}
	case FaultTruncate:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"access_t`))
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		conn, _, err := rc.Hijack()
		if err != nil {
			// HTTP/2 or a recorder: abort the stream instead.
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
	case FaultGarbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html>this is not json"))
	case FaultEmptyKeySet:
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
	case FaultEmptyJSON:
		writeJSON(w, http.StatusOK, map[string]any{})
	default: // FaultStatus and anything unknown
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeOAuthError(w, status, "server_error", "Injected fault: HTTP "+strconv.Itoa(status)+".")
	}
}
