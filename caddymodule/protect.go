// protect.go holds the drio_protect handler: the bearer check in front of the upstream. A
// request with a valid WorkOS access token of a live session brokered here, whose permissions
// and role satisfy the operator's rules, goes on with the gateway's identity headers; anything
// else gets the drio envelope and a WWW-Authenticate challenge pointing at the
// protected-resource metadata (RFC 6750, RFC 9728).

package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/drio-gateway/gateway/caddymodule/internal/metrics"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
	"github.com/drio-gateway/gateway/caddymodule/internal/rules"
	"github.com/drio-gateway/gateway/caddymodule/verifier"
)

func init() {
	caddy.RegisterModule(Protect{})
}

// Protect requires a bearer token on every request it sees, except the Public paths (module
// http.handlers.drio_protect). Before passing a request on, it always removes client-sent
// identity headers, the gateway's cookies and (unless ForwardToken) the Authorization header,
// then sets:
//
//	X-Drio-User-Id, X-Drio-Org-Id, X-Drio-Session-Id, X-Drio-User-Email,
//	X-Drio-User-Role, X-Drio-User-Permissions (comma-separated), X-Request-Id
//
// and the placeholders {http.auth.user.id}, {http.auth.user.org_id},
// {http.auth.user.session_id}, {http.auth.user.email}, {http.auth.user.role}.
type Protect struct {
	// Public lists path patterns (as in Caddy's path matcher: exact, prefix* or *suffix)
	// that pass without a token. Identity headers are still stripped on them.
	Public []string `json:"public,omitempty"`

	// ForwardToken passes the verified Authorization header to the upstream. Default: false
	// (the upstream gets identity headers, never the token; MCP "token passthrough").
	ForwardToken bool `json:"forward_token,omitempty"`

	// StripHeaders are more header names to remove from client requests (any case, '_' or '-').
	StripHeaders []string `json:"strip_headers,omitempty"`

	// CORSOrigins are the origins (scheme://host[:port], or "*" for any) whose browser
	// scripts may call the protected routes; their preflights are answered without a token.
	// Default: none (a browser script of any origin cannot read the answers).
	CORSOrigins []string `json:"cors_origins,omitempty"`

	// Rules are checked once the token and its session are verified: a request that a rule
	// matches needs all of the rule's permissions and, when it lists roles, one of them, or
	// it gets 403 forbidden with error="insufficient_scope". Every matching rule applies; a
	// request no rule matches needs only a valid token. Rules never apply to Public paths.
	Rules []PermissionRule `json:"rules,omitempty"`

	app        *App
	logger     *zap.Logger
	public     caddyhttp.MatchPath
	strip      map[string]bool
	challenge  string
	scopeParam string
	rules      *rules.Set // nil without Rules
	// forbidden is the challenge of a 403 (error="insufficient_scope"), up to its
	// error_description.
	forbidden string
}

// PermissionRule is one of drio_protect's permission rules: which requests it applies to, and
// what a token needs to make them. Path patterns are those of Caddy's path matcher (exact,
// prefix*, *suffix, *substring*, or a * inside one segment), compared without regard to case
// with the cleaned request path; a trailing slash is not significant.
type PermissionRule struct {
	// Methods the rule applies to (any case; GET covers HEAD too). Empty: every method.
	Methods []string `json:"methods,omitempty"`
	// Paths are the path patterns the rule applies to; at least one ("*" for every path).
	Paths []string `json:"paths"`
	// Permissions are the WorkOS permission slugs the token must all have (its
	// "permissions" claim).
	Permissions []string `json:"permissions,omitempty"`
	// Roles are WorkOS role slugs of which the token must have one (its "role" claim).
	Roles []string `json:"roles,omitempty"`
}

// rule converts r for the rules package.
func (r PermissionRule) rule() rules.Rule {
	return rules.Rule{Methods: r.Methods, Paths: r.Paths, Permissions: r.Permissions, Roles: r.Roles}
}

