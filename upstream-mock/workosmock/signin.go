package workosmock

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// formField is one hidden input of the sign-in form.
type formField struct {
	Name  string
	Value string
}

type signInUser struct {
	ID       string
	Name     string
	Email    string
	Initials string
	Detail   string
}

type signInPage struct {
	Heading  string
	AppHost  string
	Hint     string
	Hidden   []formField
	Users    []signInUser
	Action   string
	Provider string
}

type errorPage struct {
	Title  string
	Detail string
}

const pageStyle = `
*{box-sizing:border-box}
html,body{margin:0;padding:0}
body{min-height:100vh;display:flex;align-items:center;justify-content:center;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 background:linear-gradient(160deg,#f5f7fb 0%,#e9edf5 100%);color:#1f2430;}
.card{width:100%;max-width:420px;margin:24px;background:#fff;border-radius:14px;
 box-shadow:0 1px 2px rgba(16,24,40,.06),0 12px 32px rgba(16,24,40,.10);padding:32px 28px;}
.brand{display:flex;align-items:center;gap:10px;font-weight:600;font-size:15px;color:#4b5565;margin-bottom:22px}
.logo{width:28px;height:28px;border-radius:8px;background:#6363f1;color:#fff;display:flex;align-items:center;justify-content:center;font-size:14px;font-weight:700}
h1{font-size:22px;line-height:1.3;margin:0 0 6px;font-weight:650;letter-spacing:-.01em}
p.sub{margin:0 0 22px;color:#667085;font-size:14px;line-height:1.5}
p.hint{margin:-10px 0 18px;color:#b54708;font-size:13px}
form{margin:0}
.users{display:flex;flex-direction:column;gap:10px}
button.user{width:100%;display:flex;align-items:center;gap:12px;padding:12px 14px;border:1px solid #d0d5dd;
 border-radius:10px;background:#fff;cursor:pointer;text-align:left;font:inherit;color:inherit;transition:border-color .15s,background .15s}
button.user:hover,button.user:focus-visible{border-color:#6363f1;background:#f7f7ff;outline:none}
.avatar{flex:none;width:36px;height:36px;border-radius:50%;background:#eef0ff;color:#4444c8;display:flex;align-items:center;justify-content:center;font-weight:650;font-size:14px}
.who{display:flex;flex-direction:column;min-width:0}
.name{font-weight:600;font-size:15px}
.email{color:#667085;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.detail{color:#98a2b3;font-size:12px}
.cancel{margin-top:18px;text-align:center}
button.link{background:none;border:none;color:#667085;font:inherit;font-size:14px;cursor:pointer;text-decoration:underline;padding:6px}
button.link:hover{color:#1f2430}
.foot{margin-top:22px;padding-top:16px;border-top:1px solid #eaecf0;color:#98a2b3;font-size:12px;text-align:center}
.err h1{color:#b42318}
`

var signInTmpl = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sign in</title>
<style>` + pageStyle + `</style>
</head>
<body>
<main class="card">
 <div class="brand"><span class="logo">W</span><span>AuthKit</span></div>
 <h1>{{.Heading}}</h1>
 <p class="sub">Choose an account to continue to <strong>{{.AppHost}}</strong>.</p>
 {{if .Hint}}<p class="hint">No account matches “{{.Hint}}”.</p>{{end}}
 <div class="users">
 {{range .Users}}
  <form method="post" action="{{$.Action}}">
   {{range $.Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
   {{end}}<input type="hidden" name="user_id" value="{{.ID}}">
   <button type="submit" class="user" data-email="{{.Email}}" data-user-id="{{.ID}}">
    <span class="avatar" aria-hidden="true">{{.Initials}}</span>
    <span class="who"><span class="name">{{.Name}}</span><span class="email">{{.Email}}</span>{{if .Detail}}<span class="detail">{{.Detail}}</span>{{end}}</span>
   </button>
  </form>
 {{end}}
 </div>
 <form method="post" action="{{.Action}}" class="cancel">
  {{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
  {{end}}<input type="hidden" name="cancel" value="1">
  <button type="submit" class="link" data-action="cancel">Cancel</button>
 </form>
 <div class="foot">WorkOS stand-in for local development</div>
</main>
</body>
</html>
`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + pageStyle + `</style>
</head>
<body>
<main class="card err">
 <div class="brand"><span class="logo">W</span><span>AuthKit</span></div>
 <h1>{{.Title}}</h1>
 <p class="sub">{{.Detail}}</p>
 <div class="foot">WorkOS stand-in for local development</div>
</main>
</body>
</html>
`))

func initials(u User) string {
	var b strings.Builder
	for _, part := range []string{u.FirstName, u.LastName} {
		for _, r := range part {
			b.WriteRune(r)
			break
		}
	}
	if b.Len() == 0 {
		for _, r := range u.Email {
			b.WriteRune(r)
			break
		}
	}
	return strings.ToUpper(b.String())
}

// renderSignIn writes the hosted sign-in page for a validated request.
func (s *Server) renderSignIn(w http.ResponseWriter, a authzRequest) {
	s.mu.Lock()
	users := make([]signInUser, 0, len(s.users))
	for _, u := range s.users {
		detail := "No organization"
		if u.OrganizationID != "" {
			detail = u.Role
			if detail == "" {
				detail = "member"
			}
		}
		name := u.Name()
		if name == "" {
			name = u.Email
		}
		users = append(users, signInUser{ID: u.ID, Name: name, Email: u.Email, Initials: initials(u), Detail: detail})
	}
	s.mu.Unlock()

	redirect, _ := url.Parse(a.RedirectURI)
	heading := "Sign in to continue"
	if a.ScreenHint == "sign-up" {
		heading = "Create an account to continue"
	}
	page := signInPage{
		Heading: heading,
		AppHost: redirect.Host,
		Hint:    a.LoginHint,
		Hidden:  a.values(),
		Users:   users,
		// Relative to /user_management/authorize, so it also works behind a
		// path prefix.
		Action:   "authorize/complete",
		Provider: a.Provider,
	}
	var buf bytes.Buffer
	if err := signInTmpl.Execute(&buf, page); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	// No form-action on the sign-in page: Chromium applies it to every redirect that follows
	// the form post, and the chain goes on through the relying party's callback to its own
	// client, which this page cannot know (real AuthKit does not restrict it either).
	setPageHeaders(w, "")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// renderErrorPage writes an HTML error page (never a redirect), used when
// the client id or redirect URI cannot be trusted.
func (s *Server) renderErrorPage(w http.ResponseWriter, status int, title, detail string) {
	var buf bytes.Buffer
	if err := errorTmpl.Execute(&buf, errorPage{Title: title, Detail: detail}); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w, "'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// setPageHeaders sets the headers of an HTML page; formAction "" leaves form posts (and the
// redirects after them) unrestricted.
func setPageHeaders(w http.ResponseWriter, formAction string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	csp := "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
	if formAction != "" {
		csp += "; form-action " + formAction
	}
	h.Set("Content-Security-Policy", csp)
}
