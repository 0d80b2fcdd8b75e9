package workos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

// TestClassify pins what each WorkOS failure means: only invalid_grant (and a sign-in that
// did not finish) is a verdict on the grant; 401/403 are the gateway's own credentials;
// everything else may pass.
func TestClassify(t *testing.T) {
	httpErr := func(code int, errorCode string) error {
		return fmt.Errorf("wrapped: %w", workos_errors.HTTPError{Code: code, Status: http.StatusText(code), ErrorCode: errorCode})
	}
	for _, tc := range []struct {
		name string
		err  error
		want Verdict
	}{
		{"invalid_grant 400", httpErr(400, "invalid_grant"), Refused},
		{"invalid_grant with another status", httpErr(401, "invalid_grant"), Refused},
		{"mfa required", &workos_errors.MFAChallengeError{}, Refused},
		{"organization selection", &workos_errors.OrganizationSelectionRequiredError{}, Refused},
		{"email verification", &workos_errors.EmailVerificationRequiredError{}, Refused},
		{"mfa enrollment", &workos_errors.MFAEnrollmentError{}, Refused},
		{"sso required", &workos_errors.SSORequiredError{}, Refused},
		{"organization authentication methods", &workos_errors.OrganizationAuthenticationMethodsRequiredError{}, Refused},
		{"401", httpErr(401, ""), Misconfigured},
		{"403", httpErr(403, "forbidden"), Misconfigured},
		{"400 invalid_request", httpErr(400, "invalid_request"), Unavailable},
		{"404", httpErr(404, ""), Unavailable},
		{"429", httpErr(429, ""), Unavailable},
		{"500", httpErr(500, "server_error"), Unavailable},
		{"timeout", context.DeadlineExceeded, Unavailable},
		{"transport", errors.New("connection reset by peer"), Unavailable},
		{"too large", ErrResponseTooLarge, Unavailable},
	} {
		if got, reason := Classify(tc.err); got != tc.want || reason == "" {
			t.Errorf("Classify(%s) = %v, %q, want %v with a reason", tc.name, got, reason, tc.want)
		}
	}
}
