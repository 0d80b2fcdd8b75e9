package tests

import (
	"fmt"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/drio-gateway/gateway/internal/testkit"
)

// register registers a public client with testkit.DefaultRedirect.
func (s *stack) register(t *testing.T, name string) *testkit.Registration {
	t.Helper()
	return s.kit.Register(t, name, "")
}

// login runs a full flow for a new client and returns the client and its first token.
func (s *stack) login(t *testing.T, email string) (*testkit.Registration, *oauth2.Token) {
	t.Helper()
	c := s.register(t, "e2e client")
	return c, s.kit.Login(t, c, email)
}

// call sends a request to the gateway with an optional bearer token and JSON body, and
// decodes the JSON answer (nil for an empty body).
func (s *stack) call(t *testing.T, method, path, token string, body any) (*testkit.Response, map[string]any) {
	t.Helper()
	resp := s.kit.Call(t, method, path, token, body)
	return resp, resp.Object(t)
}

// postForm posts a form to a gateway path and decodes the JSON answer.
func (s *stack) postForm(t *testing.T, path string, form url.Values) (*testkit.Response, map[string]any) {
	t.Helper()
	resp := s.kit.PostForm(t, path, form)
	if resp.Body == "" {
		t.Fatalf("POST %s: status %d with an empty body, want JSON", path, resp.StatusCode)
	}
	return resp, resp.Object(t)
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	if s, ok := cur.(string); ok {
		return s
	}
	if cur == nil {
		return ""
	}
	return fmt.Sprint(cur)
}