// compileRules compiles the permission rules; nil without any.
func compileRules(list []PermissionRule) (*rules.Set, error) {
	rs := make([]rules.Rule, len(list))
	for i, r := range list {
		rs[i] = r.rule()
	}
	set, err := rules.Compile(rs)
	if err != nil {
		return nil, fmt.Errorf("drio_protect: permission rules: %w", err)
	}
	return set, nil
}

// permissionRuleFromArgs builds the rule of a Caddyfile require or require_role line: methods
// ("*" or a comma-separated list), one path pattern, then permissions (or, with roles, roles).
func permissionRuleFromArgs(methods, path string, names []string, roles bool) (PermissionRule, error) {
	r := PermissionRule{Paths: []string{path}}
	if methods != "*" {
		r.Methods = strings.Split(methods, ",")
	}
	if roles {
		r.Roles = names
	} else {
		r.Permissions = names
	}
	return r, rules.Validate(r.rule())
}

// refusedForbidden counts requests a permission rule refused.
var refusedForbidden = metrics.BearerRefused.WithLabelValues("forbidden")

// CaddyModule returns the Caddy module information.
func (Protect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.drio_protect",
		New: func() caddy.Module { return new(Protect) },
	}
}

// Provision finds the drio app and prepares the public-path matcher and the challenge.
func (p *Protect) Provision(ctx caddy.Context) error {
	app, err := drioApp(ctx)
	if err != nil {
		return err
	}
	return p.setup(ctx, app, ctx.Logger())
}

// setup does Provision's work once the app is known (tests call it directly).
func (p *Protect) setup(ctx caddy.Context, app *App, logger *zap.Logger) error {
	p.app, p.logger = app, logger
	p.public = caddyhttp.MatchPath(p.Public)
	if err := p.public.Provision(ctx); err != nil {
		return fmt.Errorf("drio_protect public paths: %v", err)
	}
	p.strip = make(map[string]bool, len(p.StripHeaders))
	for _, name := range p.StripHeaders {
		p.strip[normalizeHeaderName(name)] = true
	}
	p.challenge = fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource", scope="%s"`,
		app.Issuer, strings.Join(app.Scopes, " "))
	// No scope attribute: no OAuth scope grants a WorkOS permission, so a client that
	// re-authorized for one (MCP's step-up) would only get the same token again.
	p.forbidden = fmt.Sprintf(`Bearer error="insufficient_scope", resource_metadata="%s/.well-known/oauth-protected-resource", error_description=`,
		app.Issuer)
	// Compiled here, and refused here too, so a bad rule can never leave the handler running
	// without its rules.
	set, err := compileRules(p.Rules)
	if err != nil {
		return err
	}
	p.rules = set
	return nil
}

// Validate checks the public path patterns, the CORS origins and the permission rules.
func (p *Protect) Validate() error {
	for _, pat := range p.Public {
		if !strings.HasPrefix(pat, "/") && !strings.HasPrefix(pat, "*") {
			return fmt.Errorf("drio_protect: public path %q must start with / or *", pat)
		}
	}
	if _, err := compileRules(p.Rules); err != nil {
		return err
	}
	for i, r := range p.Rules {
		for _, pat := range r.Paths {
			if slices.Contains(p.Public, pat) {
				return fmt.Errorf("drio_protect: permission rule %d: path %q is also public; a public path passes without a token, so no rule applies to it: remove it from one of the two", i+1, pat)
			}
		}
	}
	for _, o := range p.CORSOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("drio_protect: cors_origins: %q is not an origin; write scheme://host[:port], e.g. https://app.example.com", o)
		}
	}
	return nil
}

