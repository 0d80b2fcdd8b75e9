// validate.go holds request-body decoding and the field checks shared by
// the app handlers, with the limits and patterns they enforce; failures are
// reported as validation_error details.

package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	maxNameLen         = 100
	maxDescriptionLen  = 2000
	maxInstructionsLen = 20000
	maxSlugLen         = 63
)

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	radii   = map[string]bool{"none": true, "sm": true, "md": true, "lg": true, "xl": true, "full": true}
)

// decodeObject reads a JSON object body into v. On failure it writes the
// error and returns false.
func decodeObject(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, CodeBadRequest, "Request body exceeds 1 MiB", nil)
			return false
		}
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Request body could not be read", nil)
		return false
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Request body is required", nil)
		return false
	}
	if !json.Valid(trimmed) {
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Malformed JSON body", nil)
		return false
	}
	if trimmed[0] != '{' {
		writeError(w, r, http.StatusBadRequest, CodeValidationError, "Request body must be a JSON object", nil)
		return false
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			writeError(w, r, http.StatusBadRequest, CodeValidationError, "Invalid request body",
				[]FieldError{{Field: te.Field, Message: "must be a " + jsonKind(te.Type.Kind().String())}})
			return false
		}
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Malformed JSON body", nil)
		return false
	}
	return true
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}

// The validators below check one optional input field and add what is
// wrong with it to errs. An absent field (nil) is fine unless required, and
// then it gets "is required" and no other check.

// present reports whether v is set, adding "is required" for field when it
// is not and required is true.
func present[T any](field string, v *T, required bool, errs *[]FieldError) bool {
	if v == nil && required {
		*errs = append(*errs, FieldError{Field: field, Message: "is required"})
	}
	return v != nil
}

func validateName(field string, v *string, required bool, errs *[]FieldError) {
	if !present(field, v, required, errs) {
		return
	}
	n := strings.TrimSpace(*v)
	switch {
	case n == "":
		*errs = append(*errs, FieldError{Field: field, Message: "must not be empty"})
	case utf8.RuneCountInString(n) > maxNameLen:
		*errs = append(*errs, FieldError{Field: field, Message: "must be at most " + strconv.Itoa(maxNameLen) + " characters"})
	}
}

func validateMaxLen(field string, v *string, max int, required bool, errs *[]FieldError) {
	if present(field, v, required, errs) && utf8.RuneCountInString(*v) > max {
		*errs = append(*errs, FieldError{Field: field, Message: "must be at most " + strconv.Itoa(max) + " characters"})
	}
}

func validateURL(field string, v *string, required bool, errs *[]FieldError) {
	if !present(field, v, required, errs) || *v == "" {
		return
	}
	u, err := url.Parse(*v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		*errs = append(*errs, FieldError{Field: field, Message: "must be an absolute http(s) URL"})
	}
}
