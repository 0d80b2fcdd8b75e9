// errors.go holds the gateway's two error families and their writers. They are never mixed:
// OAuth-style errors for /.well-known/* and /api/v1/auth/*, and the drio resource envelope for
// protected routes (design §4).

package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// OAuth error codes (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707 §2).
const (
	codeInvalidRequest          = "invalid_request"
	codeInvalidClient           = "invalid_client"
	codeInvalidClientMetadata   = "invalid_client_metadata"
	codeInvalidRedirectURI      = "invalid_redirect_uri"
	codeInvalidGrant            = "invalid_grant"
	codeUnsupportedGrantType    = "unsupported_grant_type"
	codeUnsupportedResponseType = "unsupported_response_type"
	codeInvalidTarget           = "invalid_target"
	codeInvalidScope            = "invalid_scope"
	codeAccessDenied            = "access_denied"
	codeServerError             = "server_error"
	codeTemporarilyUnavailable  = "temporarily_unavailable"
)

// oauthError is an RFC 6749 error answer. Build one with a constructor below (each call returns
// a fresh value) and write it with writeOAuthError.
type oauthError struct {
	status      int
	code        string
	description string
	retryAfter  time.Duration
	// wwwAuthenticate, when set, is sent as the WWW-Authenticate header (401 invalid_client).
	wwwAuthenticate string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func newOAuthError(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status: status, code: code, description: fmt.Sprintf(format, args...)}
}

func errInvalidRequest(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusBadRequest, codeInvalidRequest, format, args...)
}

func errMissingField(name string) *oauthError {
	return errInvalidRequest("Missing required field: %s", name)
}

func errInvalidGrant(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusBadRequest, codeInvalidGrant, format, args...)
}

func errInvalidClient(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusUnauthorized, codeInvalidClient, format, args...)
}

func errInvalidClientMetadata(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusBadRequest, codeInvalidClientMetadata, format, args...)
}

func errInvalidRedirectURI(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusBadRequest, codeInvalidRedirectURI, format, args...)
}

func errInvalidTarget(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusBadRequest, codeInvalidTarget, format, args...)
}

func errServer(format string, args ...any) *oauthError {
	return newOAuthError(http.StatusInternalServerError, codeServerError, format, args...)
}

func errUnavailable(retryAfter time.Duration, format string, args ...any) *oauthError {
	e := newOAuthError(http.StatusServiceUnavailable, codeTemporarilyUnavailable, format, args...)
	e.retryAfter = retryAfter
	return e
}

func errRateLimited(retryAfter time.Duration) *oauthError {
	e := newOAuthError(http.StatusTooManyRequests, codeTemporarilyUnavailable,
		"Too many requests from this address; retry after %d seconds", retrySeconds(retryAfter))
	e.retryAfter = retryAfter
	return e
}

// writeOAuthError writes e as {"error","error_description"} with no-store caching.
func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retrySeconds(e.retryAfter)))
	}
	if e.wwwAuthenticate != "" {
		h.Set("WWW-Authenticate", e.wwwAuthenticate)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	writeJSON(w, e.status, map[string]string{
		"error":             e.code,
		"error_description": e.description,
	})
}

func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// Resource envelope codes (drio v1, reference/drio-v1.md §3b). drio v1 has no code for
// "try again later": a 503 carries internal_error with Retry-After.
const (
	resBadRequest   = "bad_request"
	resUnauthorized = "unauthorized"
	resInternal     = "internal_error"
)

// resourceError is the drio v1 resource envelope body.
type resourceError struct {
	Error resourceErrorBody `json:"error"`
}

type resourceErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Details   any    `json:"details"`
	RequestID string `json:"requestId"`
}

// writeResourceError writes the drio envelope with the request's id, which is also in the
// X-Request-Id response header and in every log line about the request.
func writeResourceError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, status, resourceError{Error: resourceErrorBody{
		Code:      code,
		Message:   message,
		RequestID: requestID(r),
	}})
}

// requestID returns Caddy's per-request UUID ({http.request.uuid}), so the id in a response,
// in our logs and in Caddy's own logs is the same.
func requestID(r *http.Request) string {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if v, ok := repl.GetString("http.request.uuid"); ok {
			return v
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value passed here is a plain struct or map of strings; this cannot happen.
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
