// client_documents.go configures OAuth Client ID Metadata Documents: clients whose client_id is
// the https URL of their own metadata, which the gateway fetches (internal/cimd).

package caddymodule

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/drio-gateway/gateway/caddymodule/internal/cimd"
	"github.com/drio-gateway/gateway/caddymodule/internal/oauth"
)

// ClientDocumentsConfig configures client ID metadata documents. They are on by default,
// fetched only over https from public addresses with the system's root certificates.
type ClientDocumentsConfig struct {
	// Disabled turns the feature off: https client_id URLs are then unknown clients, and the
	// metadata no longer advertises client_id_metadata_document_supported. Default: false.
	Disabled bool `json:"disabled,omitempty"`

	// TrustCAFile is a PEM file of CA certificates trusted, instead of the system roots, for
	// document servers. FOR TESTS ONLY: in production documents are public https URLs.
	TrustCAFile string `json:"trust_ca_file,omitempty"`

	// AllowPrivateAddresses lets the gateway fetch documents from loopback, private,
	// link-local and other non-public addresses. DANGEROUS, FOR TESTS ONLY: any client could
	// then make the gateway send requests to internal services (SSRF).
	AllowPrivateAddresses bool `json:"allow_private_addresses,omitempty"`
}

// provisionClientDocuments builds the shared document resolver unless the feature is off.
func (a *App) provisionClientDocuments() error {
	c := a.ClientMetadataDocuments
	if c == nil {
		c = &ClientDocumentsConfig{}
		a.ClientMetadataDocuments = c
	}
	if c.Disabled {
		return nil
	}
	schemes := a.RedirectSchemes
	opts := cimd.Options{
		AllowPrivateAddresses: c.AllowPrivateAddresses,
		CheckRedirectURI:      func(u string) error { return oauth.ValidateRedirectURI(u, schemes) },
	}
	if c.TrustCAFile != "" {
		pem, err := os.ReadFile(c.TrustCAFile)
		if err != nil {
			return fmt.Errorf("drio: client_metadata_documents trust_ca: %v", err)
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("drio: client_metadata_documents trust_ca: %s holds no PEM certificate", c.TrustCAFile)
		}
		a.logger.Warn("client_metadata_documents trust_ca: documents are verified against this CA instead of the system roots; for tests only")
	}
	if c.AllowPrivateAddresses {
		a.logger.Warn("client_metadata_documents allow_private_addresses: any client can make the gateway request internal addresses; for tests only")
	}
	a.clientDocs = cimd.New(opts)
	return nil
}

// unmarshalClientDocuments parses:
//
//	client_metadata_documents off
//	client_metadata_documents [on] {
//		trust_ca <pem file>        # tests only
//		allow_private_addresses    # tests only, dangerous
//	}
func (a *App) unmarshalClientDocuments(d *caddyfile.Dispenser) error {
	c := &ClientDocumentsConfig{}
	a.ClientMetadataDocuments = c
	if d.NextArg() {
		switch d.Val() {
		case "on":
		case "off":
			c.Disabled = true
		default:
			return d.Errf("client_metadata_documents must be on or off, not %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "trust_ca":
			if !d.NextArg() {
				return d.ArgErr()
			}
			c.TrustCAFile = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "allow_private_addresses":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.AllowPrivateAddresses = true
		default:
			return d.Errf("unrecognized client_metadata_documents option '%s'", d.Val())
		}
	}
	if c.Disabled && (c.TrustCAFile != "" || c.AllowPrivateAddresses) {
		return d.Err("client_metadata_documents off takes no options")
	}
	return nil
}
