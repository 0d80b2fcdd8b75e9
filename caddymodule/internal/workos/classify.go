package workos

import (
	"errors"
	"net/http"

	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

// Verdict is what a WorkOS failure means for the grant it was about.
type Verdict int

const (
	// Refused: WorkOS answered and said no (invalid_grant, invalid_client, another 4xx).
	Refused Verdict = iota
	// Unavailable: timeout, transport error, 5xx, 429 or an unreadable answer; the same
	// request may succeed later.
	Unavailable
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
		case he.Code == http.StatusTooManyRequests || he.Code >= 500:
			return Unavailable, he.Status
		case he.Code >= 400:
			if he.ErrorCode != "" {
				return Refused, he.ErrorCode
			}
			return Refused, he.Status
		}
		return Unavailable, he.Status
	}
	// Step-up errors (MFA, organization selection, email verification) are pointer types;
	// AuthKit handles them in its own UI, so reaching us they mean the sign-in did not finish.
	var mfa *workos_errors.MFAChallengeError
	var org *workos_errors.OrganizationSelectionRequiredError
	var email *workos_errors.EmailVerificationRequiredError
	if errors.As(err, &mfa) || errors.As(err, &org) || errors.As(err, &email) {
		return Refused, "step_up_required"
	}
	return Unavailable, "unreachable or unreadable answer"
}

// Reason is Classify's reason alone, for a log line.
func Reason(err error) string {
	_, reason := Classify(err)
	return reason
}
