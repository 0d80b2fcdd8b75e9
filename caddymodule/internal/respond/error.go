package respond

import (
	"fmt"
	"net/http"
	"time"
)

// OAuth error codes (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707 §2).
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidClientMetadata   = "invalid_client_metadata"
	CodeInvalidRedirectURI      = "invalid_redirect_uri"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeInvalidTarget           = "invalid_target"
	CodeInvalidScope            = "invalid_scope"
	CodeAccessDenied            = "access_denied"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
)

// Resource envelope codes (drio v1). drio v1 has no code for "try again later": a 503
// carries internal_error with Retry-After.
const (
	EnvelopeBadRequest   = "bad_request"
	EnvelopeUnauthorized = "unauthorized"
	EnvelopeForbidden    = "forbidden"
	EnvelopeInternal     = "internal_error"
)

// Delivery is how an Error reaches the caller.
type Delivery int

const (
	// AsJSON is the OAuth error body, for API clients (register, token, discovery).
	AsJSON Delivery = iota
	// AsPage is for a request that must not be redirected (unknown client, unregistered
	// redirect URI, bad or replayed state): a page for a browser, OAuth JSON for anything else.
	AsPage
	// ToClient redirects to the client's validated redirect URI with error, error_description,
	// its state and our issuer.
	ToClient
	// AsEnvelope is the drio resource envelope of protected routes.
	AsEnvelope
)

// Error is one failure answer. Build it with a constructor below (each call returns a fresh
// value), choose its delivery with Local, To or the Envelope constructor, and write it with
// Write.
type Error struct {
	Status      int
	Code        string
	Description string
	// RetryAfter, when positive, is sent as Retry-After (whole seconds, rounded up).
	RetryAfter time.Duration
	// WWWAuthenticate, when set, is sent as the WWW-Authenticate header.
	WWWAuthenticate string
	Delivery        Delivery
	// Target is where a ToClient error goes.
	Target *Target
	// RequestID is shown in the envelope's requestId (AsEnvelope only).
	RequestID string
}

// Error implements error, so an *Error can travel through code that returns errors.
func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Local makes e a local answer (AsPage) and returns it.
func (e *Error) Local() *Error {
	e.Delivery = AsPage
	return e
}

// To makes e a redirect to the client at t (ToClient) and returns it.
func (e *Error) To(t *Target) *Error {
	e.Delivery, e.Target = ToClient, t
	return e
}

// New returns an OAuth error; the description is formatted with args.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// InvalidRequest is a 400 invalid_request.
func InvalidRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

// MissingField is a 400 invalid_request naming the missing parameter.
func MissingField(name string) *Error {
	return InvalidRequest("Missing required field: %s", name)
}

// InvalidGrant is a 400 invalid_grant.
func InvalidGrant(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidGrant, format, args...)
}

// InvalidClient is a 401 invalid_client.
func InvalidClient(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, CodeInvalidClient, format, args...)
}

// InvalidClientMetadata is a 400 invalid_client_metadata (registration).
func InvalidClientMetadata(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidClientMetadata, format, args...)
}

// InvalidRedirectURI is a 400 invalid_redirect_uri (registration).
func InvalidRedirectURI(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidRedirectURI, format, args...)
}

// InvalidTarget is a 400 invalid_target (RFC 8707 resource).
func InvalidTarget(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidTarget, format, args...)
}

// InvalidScope is a 400 invalid_scope.
func InvalidScope(format string, args ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidScope, format, args...)
}

// AccessDenied is a 403 access_denied.
func AccessDenied(format string, args ...any) *Error {
	return New(http.StatusForbidden, CodeAccessDenied, format, args...)
}

// Server is a 500 server_error.
func Server(format string, args ...any) *Error {
	return New(http.StatusInternalServerError, CodeServerError, format, args...)
}

// Unavailable is a 503 temporarily_unavailable with Retry-After.
func Unavailable(retryAfter time.Duration, format string, args ...any) *Error {
	e := New(http.StatusServiceUnavailable, CodeTemporarilyUnavailable, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// RateLimited is a 429 temporarily_unavailable with Retry-After.
func RateLimited(retryAfter time.Duration) *Error {
	e := New(http.StatusTooManyRequests, CodeTemporarilyUnavailable,
		"Too many requests from this address; retry after %d seconds", RetrySeconds(retryAfter))
	e.RetryAfter = retryAfter
	return e
}

// Envelope is a drio resource envelope error for a protected route.
func Envelope(status int, code, message, requestID string) *Error {
	return &Error{Status: status, Code: code, Description: message, Delivery: AsEnvelope, RequestID: requestID}
}

// RetrySeconds is d in whole seconds, rounded up, at least 1.
func RetrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
