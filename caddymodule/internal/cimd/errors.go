package cimd

import "fmt"

// The kinds of failure, each an outcome of the fetch metric.
const (
	KindInvalidURL      = "invalid_url"      // the client_id breaks the URL rules; nothing fetched
	KindBlockedAddress  = "blocked_address"  // the host resolves to a non-public address
	KindNetwork         = "network"          // DNS, connection or TLS failure
	KindTimeout         = "timeout"          // no complete answer within the timeout
	KindStatus          = "status"           // an answer other than 200 (redirects included)
	KindContentType     = "content_type"     // not application/json or application/*+json
	KindTooLarge        = "too_large"        // larger than the size cap
	KindInvalidDocument = "invalid_document" // not JSON, or metadata the gateway refuses
)

// Error is why a client_id URL could not be resolved to a client.
type Error struct {
	// Kind is one of the Kind* constants.
	Kind string
	// Msg says what is wrong, for the client's developer.
	Msg string
}

func (e *Error) Error() string { return e.Msg }

func fail(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
