package workosmock

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// session is one signed-in session (one per code exchange).
type session struct {
	id        string
	userID    string
	createdAt time.Time
}

// ExpireSession ends session sid as if it had hit its maximum length:
// later refreshes of it fail with invalid_grant.
func (s *Server) ExpireSession(sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endSessionLocked(sid)
}

// SessionRevoked reports whether session sid has ended, through POST
// /user_management/sessions/revoke, the logout endpoint or ExpireSession.
func (s *Server) SessionRevoked(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended[sid]
}

// RevokedSessions returns the ids of every ended session, in the order they
// ended.
func (s *Server) RevokedSessions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.endedList...)
}

// Sessions returns the ids of the sessions still active.
func (s *Server) Sessions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.sessions {
		if !s.ended[id] {
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) endSessionLocked(sid string) {
	if sid == "" || s.ended[sid] {
		return
	}
	s.ended[sid] = true
	s.endedList = append(s.endedList, sid)
	for tok, rt := range s.refresh {
		if rt.sid == sid {
			delete(s.refresh, tok)
		}
	}
}

// handleRevoke serves POST /user_management/sessions/revoke.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if s.applyFault(w, r, EndpointRevoke) {
		return
	}
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
		writeMessageError(w, http.StatusUnauthorized, "unauthorized", "Unauthorized")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	var body struct {
		SessionID string `json:"session_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeMessageError(w, http.StatusBadRequest, "invalid_request", "The request body is not valid JSON.")
		return
	}
	if body.SessionID == "" {
		writeMessageError(w, http.StatusBadRequest, "invalid_request", "session_id is required")
		return
	}
	s.mu.Lock()
	_, known := s.sessions[body.SessionID]
	if known {
		s.endSessionLocked(body.SessionID)
	}
	s.mu.Unlock()
	if !known {
		writeMessageError(w, http.StatusNotFound, "not_found", "Session not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// handleLogout serves GET /user_management/sessions/logout.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sid := q.Get("session_id")
	if sid == "" {
		writeMessageError(w, http.StatusUnprocessableEntity, "invalid_request", "session_id is required")
		return
	}
	returnTo := q.Get("return_to")
	if returnTo != "" {
		if err := checkAbsoluteHTTPURL(returnTo); err != nil {
			writeMessageError(w, http.StatusBadRequest, "invalid_request", "return_to is not an allowed URL")
			return
		}
	}
	s.mu.Lock()
	if _, known := s.sessions[sid]; known {
		s.endSessionLocked(sid)
	}
	s.mu.Unlock()
	if returnTo != "" {
		http.Redirect(w, r, returnTo, http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// sweepLoop drops expired codes and dead refresh tokens until Close.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired codes, refresh tokens past their expiry or grace
// window, and tokens of ended sessions.
func (s *Server) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for c, ac := range s.codes {
		if !now.Before(ac.expires) {
			delete(s.codes, c)
		}
	}
	for tok, rt := range s.refresh {
		switch {
		case s.ended[rt.sid]:
			delete(s.refresh, tok)
		case !rt.rotatedAt.IsZero() && !now.Before(rt.rotatedAt.Add(s.cfg.RefreshGrace)):
			delete(s.refresh, tok)
		case !now.Before(rt.expires):
			delete(s.refresh, tok)
		}
	}
}
