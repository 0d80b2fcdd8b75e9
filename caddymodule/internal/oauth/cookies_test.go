package oauth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
)

// cookieServer builds a Server for the cookie methods; New makes no call.
func cookieServer(t *testing.T, issuer string) *Server {
	t.Helper()
	s, err := New(Config{Issuer: issuer, APIBase: "/api/v1", PendingTTL: 10 * time.Minute}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withCookies returns a GET request carrying the cookies a response set.
func withCookies(w *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/authorize", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestCSRFToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	base := csrfToken(secret, "txn1", "bind1")
	if again := csrfToken(secret, "txn1", "bind1"); again != base {
		t.Errorf("csrfToken(same inputs) = %q then %q, want equal", base, again)
	}
	for _, tc := range []struct {
		name         string
		secret       []byte
		txn, binding string
	}{
		{"A20/other-transaction", secret, "txn2", "bind1"},
		{"A20/other-browser", secret, "txn1", "bind2"},
		{"A20/other-secret", []byte("another secret"), "txn1", "bind1"},
		{"A20/shifted-boundary", secret, "txn1b", "ind1"},
		{"A20/swapped", secret, "bind1", "txn1"},
		{"A20/empty-binding", secret, "txn1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := csrfToken(tc.secret, tc.txn, tc.binding); got == base {
				t.Errorf("csrfToken(%q, %q) = %q, want different from csrfToken(%q, %q)", tc.txn, tc.binding, got, "txn1", "bind1")
			}
		})
	}
	if len(base) != 43 {
		t.Errorf("len(csrfToken) = %d, want 43", len(base))
	}
}

func TestCookieName(t *testing.T) {
	for _, tc := range []struct{ issuer, want string }{
		{"https://gw.example", "__Host-drio_consent"},
		{"HTTPS://gw.example", "__Host-drio_consent"}, // schemes are case-insensitive
		{"http://127.0.0.1:8080", "drio_consent"},
	} {
		if got := cookieServer(t, tc.issuer).cookieName(ConsentCookie); got != tc.want {
			t.Errorf("cookieName(%q) on %s = %q, want %q", ConsentCookie, tc.issuer, got, tc.want)
		}
	}
}

func TestRememberedConsentRoundTrip(t *testing.T) {
	secret := []byte("consent secret")
	for _, issuer := range []string{"https://gw.example", "http://localhost:8080"} {
		t.Run("A19/"+issuer, func(t *testing.T) {
			s := cookieServer(t, issuer)
			empty := httptest.NewRequest(http.MethodGet, "/", nil)
			if got := s.rememberedConsent(empty, secret); got != nil {
				t.Errorf("rememberedConsent(no cookie) = %q, want nil", got)
			}
			w := httptest.NewRecorder()
			s.rememberConsent(w, empty, secret, "drio_C1")
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("rememberConsent set %d cookies, want 1", len(cookies))
			}
			c := cookies[0]
			https := strings.HasPrefix(issuer, "https:")
			if c.Name != s.cookieName(ConsentCookie) || !c.HttpOnly || c.Secure != https || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != int(consentMaxAge/time.Second) {
				t.Errorf("rememberConsent cookie = %+v, want %s, HttpOnly, Secure=%v, SameSite=Lax, Path=/, MaxAge=%d", c, s.cookieName(ConsentCookie), https, int(consentMaxAge/time.Second))
			}
			r := withCookies(w)
			if got := s.rememberedConsent(r, secret); !slices.Equal(got, []string{"drio_C1"}) {
				t.Errorf("rememberedConsent(after rememberConsent(drio_C1)) = %q, want [drio_C1]", got)
			}

			w2 := httptest.NewRecorder()
			s.rememberConsent(w2, r, secret, "drio_C2")
			if got := s.rememberedConsent(withCookies(w2), secret); !slices.Equal(got, []string{"drio_C1", "drio_C2"}) {
				t.Errorf("rememberedConsent(after a second client) = %q, want [drio_C1 drio_C2]", got)
			}
			w3 := httptest.NewRecorder()
			s.rememberConsent(w3, withCookies(w2), secret, "drio_C1")
			if got := s.rememberedConsent(withCookies(w3), secret); !slices.Equal(got, []string{"drio_C1", "drio_C2"}) {
				t.Errorf("rememberedConsent(after repeating drio_C1) = %q, want [drio_C1 drio_C2]", got)
			}
		})
	}
}

func TestRememberedConsentBounded(t *testing.T) {
	secret := []byte("s")
	s := cookieServer(t, "https://gw.example")
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := range maxConsentList + 5 {
		w := httptest.NewRecorder()
		s.rememberConsent(w, r, secret, fmt.Sprintf("drio_%02d", i))
		r = withCookies(w)
	}
	got := s.rememberedConsent(r, secret)
	if len(got) != maxConsentList || got[0] != "drio_05" || got[len(got)-1] != fmt.Sprintf("drio_%02d", maxConsentList+4) {
		t.Errorf("rememberedConsent(after %d clients) = %q, want the last %d", maxConsentList+5, got, maxConsentList)
	}
}

