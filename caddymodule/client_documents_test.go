package caddymodule

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestCaddyfileClientMetadataDocuments: the option's forms, and that the test-only settings
// are never implied by the others.
func TestCaddyfileClientMetadataDocuments(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  ClientDocumentsConfig
	}{
		{"drio {\n client_metadata_documents off\n}", ClientDocumentsConfig{Disabled: true}},
		{"drio {\n client_metadata_documents on\n}", ClientDocumentsConfig{}},
		{"drio {\n client_metadata_documents {\n trust_ca /tmp/ca.pem\n allow_private_addresses\n }\n}",
			ClientDocumentsConfig{TrustCAFile: "/tmp/ca.pem", AllowPrivateAddresses: true}},
		{"drio {\n client_metadata_documents {\n trust_ca /tmp/ca.pem\n }\n}", ClientDocumentsConfig{TrustCAFile: "/tmp/ca.pem"}},
	} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
			t.Fatalf("%q: %v", tc.input, err)
		}
		if a.ClientMetadataDocuments == nil || *a.ClientMetadataDocuments != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.input, a.ClientMetadataDocuments, tc.want)
		}
	}
	for _, bad := range []string{
		"drio {\n client_metadata_documents maybe\n}",
		"drio {\n client_metadata_documents on extra\n}",
		"drio {\n client_metadata_documents off {\n allow_private_addresses\n }\n}",
		"drio {\n client_metadata_documents {\n allow_private_addresses yes\n }\n}",
		"drio {\n client_metadata_documents {\n trust_ca\n }\n}",
		"drio {\n client_metadata_documents {\n proxy http://x\n }\n}",
	} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// TestClientMetadataDocumentsAdvertised: on by default, so the metadata advertises it; off
// removes both the resolver and the advertisement.
func TestClientMetadataDocumentsAdvertised(t *testing.T) {
	on := newTestGateway(t, nil)
	resp := on.kit.Do(t, "GET", "/.well-known/oauth-authorization-server", "", "", nil)
	if resp.JSON["client_id_metadata_document_supported"] != true {
		t.Errorf("default metadata: client_id_metadata_document_supported = %v, want true", resp.JSON["client_id_metadata_document_supported"])
	}
	off := newTestGateway(t, func(a *App) { a.ClientMetadataDocuments = &ClientDocumentsConfig{Disabled: true} })
	resp = off.kit.Do(t, "GET", "/.well-known/oauth-authorization-server", "", "", nil)
	if _, ok := resp.JSON["client_id_metadata_document_supported"]; ok || resp.StatusCode != 200 {
		t.Errorf("with client_metadata_documents off: status %d, metadata %v", resp.StatusCode, resp.JSON)
	}
}
