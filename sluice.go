// Package sluice holds the domain types shared by every part of the gateway:
// who is asking (Identity), what they ask for (Request), what the gateway
// decided (Decision), what happened (Result) and the records written about it
// (Session, StatementRecord, Event). It has no dependencies on the rest of the
// module; subpackages depend on it, never the reverse.
package sluice

import (
	"slices"
	"time"
)

// AuthMethod says how an Identity proved who it is.
type AuthMethod string

// The ways an agent can authenticate to sluice.
const (
	AuthOIDC         AuthMethod = "oidc"          // an access token from an OpenID Connect issuer
	AuthServiceToken AuthMethod = "service_token" // a token minted by `sluice token issue`
	AuthConsole      AuthMethod = "console"       // a person logged in to the web console
)

// Identity is an authenticated caller. It is built by authn from a verified
// token and is immutable afterwards; it never holds the token itself.
type Identity struct {
	// Subject is the stable identifier of the caller: the configured subject
	// claim of an OIDC token (for Entra, the object id) or the subject of a
	// service token.
	Subject string `json:"subject"`
	// Name is a human-readable label when the token carries one
	// (preferred_username, name, email); it is informational only.
	Name string `json:"name,omitempty"`
	// Groups are the caller's groups and roles, as granted by its issuer.
	Groups []string `json:"groups,omitempty"`
	// Client is the OAuth client (azp or appid) that obtained the token, if any.
	Client string `json:"client,omitempty"`
	// Method says how the caller authenticated.
	Method AuthMethod `json:"method"`
	// Issuer is the OIDC issuer URL, or "sluice" for service tokens.
	Issuer string `json:"issuer"`
	// TokenID identifies the credential (jti or service token id) so that the
	// audit trail can name it without holding it.
	TokenID string `json:"token_id,omitempty"`
	// ExpiresAt is when the presented token stops being valid.
	ExpiresAt time.Time `json:"expires_at"`
}

// InGroup reports whether the identity is a member of group g.
func (id *Identity) InGroup(g string) bool {
	return slices.Contains(id.Groups, g)
}

// ConnType is the kind of target a connection points to.
type ConnType string

// The supported connection types.
const (
	ConnPostgres ConnType = "postgres"
	ConnHTTP     ConnType = "http"
)

// Protocol names the front door a session came through.
type Protocol string

// The front doors.
const (
	ProtoPostgres Protocol = "pgwire"
	ProtoHTTP     Protocol = "http"
	ProtoMCP      Protocol = "mcp"
	// ProtoRun is a script submitted with `sluice run` through the admin
	// API; ProtoReplay is a session re-executed on a sandbox by
	// `sluice audit replay --against`. Both run inside the gateway.
	ProtoRun    Protocol = "run"
	ProtoReplay Protocol = "replay"
)
