package grants

// Client is an OAuth client (RFC 7591). Every registered client is public: it has no secret and
// proves itself with PKCE. Clients the operator configures are built as a Client too, but never
// stored.
type Client struct {
	ID            string   `json:"id"`
	Name          string   `json:"name,omitempty"`
	RedirectURIs  []string `json:"redirect_uris"`
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`
	Scope         string   `json:"scope,omitempty"`
	ClientURI     string   `json:"client_uri,omitempty"`
	LogoURI       string   `json:"logo_uri,omitempty"`
	PolicyURI     string   `json:"policy_uri,omitempty"`
	TosURI        string   `json:"tos_uri,omitempty"`
	IssuedAt      int64    `json:"issued_at"`
	// LastUsed is when the client last started a sign-in or redeemed a grant (unix seconds);
	// an unused registration expires (Config.ClientTTL after its last renewal).
	LastUsed int64 `json:"last_used,omitzero"`
	// GrantTypesEnforced is set on registrations made since the token endpoint enforces
	// GrantTypes; older ones keep the grants they could use when they registered.
	GrantTypesEnforced bool `json:"grant_types_enforced,omitzero"`
}

// Pending is an authorization between /authorize and the WorkOS callback, kept under the hash
// of the opaque state the gateway sends to WorkOS.
type Pending struct {
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	// RedirectURIGiven says the client sent redirect_uri (it may be omitted when only one is
	// registered); the token request must then repeat it (RFC 6749 §4.1.3).
	RedirectURIGiven bool   `json:"redirect_uri_given,omitzero"`
	State            string `json:"state,omitempty"`
	HasState         bool   `json:"has_state,omitzero"`
	CodeChallenge    string `json:"code_challenge"`
	Resource         string `json:"resource,omitempty"`
	Scope            string `json:"scope,omitempty"`
	// Verifier is the gateway's own PKCE verifier towards WorkOS; useless without the WorkOS code.
	Verifier string `json:"verifier"`
	// BindingHash is the hash of the browser-binding cookie set at /authorize.
	BindingHash string `json:"binding_hash"`
	Consented   bool   `json:"consented,omitzero"`
	CreatedAt   int64  `json:"created_at"`
	// SignIn is how WorkOS signs the user in for this authorization (nil on records stored
	// before it was recorded: AuthKit with no hints).
	SignIn *SignIn `json:"sign_in,omitzero"`
}

// SignIn is the connection selector (exactly one of Provider, OrganizationID, ConnectionID)
// and the hints sent to WorkOS for one authorization, already checked against the operator's
// options.
type SignIn struct {
	Provider       string `json:"provider,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	ConnectionID   string `json:"connection_id,omitempty"`
	ScreenHint     string `json:"screen_hint,omitempty"`
	LoginHint      string `json:"login_hint,omitempty"`
	DomainHint     string `json:"domain_hint,omitempty"`
}

// Code is a bridge code, kept under the code's hash. It outlives its redemption as a
// tombstone, so a replay is recognised (and revokes what the first redemption issued).
type Code struct {
	ClientID         string `json:"client_id"`
	RedirectURI      string `json:"redirect_uri"`
	RedirectURIGiven bool   `json:"redirect_uri_given,omitzero"`
	CodeChallenge    string `json:"code_challenge"`
	Resource         string `json:"resource,omitempty"`
	Scope            string `json:"scope,omitempty"`
	SessionID        string `json:"session_id"`
	// Sealed is the WorkOS token pair sealed with a key derived from the code; emptied on
	// redemption.
	Sealed    []byte `json:"sealed,omitempty"`
	Failures  int    `json:"failures,omitzero"`
	Redeemed  bool   `json:"redeemed,omitzero"`
	Burned    bool   `json:"burned,omitzero"`
	ExpiresAt int64  `json:"expires_at"`
}

// Session is a WorkOS session this gateway brokered, kept under its sid. It is the grant and
// the refresh-token family: revoking it ends both.
type Session struct {
	ID             string `json:"id"`
	ClientID       string `json:"client_id"`
	UserID         string `json:"user_id"`
	Email          string `json:"email,omitempty"`
	FirstName      string `json:"first_name,omitempty"`
	LastName       string `json:"last_name,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	CreatedAt      int64  `json:"created_at"`
	Revoked        bool   `json:"revoked,omitzero"`
	RevokedAt      int64  `json:"revoked_at,omitzero"`
	RevokedReason  string `json:"revoked_reason,omitempty"`
}

// RefreshState is where a refresh token is in its rotation.
type RefreshState string

// Refresh token states: active (usable), rotating (a WorkOS call is in flight under a lease),
// rotated (replaced; a retry within the grace window gets the same new pair) and dead.
const (
	RefreshActive   RefreshState = "active"
	RefreshRotating RefreshState = "rotating"
	RefreshRotated  RefreshState = "rotated"
	RefreshDead     RefreshState = "dead"
)

// Refresh is a refresh token issued to a client, kept under the token's hash.
type Refresh struct {
	ClientID  string       `json:"client_id"`
	SessionID string       `json:"session_id"`
	State     RefreshState `json:"state"`
	// LeaseUntil bounds a rotation in flight, so a crashed rotator does not wedge the token.
	LeaseUntil int64 `json:"lease_until,omitzero"`
	// Lease names the rotation in flight, so only its owner records the outcome.
	Lease     string `json:"lease,omitempty"`
	RotatedAt int64  `json:"rotated_at,omitzero"`
	// NextSealed is the pair that replaced this token, sealed with a key derived from this
	// token, so a client that lost the answer can retry within the grace window.
	NextSealed []byte `json:"next_sealed,omitempty"`
	// Undelivered marks a rotation whose new pair was never handed out (its access token did
	// not verify here yet): a retry gets it whenever it verifies, not only within the grace
	// window, so a client is never punished for the gateway's refusal.
	Undelivered bool `json:"undelivered,omitzero"`
}

// TokenPair is what the token endpoint answers; it is sealed while it waits at rest.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresAt    int64  `json:"expires_at"`
}
