package oauth

// request.go parses the bodies and queries of the OAuth endpoints with bounded size and strict
// rules: one media type, no repeated parameters, bounded JSON depth.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// MaxFormBody is the largest form body (token, refresh, consent) the server reads.
const MaxFormBody = 16 << 10

// Other limits: a registration is small JSON.
const (
	maxRegisterBody = 16 << 10
	maxJSONDepth    = 8
	maxQueryLength  = 16 << 10
)

// requireMethod returns a 405 (with Allow set) unless r uses one of methods.
func requireMethod(w http.ResponseWriter, r *http.Request, methods ...string) *respond.Error {
	for _, m := range methods {
		if r.Method == m {
			return nil
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	return respond.New(http.StatusMethodNotAllowed, respond.CodeInvalidRequest,
		"Method %s is not allowed here; use %s", r.Method, strings.Join(methods, " or "))
}

// readBody reads at most limit bytes of r's body; a larger body is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *respond.Error) {
	if r.ContentLength > limit {
		return nil, respond.New(http.StatusRequestEntityTooLarge, respond.CodeInvalidRequest,
			"Request body is larger than %d bytes", limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, respond.New(http.StatusRequestEntityTooLarge, respond.CodeInvalidRequest,
				"Request body is larger than %d bytes", limit)
		}
		return nil, respond.InvalidRequest("Could not read the request body")
	}
	return body, nil
}

// mediaType returns the lower-case media type of r's Content-Type, without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// parseForm reads an application/x-www-form-urlencoded POST body and refuses repeated
// parameters (OAuth 2.1 §3.2). Query parameters are ignored.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, *respond.Error) {
	if mediaType(r) != "application/x-www-form-urlencoded" {
		return nil, respond.InvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	body, oerr := readBody(w, r, MaxFormBody)
	if oerr != nil {
		return nil, oerr
	}
	return parseUniqueQuery(string(body))
}

// parseUniqueQuery parses a query or form string, refusing a repeated name.
func parseUniqueQuery(raw string) (url.Values, *respond.Error) {
	if len(raw) > maxQueryLength {
		return nil, respond.InvalidRequest("Request parameters are longer than %d bytes", maxQueryLength)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, respond.InvalidRequest("Parameters are not valid URL encoding")
	}
	for name, vs := range vals {
		if len(vs) > 1 {
			return nil, respond.InvalidRequest("Duplicate parameter: %s", sanitizeName(name))
		}
	}
	return vals, nil
}

// sanitizeName keeps a client-chosen parameter name safe to echo in an error description.
func sanitizeName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x21 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// checkJSONShape verifies that body is one JSON object, nested at most maxDepth deep, with no
// key repeated within an object (a duplicate would let two parsers disagree).
func checkJSONShape(body []byte, maxDepth int) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				// Token reports a clean EOF even inside an open object or array.
				return errors.New("body is not valid JSON")
			}
			break
		}
		if err != nil {
			return errors.New("body is not valid JSON")
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("body must be a JSON object")
			}
			first = false
		} else if len(stack) == 0 {
			return errors.New("body must hold exactly one JSON object")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObject && top.wantKey {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return errors.New("duplicate key " + sanitizeName(key) + " in JSON object")
				}
				top.keys[key] = true
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.isObject {
			top.wantKey = true
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if len(stack) >= maxDepth {
					return errors.New("JSON is nested too deeply")
				}
				stack = append(stack, &frame{isObject: d == '{', wantKey: d == '{', keys: map[string]bool{}})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].isObject {
					stack[len(stack)-1].wantKey = true
				}
			}
		}
	}
	if first {
		return errors.New("body is empty")
	}
	return nil
}
