package respond

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Write answers with e as its Delivery says. It is the only place an error body is written.
func Write(w http.ResponseWriter, r *http.Request, e *Error) {
	h := w.Header()
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(RetrySeconds(e.RetryAfter)))
	}
	if e.WWWAuthenticate != "" {
		h.Set("WWW-Authenticate", e.WWWAuthenticate)
	}
	switch e.Delivery {
	case AsEnvelope:
		JSON(w, e.Status, envelope{Error: envelopeBody{Code: e.Code, Message: e.Description, RequestID: e.RequestID}})
	case ToClient:
		if e.Target == nil {
			writeOAuthJSON(w, Server("The client's redirect URI is unknown"))
			return
		}
		Redirect(w, r, e.Target, url.Values{"error": {e.Code}, "error_description": {e.Description}})
	case AsPage:
		if !strings.Contains(r.Header.Get("Accept"), "text/html") {
			writeOAuthJSON(w, e)
			return
		}
		var buf bytes.Buffer
		if err := errorTemplate.Execute(&buf, errorPage{Code: e.Code, Description: e.Description}); err != nil {
			writeOAuthJSON(w, e)
			return
		}
		PageHeaders(w, "")
		w.WriteHeader(e.Status)
		_, _ = w.Write(buf.Bytes())
	default:
		writeOAuthJSON(w, e)
	}
}

// writeOAuthJSON writes e as {"error","error_description"} with no-store caching.
func writeOAuthJSON(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	JSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// envelope is the drio v1 resource error body.
type envelope struct {
	Error envelopeBody `json:"error"`
}

type envelopeBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Details   any    `json:"details"`
	RequestID string `json:"requestId"`
}

// JSON writes v as a JSON body with status.
func JSON(w http.ResponseWriter, status int, v any) {
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
