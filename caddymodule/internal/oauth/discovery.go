package oauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// The discovery documents' locations.
const (
	wellKnownAS   = "/.well-known/oauth-authorization-server"
	wellKnownPRM  = "/.well-known/oauth-protected-resource"
	wellKnownOIDC = "/.well-known/openid-configuration"
)

// documents are the discovery documents, built once from configuration, never from Host or
// X-Forwarded-*.
type documents struct {
	as      []byte // authorization-server metadata (RFC 8414)
	prmRoot []byte // protected-resource metadata of the origin (RFC 9728)
	prmAPI  []byte // protected-resource metadata of the API base
	// prm builds the protected-resource metadata of any other resource on the origin.
	prm func(resource string) ([]byte, error)
}

func buildDocuments(cfg Config) (documents, error) {
	endpoint := func(name string) string { return cfg.Issuer + cfg.APIBase + "/auth/" + name }
	var d documents
	var err error
	authMethods := clientAuthMethods(cfg)
	as := map[string]any{
		"issuer":                 cfg.Issuer,
		"authorization_endpoint": endpoint("authorize"),
		"token_endpoint":         endpoint("token"),
		"revocation_endpoint":    endpoint("revoke"),
		"revocation_endpoint_auth_methods_supported":     authMethods,
		"introspection_endpoint":                         endpoint("introspect"),
		"introspection_endpoint_auth_methods_supported":  []string{"bearer"},
		"scopes_supported":                               cfg.Scopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          authMethods,
		"authorization_response_iss_parameter_supported": true,
	}
	if cfg.ClientMetadataDocuments {
		as["client_id_metadata_document_supported"] = true
	}
	if !cfg.RegistrationOff {
		as["registration_endpoint"] = endpoint("register")
	}
	d.as, err = json.Marshal(as)
	if err != nil {
		return d, err
	}
	prm := func(resource string) ([]byte, error) {
		return json.Marshal(map[string]any{
			"resource":                 resource,
			"authorization_servers":    []string{cfg.Issuer},
			"scopes_supported":         cfg.Scopes,
			"bearer_methods_supported": []string{"header"},
			"resource_name":            "drio API",
		})
	}
	d.prm = prm
	if d.prmRoot, err = prm(cfg.Issuer); err != nil {
		return d, err
	}
	d.prmAPI, err = prm(cfg.Issuer + cfg.APIBase)
	return d, err
}

// clientAuthMethods are the client authentication methods some client can use at the token
// and revocation endpoints: none when a public client can exist (registration is open,
// client metadata documents are accepted, or a configured client is public), and each method a configured confidential client uses. A
// gateway with no client at all still says none rather than an empty list, which RFC 8414
// does not allow.
func clientAuthMethods(cfg Config) []string {
	var methods []string
	if !cfg.RegistrationOff || cfg.ClientMetadataDocuments {
		methods = append(methods, AuthNone)
	}
	for _, c := range cfg.StaticClients {
		NormalizeStaticClient(&c)
		if !slices.Contains(methods, c.AuthMethod) {
			methods = append(methods, c.AuthMethod)
		}
	}
	if len(methods) == 0 {
		methods = []string{AuthNone}
	}
	slices.SortFunc(methods, func(a, b string) int { return strings.Compare(authOrder(a), authOrder(b)) })
	return methods
}

// authOrder sorts none first, so the list reads the same whatever the configuration order.
func authOrder(m string) string {
	if m == AuthNone {
		return ""
	}
	return m
}

func (s *Server) serveASMetadata(w http.ResponseWriter, r *http.Request, _ *Runtime) *respond.Error {
	serveDocument(w, r, s.docs.as)
	return nil
}

// servePRMetadata serves the document for the origin at the root location, and at a
// path-inserted location (/.well-known/oauth-protected-resource/api/v1/me) the one whose
// resource is that path on this origin: MCP clients ask first for the exact resource they
// call (RFC 9728 §3.1), and a client must find the resource it asked about.
func (s *Server) servePRMetadata(w http.ResponseWriter, r *http.Request, _ *Runtime) *respond.Error {
	path, inserted := strings.CutPrefix(r.URL.Path, wellKnownPRM)
	switch {
	case !inserted || path == "":
		serveDocument(w, r, s.docs.prmRoot)
	case path == s.cfg.APIBase:
		serveDocument(w, r, s.docs.prmAPI)
	default:
		resource := s.cfg.Issuer + path
		if !s.validResource(resource) {
			return respond.New(http.StatusNotFound, respond.CodeInvalidRequest, "No protected resource at that path")
		}
		doc, err := s.docs.prm(resource)
		if err != nil {
			return respond.Server("The metadata could not be built")
		}
		serveDocument(w, r, doc)
	}
	return nil
}

// serveNotOpenID answers the OpenID discovery location that MCP clients probe: the gateway
// issues no ID tokens, so it is not an OpenID provider, and says where its OAuth metadata is.
func (s *Server) serveNotOpenID(http.ResponseWriter, *http.Request, *Runtime) *respond.Error {
	return respond.New(http.StatusNotFound, respond.CodeInvalidRequest,
		"This server is not an OpenID provider; its OAuth 2.0 metadata is at %s", s.cfg.Issuer+wellKnownAS)
}

func serveDocument(w http.ResponseWriter, r *http.Request, doc []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}
