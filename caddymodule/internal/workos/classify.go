package workos

import (
	"errors"
	"net/http"

	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

// Verdict is what a WorkOS failure means for the grant it was about.
type Verdict int

const (
	// Refused is WorkOS's final word on the grant: invalid_grant (session ended, token
	// revoked or reused) or a sign-in that did not finish. Only this ends a session.
	Refused Verdict = iota
	// Unavailable is anything the same request may survive later: a timeout, a transport
	// error, 429, 5xx, an unreadable answer, or a 4xx that is not a verdict on the grant.
	Unavailable
	// Misconfigured is WorkOS refusing the gateway itself (401, 403): a rotated or mistyped
	// API key, or a client id WorkOS does not know. The operator must fix it; users' grants
	// are not at fault and must survive it.
	Misconfigured
)

// Classify decides what a WorkOS error means, and gives a short reason that is safe to log
// (never the upstream's own text). It never keys on the status alone: WorkOS sends
// invalid_grant as 400, and a refusal is recognised by its error code.
func Classify(err error) (Verdict, string) {
	var he workos_errors.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.ErrorCode == "invalid_grant":
			return Refused, "invalid_grant"
		case he.Code == http.StatusUnauthorized || he.Code == http.StatusForbidden:
			return Misconfigured, he.Status
		case he.ErrorCode != "":
			return Unavailable, he.Status + " " + he.ErrorCode
		}
		return Unavailable, he.Status
	}
	// Step-up errors (MFA challenge or enrollment, organization selection or authentication
	// methods, email verification, SSO required) are pointer types; AuthKit handles them in
	// its own UI, so reaching us they mean the user must sign in again.
	if stepUp(err) {
		return Refused, "step_up_required"
	}
	return Unavailable, "unreachable or unreadable answer"
}

// Reason is Classify's reason alone, for a log line.
func Reason(err error) string {
	_, reason := Classify(err)
	return reason
}

// stepUp reports whether err is one of WorkOS's "the user must do more to sign in" answers.
func stepUp(err error) bool {
	var mfa *workos_errors.MFAChallengeError
	var enroll *workos_errors.MFAEnrollmentError
	var org *workos_errors.OrganizationSelectionRequiredError
	var orgAuth *workos_errors.OrganizationAuthenticationMethodsRequiredError
	var email *workos_errors.EmailVerificationRequiredError
	var sso *workos_errors.SSORequiredError
	return errors.As(err, &mfa) || errors.As(err, &enroll) || errors.As(err, &org) ||
		errors.As(err, &orgAuth) || errors.As(err, &email) || errors.As(err, &sso)
}