// ServeHTTP checks the bearer token and sets the identity headers.
func (p *Protect) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	reqID := requestID(r)
	token, present, tokErr := verifier.BearerToken(r.Header)
	queryToken := false
	if strings.Contains(r.URL.RawQuery, "access_token") { // parse only when it may be there
		_, queryToken = r.URL.Query()["access_token"]
	}

	sanitizeRequestHeaders(r.Header, p.strip, p.ForwardToken)
	r.Header.Set(HeaderRequestID, reqID)
	w.Header().Set(HeaderRequestID, reqID)

	public, err := p.public.MatchWithError(r)
	if err != nil {
		p.logger.Error("matching public paths", zap.Error(err), zap.String("request_id", reqID))
		respond.Write(w, r, respond.Envelope(http.StatusInternalServerError, respond.EnvelopeInternal, "The request could not be checked", reqID))
		return nil
	}
	if public {
		r.Header.Del("Authorization")
		return p.serveNext(w, r, next)
	}
	if p.handleCORS(w, r) {
		return nil
	}

	switch {
	case errors.Is(tokErr, verifier.ErrMultipleHeaders) || (present && queryToken):
		metrics.RefusedMalformed.Inc()
		respond.Write(w, r, respond.Envelope(http.StatusBadRequest, respond.EnvelopeBadRequest, "Send the access token in exactly one Authorization header", reqID))
		return nil
	case !present || errors.Is(tokErr, verifier.ErrUnsupportedScheme):
		metrics.RefusedMissing.Inc()
		w.Header().Set("WWW-Authenticate", p.challenge)
		respond.Write(w, r, respond.Envelope(http.StatusUnauthorized, respond.EnvelopeUnauthorized, "Missing bearer token", reqID))
		return nil
	case tokErr != nil:
		metrics.RefusedMalformed.Inc()
		return p.reject(w, r, "Malformed bearer token")
	}

	st, err := p.app.runtime(r.Context())
	if err != nil {
		metrics.RefusedUnavailable.Inc()
		p.unavailable(w, r, reqID, 2*time.Second, "The gateway is starting; retry shortly")
		return nil
	}
	claims, err := st.Verifier.Verify(r.Context(), token)
	if err != nil {
		if errors.Is(err, verifier.ErrNoKeys) {
			metrics.RefusedUnavailable.Inc()
			p.logger.Warn("no WorkOS signing keys available; refusing bearer tokens", zap.String("request_id", reqID))
			p.unavailable(w, r, reqID, 5*time.Second, "Token verification is temporarily unavailable; retry shortly")
			return nil
		}
		metrics.RefusedInvalid.Inc()
		p.logger.Debug("bearer token refused", zap.Error(err), zap.String("request_id", reqID))
		return p.reject(w, r, "Invalid or expired bearer token")
	}
	var email string
	if !p.app.AllowForeignSessions {
		sess, err := st.Grants.Sessions.Live(r.Context(), claims.SessionID)
		if err != nil {
			metrics.RefusedUnavailable.Inc()
			p.logger.Error("session registry unavailable", zap.Error(err), zap.String("request_id", reqID))
			p.unavailable(w, r, reqID, 2*time.Second, "Session check is temporarily unavailable; retry shortly")
			return nil
		}
		if sess == nil || sess.UserID != claims.Subject {
			metrics.RefusedSessionEnded.Inc()
			p.logger.Debug("bearer token of an unknown or revoked session", zap.String("session_id", claims.SessionID), zap.String("request_id", reqID))
			return p.reject(w, r, "The session of this token has ended; sign in again")
		}
		email = sess.Email
	}
	if p.rules != nil {
		refusal := p.rules.Check(r.Method, r.URL.Path, claims.Permissions, claims.Role)
		if refusal == nil && r.URL.RawPath != "" {
			// The path was sent with encodings Go would not choose (%2F, …), and that is how
			// the upstream gets it: an upstream that routes on it must not be reached past a
			// rule that its form matches.
			refusal = p.rules.Check(r.Method, r.URL.RawPath, claims.Permissions, claims.Role)
		}
		if refusal != nil {
			p.forbid(w, r, reqID, refusal)
			return nil
		}
	}

	h := r.Header
	h.Set(HeaderUserID, claims.Subject)
	h.Set(HeaderSessionID, claims.SessionID)
	setIfNotEmpty(h, HeaderOrgID, claims.OrganizationID)
	setIfNotEmpty(h, HeaderUserRole, claims.Role)
	setIfNotEmpty(h, HeaderUserEmail, email)
	setIfNotEmpty(h, HeaderPermissions, strings.Join(claims.Permissions, ","))
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.user.id", claims.Subject)
		repl.Set("http.auth.user.session_id", claims.SessionID)
		repl.Set("http.auth.user.org_id", claims.OrganizationID)
		repl.Set("http.auth.user.email", email)
		repl.Set("http.auth.user.role", claims.Role)
	}
	return p.serveNext(w, r, next)
}

