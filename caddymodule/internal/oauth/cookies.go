package oauth

// cookies.go holds the browser-side state of the flow: the binding cookie that ties the
// browser at /authorize to the browser at /callback, the remembered-consent cookie, and the
// CSRF token of the consent form. All are HttpOnly, SameSite=Lax and, on an https issuer,
// __Host- prefixed and Secure.

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
)

// The gateway's cookies (base names; on an https issuer they carry the __Host- prefix).
const (
	BindingCookie = "drio_bind"
	ConsentCookie = "drio_consent"
)

const (
	consentMaxAge  = 30 * 24 * time.Hour
	maxConsentList = 20
)

// IsGatewayCookie reports whether name is one of the gateway's own cookies, which never reach
// the upstream.
func IsGatewayCookie(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	return name == BindingCookie || name == ConsentCookie
}

// cookieName is base with the __Host- prefix on an https issuer.
func (s *Server) cookieName(base string) string {
	if s.secureCookies {
		return "__Host-" + base
	}
	return base
}

func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(base),
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   s.secureCookies,
		SameSite: http.SameSiteLaxMode,
	})
}

// bindingValue returns the browser's binding cookie, setting a new one if it has none. It is
// set again on every authorization, so it lives as long as the newest pending authorization
// it binds.
func (s *Server) bindingValue(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(s.cookieName(BindingCookie)); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		v = grants.RandomToken(32)
	}
	s.setCookie(w, BindingCookie, v, s.cfg.PendingTTL+time.Minute)
	return v
}

// bindingMatches reports whether r carries the binding cookie whose hash is want.
func (s *Server) bindingMatches(r *http.Request, want string) bool {
	c, err := r.Cookie(s.cookieName(BindingCookie))
	if err != nil || c.Value == "" {
		return false
	}
	return equalConstantTime(grants.HashString(c.Value), want)
}

func mac(secret []byte, parts ...string) string {
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfToken binds the consent form to one pending authorization and one browser.
func csrfToken(secret []byte, txn, binding string) string {
	return mac(secret, "csrf", txn, binding)
}

// rememberedConsent returns the approvals (consentKey) this browser gave, if the cookie is
// authentic and unexpired. Format: <expiry>.<key>,<key>.<mac>.
func (s *Server) rememberedConsent(r *http.Request, secret []byte) []string {
	c, err := r.Cookie(s.cookieName(ConsentCookie))
	if err != nil {
		return nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil
	}
	if !equalConstantTime(mac(secret, "consent", parts[0], parts[1]), parts[2]) {
		return nil
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return nil
	}
	return strings.Split(parts[1], ",")
}

// rememberConsent adds an approval (consentKey) to the browser's remembered-consent cookie.
func (s *Server) rememberConsent(w http.ResponseWriter, r *http.Request, secret []byte, key string) {
	ids := s.rememberedConsent(r, secret)
	if !slices.Contains(ids, key) {
		ids = append(ids, key)
	}
	if len(ids) > maxConsentList {
		ids = ids[len(ids)-maxConsentList:]
	}
	exp := strconv.FormatInt(time.Now().Add(consentMaxAge).Unix(), 10)
	list := strings.Join(ids, ",")
	s.setCookie(w, ConsentCookie, exp+"."+list+"."+mac(secret, "consent", exp, list), consentMaxAge)
}

// equalConstantTime compares two secrets without leaking where they differ.
func equalConstantTime(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
