package oauth

// consent_options.go is the operator's say over the consent page: branding (product name, logo,
// two colours) and an optional html/template of their own. Everything here is checked and
// computed once when the configuration is loaded; a request only fills in the data.

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// ConsentOptions brand the consent page or replace it. The zero value is the built-in page.
type ConsentOptions struct {
	// ProductName replaces "drio" in the page's title, heading and brand line.
	ProductName string
	// LogoURL is an https image shown above the heading (http only on a loopback host). The
	// page's Content-Security-Policy allows images from this URL's origin and no other.
	LogoURL string
	// PrimaryColor colours the brand line and the approve button: #rgb or #rrggbb.
	PrimaryColor string
	// BackgroundColor colours the page behind the card: #rgb or #rrggbb.
	BackgroundColor string
	// Template, when set, replaces the built-in page. It is executed with a ConsentData.
	Template *template.Template
}

// maxProductName bounds ConsentOptions.ProductName, in characters.
const maxProductName = 64

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// Check reports the first option that is not acceptable, with what to write instead.
func (o ConsentOptions) Check() error {
	if n := utf8.RuneCountInString(o.ProductName); n > maxProductName || !utf8.ValidString(o.ProductName) ||
		strings.IndexFunc(o.ProductName, unicode.IsControl) >= 0 {
		return fmt.Errorf("consent product_name must be at most %d characters of printable text", maxProductName)
	}
	for name, c := range map[string]string{"primary_color": o.PrimaryColor, "background_color": o.BackgroundColor} {
		if c != "" && !hexColor.MatchString(c) {
			return fmt.Errorf("consent %s %q must be a CSS hex colour: #rgb or #rrggbb", name, c)
		}
	}
	if o.LogoURL != "" {
		if _, err := logoOrigin(o.LogoURL); err != nil {
			return fmt.Errorf("consent logo_url %q: %v", o.LogoURL, err)
		}
	}
	return nil
}

// logoOrigin is the origin the page's img-src allows: that of an absolute https URL (http only
// on loopback) with no userinfo and no fragment.
func logoOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", errors.New("must be an absolute URL such as https://cdn.example.com/logo.svg")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname())) {
		return "", errors.New("must use https (http is allowed only for localhost, 127.0.0.1 or [::1])")
	}
	if u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, "#'\"; ,\\") {
		return "", errors.New("must not have userinfo, a fragment, quotes, spaces, commas or semicolons")
	}
	return u.Scheme + "://" + u.Host, nil
}

// ParseConsentTemplate reads and parses an operator's consent template, then renders it once
// with sample data so a reference to a field ConsentData lacks fails now, not at sign-in. The
// error names the file. It also reports whether the sample page carries the hidden form fields
// (without them every approval is refused as a forged form).
func ParseConsentTemplate(path string) (t *template.Template, hasHidden bool, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("consent template: %v", err)
	}
	t, err = template.New("consent").Parse(string(src))
	if err != nil {
		return nil, false, fmt.Errorf("consent template %s: %v", path, err)
	}
	sample := sampleConsentData()
	var buf bytes.Buffer
	if err := t.Execute(&buf, sample); err != nil {
		return nil, false, fmt.Errorf("consent template %s: rendering it with sample data: %v", path, err)
	}
	out := buf.String()
	return t, strings.Contains(out, sample.Txn) && strings.Contains(out, sample.CSRF), nil
}

// sampleConsentData is what ParseConsentTemplate renders a template with.
func sampleConsentData() ConsentData {
	d := ConsentData{
		ClientName:   "Example App",
		ClientID:     "sample-client",
		ClientURI:    "https://app.example.com",
		ClientHost:   "app.example.com",
		VerifiedHost: "app.example.com",
		RedirectHost: "127.0.0.1:8765",
		Scopes:       describeScopes([]string{"openid", "email"}),
		ScopeNames:   []string{"openid", "email"},
		Action:       "https://gateway.example.com/api/v1/auth/authorize",
		Txn:          "sample-txn-c8b1d0",
		CSRF:         "sample-csrf-41f7e2",
		Nonce:        "sample-nonce",
		ProductName:  "drio",
	}
	d.Hidden = hiddenFields(d.Txn, d.CSRF)
	return d
}

// consentView is the consent page as configured: template, stylesheet and the fixed part of
// the Content-Security-Policy, computed once.
type consentView struct {
	tmpl        *template.Template
	custom      bool
	productName string
	logoURL     string
	primary     string
	background  string
	stylesheet  template.CSS
	// cspPrefix is everything of the policy but the style nonce and form-action.
	cspPrefix string
}

// newConsentView prepares the page for o (already checked).
func newConsentView(o ConsentOptions) consentView {
	v := consentView{
		tmpl:        consentTemplate,
		productName: o.ProductName,
		logoURL:     o.LogoURL,
		primary:     o.PrimaryColor,
		background:  o.BackgroundColor,
		cspPrefix:   "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
	}
	if o.Template != nil {
		v.tmpl, v.custom = o.Template, true
	}
	if v.productName == "" {
		v.productName = "drio"
	}
	if origin, err := logoOrigin(o.LogoURL); o.LogoURL != "" && err == nil {
		v.cspPrefix += "; img-src " + origin
	}
	css := respond.PageStyle + ".logo{display:block;max-height:40px;max-width:100%;margin-bottom:16px}\n"
	// The colours matched hexColor, so they cannot leave the declaration they are put in.
	if c := o.PrimaryColor; c != "" {
		css += ".brand{color:" + c + "}.approve,.approve:hover{background:" + c + "}.approve:hover{filter:brightness(.9)}\n"
	}
	if c := o.BackgroundColor; c != "" {
		css += "body{background:" + c + "}\n"
	}
	v.stylesheet = template.CSS(css)
	return v
}

// csp is the page's policy for one response: styles only from the element carrying nonce,
// images only from the logo's origin, forms only to formAction.
func (v consentView) csp(nonce, formAction string) string {
	return v.cspPrefix + "; style-src 'nonce-" + nonce + "'; form-action " + formAction
}

// hiddenFields are the form's transaction and CSRF inputs, as one value a template can place.
func hiddenFields(txn, csrf string) template.HTML {
	return template.HTML(`<input type="hidden" name="txn" value="` + template.HTMLEscapeString(txn) +
		`"><input type="hidden" name="csrf" value="` + template.HTMLEscapeString(csrf) + `">`)
}
