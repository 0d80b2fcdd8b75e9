package oauth

// consent_page.go is the consent page: self-contained (no third-party resources), HTML-escaped
// by html/template, and never framed (respond.PageHeaders).

import (
	"html/template"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

var consentTemplate = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Authorize {{.ClientName}} – drio</title>
<style>` + respond.PageStyle + `</style></head>
<body><main>
<div class="brand">drio</div>
{{if .VerifiedHost}}<h1><b class="host">{{.VerifiedHost}}</b> wants to access your drio account</h1>
<p id="verified">This app identifies itself as <span class="client">{{.ClientName}}</span>; its address is verified: <b>{{.VerifiedHost}}</b>.</p>
{{else}}<h1><span class="client">{{.ClientName}}</span> wants to access your drio account</h1>
{{end}}
<p>After you sign in, it will be sent back to <span class="host">{{.RedirectHost}}</span> and will be able to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="{{.Action}}">
<input type="hidden" name="txn" value="{{.Txn}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<div class="actions">
<button class="deny" type="submit" name="decision" value="deny" id="deny">Cancel</button>
<button class="approve" type="submit" name="decision" value="approve" id="approve">Continue</button>
</div>
</form>
<p class="note">Only continue if you started this from {{.ClientName}}. You can sign out of it at any time.</p>
</main></body></html>
`))

// consentPage is the data of the consent template.
type consentPage struct {
	ClientName string
	// VerifiedHost is the host of a metadata-document client_id (the one thing about such a
	// client the gateway verified); empty for registered clients.
	VerifiedHost string
	RedirectHost string
	Scopes       []string
	Action       string
	Txn          string
	CSRF         string
}
