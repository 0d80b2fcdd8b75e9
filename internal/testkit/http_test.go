package testkit

import (
	"net/http"
	"testing"
)

func TestNewResponseDecodesOnlyJSON(t *testing.T) {
	body := []byte(`{"error":"invalid_request"}`)
	r := NewResponse(400, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body)
	if r.StatusCode != 400 || r.Body != string(body) || r.JSON["error"] != "invalid_request" {
		t.Errorf("JSON answer: %+v", r)
	}
	if r := NewResponse(200, http.Header{"Content-Type": {"text/plain"}}, body); r.JSON != nil || r.Body != string(body) {
		t.Errorf("text answer: JSON %v, body %q; want no JSON and the body", r.JSON, r.Body)
	}
	if r := NewResponse(200, http.Header{"Content-Type": {"application/json"}}, []byte("[1]")); r.JSON != nil {
		t.Errorf("JSON array: JSON %v, want nil", r.JSON)
	}
}
