package oauth

// grant_code.go redeems a bridge code (grant_type=authorization_code). A code is single use,
// valid for Config.CodeTTL, and redeemable only by the client and redirect URI it was issued
// to, with the PKCE verifier. Checks that a stranger could fail (wrong client, redirect,
// resource, scope, verifier) never consume the code or revoke anything; three wrong verifiers
// burn it; a replay by the holder of the verifier revokes what the first redemption issued.

import (
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

// MaxCodeFailures wrong verifiers burn a code.
const MaxCodeFailures = 3

func errCodeInvalid() *respond.Error {
	return respond.InvalidGrant("The authorization code is invalid or has expired")
}

func (s *Server) redeemCode(r *http.Request, rt *Runtime, client *grants.Client, form url.Values) (*grants.TokenPair, *respond.Error) {
	code := form.Get("code")
	if code == "" {
		return nil, respond.MissingField("code")
	}
	if len(code) > maxCodeLength {
		return nil, errCodeInvalid()
	}
	var sealed []byte
	var sessionID string
	var replayOf string // the session to revoke when the code was already redeemed
	err := rt.Grants.Codes.Mutate(r.Context(), code, codeTombstone, func(rec *grants.Code, found bool) (grants.Decision, error) {
		sealed, replayOf = nil, ""
		if !found {
			return grants.Keep, errCodeInvalid()
		}
		if rec.ClientID != client.ID {
			return grants.Keep, respond.InvalidGrant("The authorization code was issued to another client")
		}
		switch ru := form.Get("redirect_uri"); {
		case ru == "" && rec.RedirectURIGiven:
			return grants.Keep, respond.InvalidGrant("redirect_uri is required: the authorization request named one")
		case ru != "" && ru != rec.RedirectURI:
			return grants.Keep, respond.InvalidGrant("redirect_uri differs from the one used at authorization")
		}
		if e := s.checkResource(form, rec.Resource); e != nil {
			return grants.Keep, e
		}
		if e := s.checkScope(form, rec.Scope); e != nil {
			return grants.Keep, e
		}
		verifier := form.Get("code_verifier")
		if verifier == "" {
			return grants.Keep, respond.InvalidGrant("code_verifier is required (PKCE)")
		}
		if rec.Burned {
			return grants.Keep, errCodeInvalid()
		}
		if !verifyPKCE(verifier, rec.CodeChallenge) {
			if rec.Redeemed {
				return grants.Keep, errCodeInvalid()
			}
			rec.Failures++
			if rec.Failures >= MaxCodeFailures {
				rec.Burned, rec.Sealed = true, nil
			}
			return grants.Write, respond.InvalidGrant("code_verifier does not match the code_challenge")
		}
		if rec.Redeemed {
			replayOf = rec.SessionID
			return grants.Keep, respond.InvalidGrant("The authorization code was already used; the tokens issued with it are revoked")
		}
		if time.Now().Unix() > rec.ExpiresAt {
			return grants.Keep, errCodeInvalid()
		}
		// A concurrent redemption that loses this write re-reads the record, finds it redeemed
		// and counts as a replay.
		sealed, sessionID = rec.Sealed, rec.SessionID
		rec.Redeemed, rec.Sealed = true, nil
		return grants.Write, nil
	})
	if replayOf != "" {
		s.RevokeGrant(replayOf, RevokeCodeReplay, rt)
	}
	if e := s.mutateFailed(r, "token", err); e != nil {
		return nil, e
	}
	pair, err := grants.OpenPair(code, grants.PurposeCodePair, sealed)
	if err != nil {
		s.logger.Error("bridge code record does not open; was the store altered?", zap.String("request_id", s.requestID(r)))
		return nil, respond.Server("The authorization code cannot be redeemed")
	}
	s.logger.Info("authorization code redeemed", zap.String("client_id", client.ID), zap.String("session_id", sessionID), zap.String("request_id", s.requestID(r)))
	return pair, nil
}
