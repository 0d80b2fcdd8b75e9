package respond

import (
	"html/template"
	"net/http"
)

// PageStyle is the stylesheet of every page the gateway shows a person (inline: the pages load
// no third-party resource).
const PageStyle = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
 background:#f4f5f7;color:#1b1f24;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{background:#fff;width:100%;max-width:440px;margin:24px;padding:36px 32px;border-radius:14px;
 box-shadow:0 1px 2px rgba(0,0,0,.06),0 8px 28px rgba(0,0,0,.08)}
.brand{font-weight:700;letter-spacing:.02em;color:#5b45e0;font-size:14px;text-transform:uppercase;margin-bottom:20px}
h1{font-size:22px;line-height:1.3;margin:0 0 12px}
p{margin:0 0 14px;color:#444c56}
.client{font-weight:600;color:#1b1f24;word-break:break-word}
.host{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:14px;background:#f1f2f4;border-radius:6px;padding:2px 6px;overflow-wrap:anywhere}
ul{margin:0 0 22px;padding-left:20px;color:#444c56}
li{margin:4px 0}
.actions{display:flex;gap:12px}
button{flex:1;font:inherit;font-weight:600;padding:11px 16px;border-radius:8px;cursor:pointer;border:1px solid transparent}
.approve{background:#5b45e0;color:#fff}
.approve:hover{background:#4a36c9}
.deny{background:#fff;color:#1b1f24;border-color:#d0d4da}
.deny:hover{background:#f6f7f9}
.note{font-size:13px;color:#6a737d;margin-top:20px}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;color:#b3261e}
`

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sign-in problem – drio</title>
<style>` + PageStyle + `</style></head>
<body><main>
<div class="brand">drio</div>
<h1>This sign-in request can't continue</h1>
<p>{{.Description}}</p>
<p class="note">Go back to the application you came from and start again. <span class="code">{{.Code}}</span></p>
</main></body></html>
`))

// errorPage is the data of the local error template.
type errorPage struct {
	Code        string
	Description string
}

// PageHeaders are sent with every HTML page: no framing, no referrer, no caching, and a
// policy that allows only inline styles and form posts to formAction.
func PageHeaders(w http.ResponseWriter, formAction string) {
	h := w.Header()
	csp := "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
	if formAction != "" {
		csp += "; form-action " + formAction
	} else {
		csp += "; form-action 'none'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/html; charset=utf-8")
}
