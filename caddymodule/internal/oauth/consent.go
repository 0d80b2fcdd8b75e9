package oauth

// consent.go shows the consent page and takes its answer: CSRF-checked, same-origin, bound to
// the browser that started the authorization. Approval is remembered per browser and client in
// a signed cookie, and is not reused for a cross-site navigation.

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// consentRemembered reports whether this browser approved this client for this redirect URI
// before, and the browser says this navigation is not cross-site (so a third-party page cannot
// ride on an earlier approval). A request without Sec-Fetch-Site proves nothing and is asked
// again.
func (s *Server) consentRemembered(r *http.Request, rt *Runtime, clientID, redirectURI string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "none", "same-origin":
	default:
		return false
	}
	return slices.Contains(s.rememberedConsent(r, rt.Secret), consentKey(clientID, redirectURI))
}

// consentOff reports whether the operator's `consent off` spares c the consent page. It never
// spares a metadata-document client: `consent off` is meant for gateways whose clients are all
// first-party, and such a client is any website that publishes a document, so without the page
// a site could send a signed-in user through /authorize and get a code at its own redirect URI
// without the user ever being asked.
func (s *Server) consentOff(c *grants.Client) bool {
	return s.cfg.DisableConsent && s.documentHost(c) == ""
}

// consentKey names one approval: a client and the redirect URI its tokens go to, so an
// approval for one redirect URI is not reused for another of the same client. The
// remembered-consent cookie separates its parts with "." and its keys with ",", so a client id
// that is not a plain token (a metadata document's URL, a configured id with a dot) goes in as
// a digest, marked by a ":" that no plain id holds; a URL would also overflow the cookie.
func consentKey(clientID, redirectURI string) string {
	if strings.ContainsFunc(clientID, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-')
	}) {
		clientID = "id:" + grants.HashString(clientID)[:22]
	}
	return clientID + "~" + grants.HashString(redirectURI)[:16]
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, rt *Runtime, req *authzRequest, txn, binding string) *respond.Error {
	name := req.client.Name
	if name == "" {
		name = "An unnamed application (" + req.client.ID + ")"
	}
	scopes := strings.Fields(req.scope)
	if len(scopes) == 0 {
		scopes = s.cfg.Scopes
	}
	v := &s.consent
	csrf := csrfToken(rt.Secret, txn, binding)
	nonce := grants.RandomToken(16)
	page := ConsentData{
		ClientName:      name,
		ClientID:        req.client.ID,
		ClientURI:       req.client.ClientURI,
		VerifiedHost:    s.documentHost(req.client),
		RedirectHost:    redirectHost(req.redirectURI),
		Scopes:          describeScopes(scopes),
		ScopeNames:      scopes,
		Action:          s.endpoint("authorize"),
		Hidden:          hiddenFields(txn, csrf),
		Txn:             txn,
		CSRF:            csrf,
		Nonce:           nonce,
		Stylesheet:      v.stylesheet,
		ProductName:     v.productName,
		LogoURL:         v.logoURL,
		PrimaryColor:    v.primary,
		BackgroundColor: v.background,
	}
	if u, err := url.Parse(req.client.ClientURI); err == nil {
		page.ClientHost = u.Host
	}
	// Rendered into a buffer first: a template that fails half-way sends the error page, not
	// half a form.
	var buf bytes.Buffer
	if err := v.tmpl.Execute(&buf, page); err != nil {
		s.logTemplateFailure(err)
		return respond.Server("The consent page could not be shown").Local()
	}
	respond.PageHeaders(w, "")
	w.Header().Set("Content-Security-Policy", v.csp(nonce, s.formAction(req.redirectURI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// templateLogEvery spaces the lines that say the consent template fails.
const templateLogEvery = time.Minute

// logTemplateFailure says at Error level, at most once a minute, that the consent template
// failed, so a broken template does not flood the log with one line per visitor.
func (s *Server) logTemplateFailure(err error) {
	now := time.Now().UnixNano()
	last := s.lastTemplateLog.Load()
	if now-last >= int64(templateLogEvery) && s.lastTemplateLog.CompareAndSwap(last, now) {
		s.logger.Error("the consent page template failed; users see an error page instead of the consent form: fix the consent template",
			zap.Bool("custom_template", s.consent.custom), zap.Error(err))
	}
}

// formAction lists where the consent form may lead. Browsers apply form-action to every
// redirect that follows the POST: approve goes to WorkOS, through AuthKit's own domain, back
// to our callback and on to the client; deny goes to the client. So: ourselves, any https
// origin (WorkOS and AuthKit hosts), the WorkOS endpoint as configured (http in development)
// and the client's redirect origin (loopback http or a private-use scheme).
func (s *Server) formAction(redirectURI string) string {
	parts := []string{"'self'", "https:", s.cfg.WorkOSEndpoint}
	if u, err := url.Parse(redirectURI); err == nil {
		if u.Host != "" {
			parts = append(parts, u.Scheme+"://"+u.Host)
		} else {
			parts = append(parts, u.Scheme+":")
		}
	}
	return strings.Join(parts, " ")
}

func redirectHost(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":" + u.Path
}

func describeScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes)+1)
	out = append(out, "Call the drio API as you")
	for _, s := range scopes {
		switch s {
		case "openid":
			out = append(out, "Know who you are")
		case "profile":
			out = append(out, "See your name")
		case "email":
			out = append(out, "See your email address")
		case "offline_access":
			out = append(out, "Stay signed in")
		default:
			out = append(out, s)
		}
	}
	return out
}

// errNotThisBrowser refuses a consent answer that is not bound to this browser.
func errNotThisBrowser() *respond.Error {
	return respond.AccessDenied("The consent form is not valid for this browser; start again from the application").Local()
}

// serveConsentDecision handles the consent form.
func (s *Server) serveConsentDecision(w http.ResponseWriter, r *http.Request, rt *Runtime) *respond.Error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return respond.AccessDenied("The consent form must be submitted from this site").Local()
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" && origin != s.cfg.Issuer {
		return respond.AccessDenied("The consent form must be submitted from this site").Local()
	}
	form, e := parseForm(w, r)
	if e != nil {
		return e.Local()
	}
	txn, csrf, decision := form.Get("txn"), form.Get("csrf"), form.Get("decision")
	// A missing csrf is not "incomplete": it is refused below with the same 403 as a wrong one,
	// after the transaction is found.
	if txn == "" || (decision != "approve" && decision != "deny") {
		return respond.InvalidRequest("The consent form is incomplete").Local()
	}
	pending, err := rt.Grants.Pending.Get(r.Context(), txn)
	if errors.Is(err, grants.ErrNotFound) {
		return respond.InvalidRequest("This sign-in request has expired or was already used").Local()
	}
	if err != nil {
		return s.storeFailed(r, "consent", err)
	}
	binding, _ := r.Cookie(s.cookieName(BindingCookie))
	if binding == nil || !s.bindingMatches(r, pending.BindingHash) ||
		!equalConstantTime(csrf, csrfToken(rt.Secret, txn, binding.Value)) {
		return errNotThisBrowser()
	}
	client, err := s.loadClient(r, rt, pending.ClientID)
	if err != nil || !s.redirectRegistered(client, pending.RedirectURI) {
		return respond.InvalidRequest("The application's registration changed; start again").Local()
	}
	if decision == "deny" {
		_ = rt.Grants.Pending.Delete(r.Context(), txn)
		return respond.AccessDenied("The user declined").To(s.target(pending.RedirectURI, pending.State, pending.HasState))
	}
	var approved *grants.Pending
	err = rt.Grants.Pending.Mutate(r.Context(), txn, s.cfg.PendingTTL, func(p *grants.Pending, found bool) (grants.Decision, error) {
		if !found {
			return grants.Keep, respond.InvalidRequest("This sign-in request has expired or was already used").Local()
		}
		p.Consented = true
		approved = p
		return grants.Write, nil
	})
	if e := s.mutateFailed(r, "consent", err); e != nil {
		return e
	}
	s.rememberConsent(w, r, rt.Secret, consentKey(approved.ClientID, approved.RedirectURI))
	return s.redirectToWorkOS(w, r, txn, approved, http.StatusSeeOther)
}

// redirectRegistered reports whether redirectURI is (still) one the client registered.
func (s *Server) redirectRegistered(c *grants.Client, redirectURI string) bool {
	_, ok := matchRedirectURI(c.RedirectURIs, redirectURI, s.cfg.RedirectSchemes)
	return ok
}
