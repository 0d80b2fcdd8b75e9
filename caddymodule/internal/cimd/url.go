package cimd

import (
	"errors"
	"net/url"
	"strings"
)

// maxURLLength bounds a client_id URL, as redirect URIs are bounded.
const maxURLLength = 2048

// IsMetadataURL reports whether id has the shape of a metadata-document client_id (https
// with a path other than "/"), so the caller should resolve it through a Resolver rather than
// look it up among registered clients. Whether the URL is acceptable is CheckURL's answer.
func IsMetadataURL(id string) bool {
	rest, ok := strings.CutPrefix(id, "https://")
	if !ok {
		return false
	}
	slash := strings.IndexByte(rest, '/')
	return slash > 0 && len(rest) > slash+1
}

// CheckURL reports why id cannot be a client_id URL, or nil. The rules are the draft's: an
// https scheme, a host, a path component (not just "/"), no single- or double-dot path segment
// (literal or percent-encoded), no fragment, no username or password; a port and a query are
// allowed. The URL is not normalised: it must be exactly what the document says it is.
func CheckURL(id string) error {
	if len(id) > maxURLLength {
		return errors.New("client_id URL is longer than 2048 bytes")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return errors.New("client_id URL contains whitespace, a backslash, a control character or a non-ASCII byte")
		}
	}
	if strings.Contains(id, "#") {
		return errors.New("client_id URL must not contain a fragment")
	}
	u, err := url.Parse(id)
	if err != nil {
		return errors.New("client_id URL is not a valid URL")
	}
	if u.Scheme != "https" || !strings.HasPrefix(id, "https://") {
		return errors.New("client_id URL must use the https scheme")
	}
	if u.User != nil {
		return errors.New("client_id URL must not contain a username or password")
	}
	if u.Hostname() == "" {
		return errors.New("client_id URL must have a host")
	}
	if u.Path == "" || u.Path == "/" {
		return errors.New("client_id URL must have a path, e.g. https://app.example.com/oauth/client.json")
	}
	lower := strings.ToLower(u.EscapedPath())
	if strings.Contains(lower, "%2e") || strings.Contains(lower, "%2f") || strings.Contains(lower, "%00") {
		return errors.New("client_id URL path must not contain encoded dots, slashes or NUL")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("client_id URL path must not contain dot segments")
		}
	}
	return nil
}
