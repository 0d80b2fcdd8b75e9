package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Response is a finished HTTP exchange with its body read.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       string
	// JSON is the body decoded as a JSON object when the Content-Type is application/json
	// and the body is one; nil otherwise.
	JSON map[string]any
}

// Object returns the body as a JSON object whatever the Content-Type, nil for an empty
// body, and stops the test if the body is something else.
func (r *Response) Object(tb testing.TB) map[string]any {
	tb.Helper()
	if r.Body == "" {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
		tb.Fatalf("status %d: body is not a JSON object (%v): %s", r.StatusCode, err, r.Body)
	}
	return out
}

// NoRedirects returns an HTTP client with cookie jar jar (nil for none) that never follows a
// redirect, so a test sees every hop.
func NoRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// RoundTrip sends req with c, reads the whole answer, and stops the test on a transport
// error.
func RoundTrip(tb testing.TB, c *http.Client, req *http.Request) *Response {
	tb.Helper()
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return NewResponse(resp.StatusCode, resp.Header, raw)
}

// NewResponse is the Response for a status, header and body obtained some other way than
// RoundTrip (for example from an httptest.ResponseRecorder), with JSON filled in the same way.
func NewResponse(status int, header http.Header, body []byte) *Response {
	out := &Response{StatusCode: status, Header: header, Body: string(body)}
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(body, &out.JSON)
	}
	return out
}

// Bearer is an Authorization header carrying token.
func Bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// RewriteQuery returns rawURL with its query changed by edit, as a user could edit a URL that
// passes through their browser. It stops the test if rawURL does not parse.
func RewriteQuery(tb testing.TB, rawURL string, edit func(url.Values)) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("rewriting %q: %v", rawURL, err)
	}
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	return u.String()
}
