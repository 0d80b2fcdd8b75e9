package oauth

// consent_page.go is the consent page: self-contained (no third-party resources but the
// operator's logo), HTML-escaped by html/template, and never framed (respond.PageHeaders).

import (
	"html/template"
)

var consentTemplate = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Authorize {{.ClientName}} – {{.ProductName}}</title>
<style nonce="{{.Nonce}}">{{.Stylesheet}}</style></head>
<body><main>
{{if .LogoURL}}<img class="logo" src="{{.LogoURL}}" alt="" height="40">{{end}}
<div class="brand">{{.ProductName}}</div>
{{if .VerifiedHost}}<h1><b class="host">{{.VerifiedHost}}</b> wants to access your {{.ProductName}} account</h1>
<p id="verified">This app identifies itself as <span class="client">{{.ClientName}}</span>; its address is verified: <b>{{.VerifiedHost}}</b>.</p>
{{else}}<h1><span class="client">{{.ClientName}}</span> wants to access your {{.ProductName}} account</h1>
{{end}}
<p>After you sign in, it will be sent back to <span class="host">{{.RedirectHost}}</span> and will be able to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="{{.Action}}">
{{.Hidden}}
<div class="actions">
<button class="deny" type="submit" name="decision" value="deny" id="deny">Cancel</button>
<button class="approve" type="submit" name="decision" value="approve" id="approve">Continue</button>
</div>
</form>
<p class="note">Only continue if you started this from {{.ClientName}}. You can sign out of it at any time.</p>
</main></body></html>
`))

// ConsentData is what the consent page template is executed with, the built-in one or the
// operator's. html/template escapes every value for where it is placed.
//
// The form must post (method="post") to Action and carry Hidden, plus a submit button named
// "decision" with the value "approve" or "deny". A form without Hidden is refused as forged.
// Inline styles need nonce="{{.Nonce}}" on their <style> element: the page's policy allows no
// other style (no style attributes either), no script, and images only from the logo's origin.
type ConsentData struct {
	// ClientName is the name the client registered, or "An unnamed application (<id>)".
	ClientName string
	// ClientID is the client's id.
	ClientID string
	// ClientURI is the home page the client registered (not verified by anyone), or "".
	ClientURI string
	// ClientHost is ClientURI's host, or "".
	ClientHost string
	// VerifiedHost is the host of a client whose client_id is the URL of its metadata
	// document (the one thing about such a client the gateway verified); "" for registered
	// and configured clients.
	VerifiedHost string
	// RedirectHost is where the client's tokens go: the redirect URI's host (or, for a
	// private-use scheme, scheme:path). This is what the user should check.
	RedirectHost string
	// Scopes describe in words what the client may do, one line each.
	Scopes []string
	// ScopeNames are the scopes the client asked for (or the defaults), as sent.
	ScopeNames []string
	// Action is the URL the form posts to.
	Action string
	// Hidden is the form's hidden txn and csrf inputs, ready to place inside the form.
	Hidden template.HTML
	// Txn and CSRF are the values inside Hidden, for a template that writes its own inputs
	// (named "txn" and "csrf").
	Txn  string
	CSRF string
	// Nonce goes on every <style> element: <style nonce="{{.Nonce}}">.
	Nonce string
	// Stylesheet is the built-in page's stylesheet with the configured colours, for
	// <style nonce="{{.Nonce}}">{{.Stylesheet}}</style>.
	Stylesheet template.CSS
	// ProductName is the configured product name, or "drio".
	ProductName string
	// LogoURL, PrimaryColor and BackgroundColor are the configured branding ("" when unset).
	LogoURL         string
	PrimaryColor    string
	BackgroundColor string
}
