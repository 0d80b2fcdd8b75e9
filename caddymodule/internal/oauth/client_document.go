package oauth

// client_document.go resolves a client whose client_id is the https URL of its own metadata
// document (draft-ietf-oauth-client-id-metadata-document). Such a client is never stored: it
// is rebuilt from the document, cached by the resolver for as long as the document's server
// allows (1 minute to 24 hours), at each step that reads the client. A sign-in stays bound to
// what was checked at /authorize through its pending authorization and code, which carry the
// redirect URI: consent and the callback re-read the client and stop if that URI is no longer
// in the document, and the token endpoint compares the code's redirect URI without fetching
// anything new beyond the (cached) client.

import (
	"net/http"
	"net/url"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
)

// documentClient returns the public client that id's metadata document describes, or the
// *cimd.Error that says why it cannot be used.
func (s *Server) documentClient(r *http.Request, id string) (*grants.Client, error) {
	doc, e := s.clientDocs.Resolve(r.Context(), id)
	if e != nil {
		return nil, e
	}
	now := time.Now().Unix()
	return &grants.Client{
		ID:                 doc.ClientID,
		Name:               doc.ClientName,
		RedirectURIs:       doc.RedirectURIs,
		GrantTypes:         doc.GrantTypes,
		ResponseTypes:      doc.ResponseTypes,
		Scope:              doc.Scope,
		IssuedAt:           now,
		GrantTypesEnforced: true,
	}, nil
}

// documentHost is the host of a metadata-document client_id, which the gateway verified by
// fetching the document there over https; "" for any other client.
func (s *Server) documentHost(c *grants.Client) string {
	if s.kindOf(c.ID) != clientDocument {
		return ""
	}
	u, err := url.Parse(c.ID)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	return u.Host
}