// serveNext calls the next handler (usually reverse_proxy) and, if it fails before writing
// anything, answers in the drio envelope: 502 when the upstream is unreachable, 504 when it
// timed out, with the status the proxy chose.
func (p *Protect) serveNext(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	tw := &trackingWriter{} // one allocation for the tracker and its wrapper
	tw.ResponseWriterWrapper = &tw.rww
	tw.rww.ResponseWriter = w
	err := next.ServeHTTP(tw, r)
	if err == nil || tw.wrote {
		return err
	}
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) || he.StatusCode < 500 {
		return err
	}
	p.logger.Warn("upstream failed", zap.Int("status", he.StatusCode), zap.Error(he.Err), zap.String("request_id", requestID(r)))
	message := "The upstream service failed; retry later"
	switch he.StatusCode {
	case http.StatusBadGateway:
		message = "The upstream service is unreachable; retry later"
	case http.StatusGatewayTimeout:
		message = "The upstream service did not answer in time; retry later"
	}
	respond.Write(w, r, respond.Envelope(he.StatusCode, respond.EnvelopeInternal, message, requestID(r)))
	return nil
}

// trackingWriter records whether the next handler wrote anything.
type trackingWriter struct {
	*caddyhttp.ResponseWriterWrapper
	rww   caddyhttp.ResponseWriterWrapper
	wrote bool
}

func (t *trackingWriter) WriteHeader(status int) {
	t.wrote = true
	t.ResponseWriterWrapper.WriteHeader(status)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriterWrapper.Write(b)
}

// reject answers 401 invalid_token with the challenge.
func (p *Protect) reject(w http.ResponseWriter, r *http.Request, message string) error {
	e := respond.Envelope(http.StatusUnauthorized, respond.EnvelopeUnauthorized, message, requestID(r))
	e.WWWAuthenticate = p.challenge + `, error="invalid_token"`
	respond.Write(w, r, e)
	return nil
}

// forbid answers 403 forbidden with error="insufficient_scope": the token is valid, but a
// permission rule wants more of it. The message names what the rule requires, never what the
// token has.
func (p *Protect) forbid(w http.ResponseWriter, r *http.Request, reqID string, refusal *rules.Refusal) {
	refusedForbidden.Inc()
	p.logger.Debug("request refused by a permission rule", zap.Int("rule", refusal.Index+1),
		zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("request_id", reqID))
	message := "This request needs " + refusal.Need
	e := respond.Envelope(http.StatusForbidden, respond.EnvelopeForbidden, message, reqID)
	// Need holds only permission and role slugs, which have no quote or backslash.
	e.WWWAuthenticate = p.forbidden + `"` + message + `"`
	respond.Write(w, r, e)
}

// unavailable answers 503 in the envelope with Retry-After: the check could not be made now.
func (p *Protect) unavailable(w http.ResponseWriter, r *http.Request, reqID string, retry time.Duration, message string) {
	e := respond.Envelope(http.StatusServiceUnavailable, respond.EnvelopeInternal, message, reqID)
	e.RetryAfter = retry
	respond.Write(w, r, e)
}

func setIfNotEmpty(h http.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Protect)(nil)
	_ caddy.Validator             = (*Protect)(nil)
	_ caddyhttp.MiddlewareHandler = (*Protect)(nil)
)
