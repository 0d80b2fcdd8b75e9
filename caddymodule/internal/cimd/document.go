package cimd

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on what a document may declare.
const (
	maxRedirectURIs   = 10
	maxClientNameLen  = 200
	maxScopeLen       = 1024
	maxStringListSize = 10
)

// Document is the part of a client metadata document the gateway uses. Everything else
// (logo_uri, client_uri, jwks, contacts, ...) is dropped: the gateway fetches nothing the
// document points to and shows only what it verified.
type Document struct {
	ClientID      string
	ClientName    string
	RedirectURIs  []string
	GrantTypes    []string
	ResponseTypes []string
	Scope         string
}

// document is the wire form; fields are pointers or raw so that "present" can be told from
// "absent".
type document struct {
	ClientID                *string         `json:"client_id"`
	ClientName              *string         `json:"client_name"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	Scope                   *string         `json:"scope"`
	TokenEndpointAuthMethod *string         `json:"token_endpoint_auth_method"`
	ClientSecret            json.RawMessage `json:"client_secret"`
	ClientSecretExpiresAt   json.RawMessage `json:"client_secret_expires_at"`
}

// parseDocument decodes body and checks it describes the public client id. checkRedirect
// judges each redirect URI.
func parseDocument(id string, body []byte, checkRedirect func(string) error) (*Document, *Error) {
	bad := func(format string, args ...any) (*Document, *Error) {
		return nil, fail(KindInvalidDocument, "client metadata document: "+format, args...)
	}
	var raw document
	if err := json.Unmarshal(body, &raw); err != nil {
		return bad("not a JSON object with the RFC 7591 field types: %v", err)
	}
	if raw.ClientID == nil {
		return bad("client_id is missing; it must be the document's own URL")
	}
	if *raw.ClientID != id {
		return bad("client_id must equal the URL the document was fetched from, exactly")
	}
	if raw.ClientSecret != nil || raw.ClientSecretExpiresAt != nil {
		return bad("must not contain client_secret or client_secret_expires_at: a metadata document client has no shared secret")
	}
	if m := raw.TokenEndpointAuthMethod; m != nil && *m != "none" {
		return bad("token_endpoint_auth_method must be none (a public client using PKCE)")
	}
	doc := &Document{ClientID: id}
	if len(raw.RedirectURIs) == 0 {
		return bad("redirect_uris must hold at least one URI")
	}
	if len(raw.RedirectURIs) > maxRedirectURIs {
		return bad("at most %d redirect_uris are allowed", maxRedirectURIs)
	}
	for i, u := range raw.RedirectURIs {
		if err := checkRedirect(u); err != nil {
			return bad("redirect_uris[%d]: %v", i, err)
		}
		if slices.Contains(raw.RedirectURIs[:i], u) {
			return bad("redirect_uris[%d] is listed twice", i)
		}
	}
	doc.RedirectURIs = raw.RedirectURIs

	doc.GrantTypes = raw.GrantTypes
	if doc.GrantTypes == nil {
		doc.GrantTypes = []string{"authorization_code"}
	}
	if len(doc.GrantTypes) == 0 || len(doc.GrantTypes) > maxStringListSize {
		return bad("grant_types must be a non-empty array of at most %d strings", maxStringListSize)
	}
	for _, g := range doc.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return bad("grant_types may hold only authorization_code and refresh_token")
		}
	}
	if !slices.Contains(doc.GrantTypes, "authorization_code") {
		return bad("grant_types must include authorization_code")
	}
	doc.GrantTypes = slices.Compact(slices.Sorted(slices.Values(doc.GrantTypes)))
	if rt := raw.ResponseTypes; rt != nil && (len(rt) != 1 || rt[0] != "code") {
		return bad(`response_types must be ["code"]`)
	}
	doc.ResponseTypes = []string{"code"}

	if n := raw.ClientName; n != nil {
		if len(*n) > maxClientNameLen || !utf8.ValidString(*n) || strings.ContainsFunc(*n, isControl) {
			return bad("client_name must be printable UTF-8 of at most %d bytes", maxClientNameLen)
		}
		doc.ClientName = *n
	}
	if sc := raw.Scope; sc != nil {
		if len(*sc) > maxScopeLen {
			return bad("scope is longer than %d bytes", maxScopeLen)
		}
		doc.Scope = strings.Join(strings.Fields(*sc), " ")
	}
	return doc, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
