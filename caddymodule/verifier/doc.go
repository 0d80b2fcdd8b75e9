// Package verifier verifies the bearer access tokens that WorkOS AuthKit
// issues, for the gateway's protected routes.
//
// A [Verifier] accepts only compact-serialized RS256 JWS tokens whose
// header names a key (kid) found in the WorkOS JWKS, whose signature
// verifies with that key, and whose claims pass the checks of [Config]:
// exp is required, exp, nbf and iat are compared with the clock within
// [Config.Skew], iss must be one of [Config.Issuers] exactly, aud must
// contain [Config.Audience] when one is configured, and sub and sid must be
// present. The header and the claims set are each decoded in one pass,
// with member names matched exactly and duplicate names, invalid UTF-8 and
// trailing data refused; the signature is checked with crypto/rsa directly
// on the raw signing input (jwx is used for the JWKS only).
//
// The JWKS is fetched by [Verifier.Start] (immediately, then every
// [Config.RefreshInterval]) and on demand when a token names a kid that is
// not in the current set. On-demand fetches are single-flighted and happen
// at most once per [Config.MinRefetchInterval], so a storm of tokens with
// random kids costs the identity provider at most one request per interval.
// A fetch that fails, or that yields no usable key, keeps the last good key
// set.
//
// Verified tokens are cached, keyed by the exact token string, until their
// exp (plus the skew); a cached token costs a map lookup instead of an RSA
// verification. Only successful verifications are cached. The cache does not
// know about revocation: WorkOS access tokens cannot be revoked at WorkOS,
// so the caller must consult its session registry (by [Claims.SessionID]) on
// every request, cached or not.
//
// Errors: every refusal of a token matches [ErrInvalidToken] with
// errors.Is, and is an [*InvalidTokenError] whose reason is safe to log and
// to send as an error_description; it never contains the token. When no
// signing key is available at all (cold start with the JWKS unreachable),
// Verify returns [ErrNoKeys] and the caller should answer 503.
//
// [BearerToken] extracts the token from an Authorization header, following
// RFC 6750 section 2.1 strictly.
package verifier
