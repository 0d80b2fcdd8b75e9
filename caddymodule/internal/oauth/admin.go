package oauth

// admin.go is what the operator's admin API can see and do: list clients (they have no
// secrets) and sessions, remove a client (its grants end with it), end a session.

import (
	"context"
	"errors"

	"github.com/drio-gateway/gateway/caddymodule/internal/grants"
)

// ClientInfo is a registered client as the admin API shows it.
type ClientInfo struct {
	ClientID     string   `json:"client_id"`
	ClientName   string   `json:"client_name,omitempty"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	Scope        string   `json:"scope,omitempty"`
	IssuedAt     int64    `json:"issued_at"`
	LastUsed     int64    `json:"last_used,omitempty"`
}

// SessionInfo is a brokered session as the admin API shows it.
type SessionInfo struct {
	SessionID      string `json:"session_id"`
	ClientID       string `json:"client_id"`
	UserID         string `json:"user_id"`
	Email          string `json:"email,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	CreatedAt      int64  `json:"created_at"`
	Revoked        bool   `json:"revoked,omitempty"`
	RevokedAt      int64  `json:"revoked_at,omitempty"`
	RevokedReason  string `json:"revoked_reason,omitempty"`
}

// ListClients returns up to limit registered clients, in no particular order, and whether
// there were more.
func (s *Server) ListClients(ctx context.Context, rt *Runtime, limit int) ([]ClientInfo, bool, error) {
	out := []ClientInfo{}
	more := false
	err := rt.Grants.Clients.Each(ctx, func(c *grants.Client) bool {
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, ClientInfo{ClientID: c.ID, ClientName: c.Name, RedirectURIs: c.RedirectURIs,
			GrantTypes: c.GrantTypes, Scope: c.Scope, IssuedAt: c.IssuedAt, LastUsed: c.LastUsed})
		return true
	})
	return out, more, err
}

// ListSessions returns up to limit sessions that match (a client id, a user id; "" for any),
// live ones only unless withRevoked, and whether there were more.
func (s *Server) ListSessions(ctx context.Context, rt *Runtime, clientID, userID string, withRevoked bool, limit int) ([]SessionInfo, bool, error) {
	out := []SessionInfo{}
	more := false
	err := rt.Grants.Sessions.Each(ctx, func(x *grants.Session) bool {
		if (clientID != "" && x.ClientID != clientID) || (userID != "" && x.UserID != userID) || (x.Revoked && !withRevoked) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, SessionInfo{SessionID: x.ID, ClientID: x.ClientID, UserID: x.UserID, Email: x.Email,
			OrganizationID: x.OrganizationID, CreatedAt: x.CreatedAt, Revoked: x.Revoked, RevokedAt: x.RevokedAt,
			RevokedReason: x.RevokedReason})
		return true
	})
	return out, more, err
}

// EndSession revokes one session at the gateway and at WorkOS. found is false for a session
// this gateway never brokered (or that expired).
func (s *Server) EndSession(ctx context.Context, rt *Runtime, sid string) (found bool, err error) {
	if _, err := rt.Grants.Sessions.Get(ctx, sid); errors.Is(err, grants.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !s.RevokeGrant(sid, RevokeByAdmin, rt) {
		return true, errors.New("the revocation could not be stored; retry")
	}
	return true, nil
}

// UnstoredClient says, for an id DeleteClient cannot find because it names a client that is
// not a registration (a configured client, or a metadata document URL), what it is and how to
// stop it; "" for any other id.
func (s *Server) UnstoredClient(id string) string {
	const sessions = "; end its sessions with DELETE /drio/sessions/<session_id> (GET /drio/sessions?client_id=… lists them)"
	switch s.kindOf(id) {
	case clientConfigured:
		return "client " + id + " is configured in the drio block, not registered: remove its client block and reload the config" + sessions
	case clientDocument:
		return "client " + id + " is a client metadata document URL, never stored: there is nothing to delete; client_metadata_documents off refuses every such client" + sessions
	}
	return ""
}

// DeleteClient removes a client registration and ends every live session it holds, so its
// refresh tokens die and its access tokens are refused; its codes can no longer be redeemed,
// since the client no longer authenticates. It returns whether the client existed and how
// many sessions it ended.
func (s *Server) DeleteClient(ctx context.Context, rt *Runtime, id string) (found bool, ended int, err error) {
	if _, err := rt.Grants.Clients.Get(ctx, id); errors.Is(err, grants.ErrNotFound) {
		return false, 0, nil
	} else if err != nil {
		return false, 0, err
	}
	// Remove the registration first, so no new grant starts while the old ones end.
	if err := rt.Grants.Clients.Delete(ctx, id); err != nil {
		return true, 0, err
	}
	var sids []string
	if err := rt.Grants.Sessions.Each(ctx, func(x *grants.Session) bool {
		if x.ClientID == id && !x.Revoked {
			sids = append(sids, x.ID)
		}
		return true
	}); err != nil {
		return true, 0, err
	}
	for _, sid := range sids {
		if !s.RevokeGrant(sid, RevokeByAdmin, rt) {
			return true, ended, errors.New("a session of the client could not be revoked; retry")
		}
		ended++
	}
	return true, ended, nil
}
