package resource

import (
	"encoding/json"
	"net/http"
)

// Error codes of the drio v1 resource envelope.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeValidationError = "validation_error"
	CodeInternalError   = "internal_error"
)

// ErrorBody is the drio v1 resource error envelope:
// {"error":{"code","message","details","requestId"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the error envelope. Details is null unless
// the error lists offending fields.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Details   any    `json:"details"`
	RequestID string `json:"requestId"`
}

// FieldError names one invalid input field in a validation_error's details.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal_error","message":"Internal server error","details":null,"requestId":""}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes the envelope. details may be nil.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, details any) {
	if fe, ok := details.([]FieldError); ok && len(fe) == 0 {
		details = nil
	}
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{
		Code:      code,
		Message:   msg,
		Details:   details,
		RequestID: requestID(r),
	}})
}
