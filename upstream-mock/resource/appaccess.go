// appaccess.go holds the steps the per-app handlers share: finding the
// caller's own app (404 for anyone else's), decoding and validating a
// request body, and reading or changing an app under the lock.

package resource

import "net/http"

// findLocked returns owner's app id, or nil when it does not exist or
// belongs to someone else.
func (s *Server) findLocked(owner, id string) *app {
	a, ok := s.apps[id]
	if !ok || a.owner != owner {
		return nil
	}
	return a
}

func appNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, CodeNotFound, "App not found", nil)
}

// decodeValid decodes the JSON object body into in, then runs validate
// (when not nil) and answers 400 validation_error with msg and its field
// errors if there are any. It reports whether the body was accepted; on
// false the response has been written.
func decodeValid(w http.ResponseWriter, r *http.Request, in any, msg string, validate func() []FieldError) bool {
	if !decodeObject(w, r, in) {
		return false
	}
	if validate == nil {
		return true
	}
	if errs := validate(); len(errs) > 0 {
		writeError(w, r, http.StatusBadRequest, CodeValidationError, msg, errs)
		return false
	}
	return true
}

// viewApp answers 200 with view(a) for who's app id, or 404. view runs
// under the lock and must copy what it returns out of a.
func (s *Server) viewApp(w http.ResponseWriter, r *http.Request, who identity, id string, view func(a *app) any) {
	s.mu.Lock()
	a := s.findLocked(who.UserID, id)
	var out any
	if a != nil {
		out = view(a)
	}
	s.mu.Unlock()
	if a == nil {
		appNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// updateApp changes who's app id. It answers 404 unless the app exists
// (before the body is read, and again after, since it may have been deleted
// meanwhile), decodes and validates the body into in as decodeValid does
// (msg names a rejected body), and then, under the lock, stamps the app's
// UpdatedAt and answers 200 with what apply returns; apply makes the change.
func (s *Server) updateApp(w http.ResponseWriter, r *http.Request, who identity, id string,
	in any, msg string, validate func() []FieldError, apply func(a *app) any) {
	s.mu.Lock()
	exists := s.findLocked(who.UserID, id) != nil
	s.mu.Unlock()
	if !exists {
		appNotFound(w, r)
		return
	}
	if !decodeValid(w, r, in, msg, validate) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findLocked(who.UserID, id)
	if a == nil {
		appNotFound(w, r)
		return
	}
	a.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, apply(a))
}