func TestRememberedConsentRefused(t *testing.T) {
	secret := []byte("consent secret")
	s := cookieServer(t, "https://gw.example")
	name := s.cookieName(ConsentCookie)
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	past := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	good := future + ".drio_C1." + mac(secret, "consent", future, "drio_C1")
	mustBeGood := func() {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: good})
		if got := s.rememberedConsent(r, secret); !slices.Equal(got, []string{"drio_C1"}) {
			t.Fatalf("rememberedConsent(%q) = %q, want [drio_C1] (the baseline must pass)", good, got)
		}
	}
	mustBeGood()
	lastFlipped := good[:len(good)-1] + string(good[len(good)-1]^1)
	for _, tc := range []struct {
		name, cookieName, value string
		secret                  []byte
	}{
		{"A23/client-added", name, future + ".drio_C1,drio_EVIL." + mac(secret, "consent", future, "drio_C1"), secret},
		{"A23/client-swapped", name, future + ".drio_EVIL." + mac(secret, "consent", future, "drio_C1"), secret},
		{"A23/expiry-extended", name, "9999999999.drio_C1." + mac(secret, "consent", future, "drio_C1"), secret},
		{"A23/mac-flipped", name, lastFlipped, secret},
		{"A23/mac-missing", name, future + ".drio_C1.", secret},
		{"A23/two-parts", name, future + ".drio_C1", secret},
		{"A23/four-parts", name, good + ".x", secret},
		{"A23/wrong-secret", name, good, []byte("other secret")},
		{"A23/expired", name, past + ".drio_C1." + mac(secret, "consent", past, "drio_C1"), secret},
		{"A23/expiry-not-a-number", name, "soon.drio_C1." + mac(secret, "consent", "soon", "drio_C1"), secret},
		{"A23/csrf-mac-reused", name, future + ".drio_C1." + mac(secret, "csrf", future, "drio_C1"), secret},
		{"A23/cookie-without-host-prefix", ConsentCookie, good, secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: tc.cookieName, Value: tc.value})
			if got := s.rememberedConsent(r, tc.secret); got != nil {
				t.Errorf("rememberedConsent(%s=%q) = %q, want nil", tc.cookieName, tc.value, got)
			}
		})
	}
}

func TestBindingCookie(t *testing.T) {
	s := cookieServer(t, "https://gw.example")
	w := httptest.NewRecorder()
	v := s.bindingValue(w, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := w.Result().Cookies()
	if len(v) != 43 || len(cookies) != 1 || cookies[0].Name != "__Host-drio_bind" || cookies[0].Value != v {
		t.Fatalf("bindingValue(no cookie) = %q with cookies %+v, want a new 43-char __Host-drio_bind", v, cookies)
	}
	if want := int((10*time.Minute + time.Minute) / time.Second); cookies[0].MaxAge != want {
		t.Errorf("binding cookie MaxAge = %d, want %d", cookies[0].MaxAge, want)
	}
	r := withCookies(w)
	w2 := httptest.NewRecorder()
	// Set again with the same value, so its life follows the newest authorization it binds.
	if got := s.bindingValue(w2, r); got != v {
		t.Errorf("bindingValue(with cookie %q) = %q, want the same value", v, got)
	}
	again := w2.Result().Cookies()
	if len(again) != 1 || again[0].Value != v || again[0].MaxAge != cookies[0].MaxAge {
		t.Errorf("bindingValue(with cookie %q) set %+v, want the same cookie again with a fresh Max-Age", v, again)
	}
	if !s.bindingMatches(r, grants.HashString(v)) {
		t.Errorf("bindingMatches(cookie %q, hash of it) = false, want true", v)
	}
	if s.bindingMatches(r, grants.HashString(v+"x")) {
		t.Errorf("bindingMatches(cookie %q, hash of another value) = true, want false", v)
	}
	if s.bindingMatches(httptest.NewRequest(http.MethodGet, "/", nil), grants.HashString("")) {
		t.Errorf("bindingMatches(no cookie, hash of empty) = true, want false")
	}
}

func TestIsModuleCookie(t *testing.T) {
	for name, want := range map[string]bool{
		"drio_bind": true, "__Host-drio_bind": true, "drio_consent": true, "__Host-drio_consent": true,
		"drio_bind2": false, "__Secure-drio_bind": false, "session": false, "": false,
	} {
		if got := IsGatewayCookie(name); got != want {
			t.Errorf("IsGatewayCookie(%q) = %v, want %v", name, got, want)
		}
	}
}

// Every kind of client id (registered, configured with a dot, a metadata document URL up to
// its 2048-byte limit) makes a consent key that survives the remembered-consent cookie, and a
// full cookie stays under the 4096 bytes browsers keep.
func TestConsentKeyFitsTheCookie(t *testing.T) {
	secret := []byte("s")
	s := cookieServer(t, "https://gw.example")
	long := "https://app.example.com/" + strings.Repeat("a", 2048-len("https://app.example.com/"))
	ids := []string{"drio_abc", "acme.cli", "https://app.example.com/oauth/client.json?v=1,2", long}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	var keys []string
	var w *httptest.ResponseRecorder
	for i := range maxConsentList {
		key := consentKey(ids[i%len(ids)], fmt.Sprintf("https://app.example/cb%d", i))
		keys = append(keys, key)
		w = httptest.NewRecorder()
		s.rememberConsent(w, r, secret, key)
		r = withCookies(w)
	}
	if got := s.rememberedConsent(r, secret); !slices.Equal(got, keys) {
		t.Errorf("rememberedConsent = %q, want %q", got, keys)
	}
	if c := w.Result().Cookies()[0]; len(c.String()) > 4096 {
		t.Errorf("the remembered-consent cookie is %d bytes; browsers drop cookies over 4096", len(c.String()))
	}
	if consentKey(long, "x") == consentKey(long+"b", "x") || consentKey("acme.cli", "x") == consentKey("acme-cli", "x") {
		t.Error("two client ids share a consent key")
	}
}
