package caddymodule

import (
	"testing"
)

func TestConsentAndSignInCaddyfile(t *testing.T) {
	tests := []caddyfileCase{
		{
			name: "consent block",
			input: `drio {
				consent {
					product_name "Acme Cloud"
					logo_url https://cdn.example.com/logo.svg
					primary_color "#4f46e5"
					background_color fff
					template /etc/caddy/consent.html
				}
			}`,
			want: App{Consent: &ConsentConfig{ProductName: "Acme Cloud", LogoURL: "https://cdn.example.com/logo.svg",
				PrimaryColor: "#4f46e5", BackgroundColor: "#fff", Template: "/etc/caddy/consent.html"}},
		},
		{name: "consent on with a block", input: "drio {\n consent on {\n product_name Acme\n }\n}",
			want: App{Consent: &ConsentConfig{ProductName: "Acme"}}},
		{name: "consent off", input: "drio {\n consent off\n}", want: App{DisableConsent: true}},
		{
			name: "sign_in block",
			input: `drio {
				sign_in {
					organization_id org_123
					allow_organizations org_123 org_456
					allow_connections conn_1
					allow_providers authkit GoogleOAuth
					pass_through login_hint domain_hint
				}
			}`,
			want: App{SignIn: &SignInConfig{OrganizationID: "org_123", AllowOrganizations: []string{"org_123", "org_456"},
				AllowConnections: []string{"conn_1"}, AllowProviders: []string{"authkit", "GoogleOAuth"},
				PassThrough: []string{"login_hint", "domain_hint"}}},
		},
		{name: "sign_in provider and screen", input: "drio {\n sign_in {\n provider authkit\n screen_hint sign-up\n }\n}",
			want: App{SignIn: &SignInConfig{Provider: "authkit", ScreenHint: "sign-up"}}},
		{name: "unquoted # colour", input: "drio {\n consent {\n primary_color #4f46e5\n }\n}", wantErr: "write it quoted"},
		{name: "unknown consent option", input: "drio {\n consent {\n footer x\n }\n}", wantErr: "unrecognized consent option 'footer', at Testfile:3"},
		{name: "repeated consent option", input: "drio {\n consent {\n product_name a\n product_name b\n }\n}", wantErr: "consent: product_name specified more than once"},
		{name: "branding with consent off", input: "drio {\n consent off {\n product_name a\n }\n}", wantErr: "consent off has no page to brand"},
		{name: "consent two args", input: "drio {\n consent on off\n}", wantErr: "wrong argument count"},
		{name: "product_name without value", input: "drio {\n consent {\n product_name\n }\n}", wantErr: "wrong argument count"},
		{name: "sign_in argument", input: "drio {\n sign_in authkit\n}", wantErr: "wrong argument count"},
		{name: "unknown sign_in option", input: "drio {\n sign_in {\n prompt login\n }\n}", wantErr: "unrecognized sign_in option 'prompt'"},
		{name: "two selectors", input: "drio {\n sign_in {\n provider authkit\n connection_id conn_1\n }\n}", wantErr: "at most one of provider"},
		{name: "bad organization", input: "drio {\n sign_in {\n allow_organizations acme\n }\n}", wantErr: `"acme" is not a WorkOS organization id`},
		{name: "pass_through selector", input: "drio {\n sign_in {\n pass_through organization_id\n }\n}", wantErr: "allow_organizations"},
		{name: "empty allow list", input: "drio {\n sign_in {\n allow_providers\n }\n}", wantErr: "wrong argument count"},
	}
	runCaddyfileCases(t, tests)
}
