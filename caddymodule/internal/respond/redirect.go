package respond

import (
	"net/http"
	"net/url"
)

// Target is a client's validated redirect URI, with what every answer sent there carries.
type Target struct {
	RedirectURI string
	State       string
	HasState    bool
	// Issuer is sent as iss (RFC 9207), so the client can tell which server answered.
	Issuer string
}

// Redirect sends params to the client's redirect URI, with its state (byte-exact, only if it
// sent one) and iss. It appends to the registered query rather than re-encoding it, so the
// registered URI stays byte-exact. A POST (the consent form) is answered 303, anything else 302.
func Redirect(w http.ResponseWriter, r *http.Request, t *Target, params url.Values) {
	u, err := url.Parse(t.RedirectURI)
	if err != nil {
		Write(w, r, Server("The registered redirect URI cannot be used").Local())
		return
	}
	if t.HasState {
		params.Set("state", t.State)
	}
	params.Set("iss", t.Issuer)
	if u.RawQuery == "" {
		u.RawQuery = params.Encode()
	} else {
		u.RawQuery += "&" + params.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", u.String())
	w.WriteHeader(status)
}
