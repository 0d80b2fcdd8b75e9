package testkit

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is a cookie-keeping HTTP client that stops at every redirect, so a test drives the
// browser leg of a flow one hop at a time.
type Browser struct {
	// HTTP is the underlying client; HTTP.Jar holds the browser's cookies. Use it directly
	// to send a request with headers of the test's choosing from this browser.
	HTTP *http.Client
}

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{HTTP: NoRedirects(jar)}
}

// Get navigates to u (Accept: text/html, as a browser's navigation sends).
func (b *Browser) Get(tb testing.TB, u string) *Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	return RoundTrip(tb, b.HTTP, req)
}

// PostForm submits form to u as a page from origin does (no Origin header when origin is
// empty).
func (b *Browser) PostForm(tb testing.TB, u, origin string, form url.Values) *Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return RoundTrip(tb, b.HTTP, req)
}

// consentField matches the hidden fields of the consent page.
var consentField = regexp.MustCompile(`name="(txn|csrf)" value="([^"]*)"`)

// ConsentFields returns the hidden txn and csrf fields of a consent page, unescaped; a field
// the page lacks is absent from the result.
func ConsentFields(page string) url.Values {
	form := url.Values{}
	for _, m := range consentField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return form
}
