package ocsf

import (
	"fmt"

	"github.com/sluicehq/sluice"
)

// Authentication (3002) activities.
var (
	authLogon  = activity{1, "Logon"}
	authLogoff = activity{2, "Logoff"}
)

// Logon type Network (logon_type_id 3): every sluice session is opened
// over the network.
const (
	logonNetwork     = 3
	logonNetworkName = "Network"
)

// authentication is an OCSF Authentication event: a session start, an
// authentication failure or a session end.
type authentication struct {
	base
	// User is the subject that authenticated (or tried to).
	User           user      `json:"user"`
	Actor          *actor    `json:"actor,omitempty"`
	Session        *session  `json:"session,omitempty"`
	AuthProtocolID int       `json:"auth_protocol_id"`
	AuthProtocol   string    `json:"auth_protocol"`
	LogonTypeID    int       `json:"logon_type_id"`
	LogonType      string    `json:"logon_type"`
	IsRemote       bool      `json:"is_remote"`
	Service        *service  `json:"service,omitempty"`
	SrcEndpoint    *endpoint `json:"src_endpoint,omitempty"`
	DstEndpoint    *endpoint `json:"dst_endpoint,omitempty"`
}

// authentication maps a session start (Logon, Success), an auth failure
// (Logon, Failure) or a session end (Logoff).
func (m *mapper) authentication() any {
	ev := m.ev
	a := authLogon
	if ev.Type == sluice.EventSessionEnd {
		a = authLogoff
	}
	b := m.newBase(classAuthentication, a)
	id := ev.Identity
	e := authentication{
		LogonTypeID: logonNetwork,
		LogonType:   logonNetworkName,
		IsRemote:    true,
		Service:     &service{Name: m.product.Name, Version: m.product.Version},
		DstEndpoint: connectionEndpoint(ev.Connection),
	}
	e.AuthProtocolID, e.AuthProtocol = authProtocol(id)
	if u := identityUser(id); u != nil {
		e.User = *u
		e.Actor = &actor{User: u}
		if id.Client != "" {
			e.Actor.AppName = id.Client
		}
	} else {
		// OCSF requires the user; a session end names only its session,
		// and a failure may come before any identity is known.
		e.User = user{Name: unknownName}
	}
	if ev.ClientAddr != "" {
		ep := clientEndpoint(ev.ClientAddr)
		e.SrcEndpoint = &ep
	}

	switch ev.Type {
	case sluice.EventSessionStart:
		b.setStatus(statusSuccess, "", "")
		b.setVerdict(actionAllowed, dispAllowed, "")
		b.setSeverity(sevInformational)
		e.Session = &session{UID: ev.Session, CreatedTime: millis(ev.Time), IsRemote: true}
		if id != nil {
			e.Session.ExpirationTime = millis(id.ExpiresAt)
			e.Session.Issuer = id.Issuer
			e.Session.CredentialUID = id.TokenID
		}
		b.Message = fmt.Sprintf("%s started a %s session on %s from %s", orUnknown(e.User.UID),
			orUnknown(string(ev.Protocol)), orUnknown(ev.Connection), orUnknown(ev.ClientAddr))
	case sluice.EventAuthFailure:
		b.setStatus(statusFailure, "", ev.Reason)
		b.setVerdict(actionDenied, dispBlocked, "")
		b.setSeverity(sevMedium)
		who := e.User.UID
		if who == "" {
			who = e.User.Name
		}
		b.Message = fmt.Sprintf("authentication failed for %s on %s from %s: %s", who,
			orUnknown(ev.Connection), orUnknown(ev.ClientAddr), orUnknown(ev.Reason))
		if id != nil {
			b.unmap("issuer", id.Issuer)
		}
	default: // session end
		b.setStatus(statusSuccess, "", ev.Reason)
		b.setSeverity(logoffSeverity(ev.Reason))
		if ev.Session != "" {
			e.Session = &session{UID: ev.Session, IsRemote: true}
		}
		b.Message = fmt.Sprintf("session %s ended: %s", orUnknown(ev.Session), orUnknown(ev.Reason))
	}
	b.Message = oneLine(b.Message, maxMessage)
	b.unmap("protocol", string(ev.Protocol))
	b.unmap("auth_method", authMethod(id))
	e.base = b
	return e
}

// authProtocol maps how an identity authenticated to auth_protocol_id and
// auth_protocol: OIDC tokens are OpenID (4); service tokens and console
// logins are sluice's own, Other (99); no identity is Unknown (0).
func authProtocol(id *sluice.Identity) (int, string) {
	if id == nil || id.Method == "" {
		return 0, "Unknown"
	}
	switch id.Method {
	case sluice.AuthOIDC:
		return 4, "OpenID"
	case sluice.AuthServiceToken:
		return 99, "sluice service token"
	case sluice.AuthConsole:
		return 99, "sluice console"
	}
	return 99, string(id.Method)
}

func authMethod(id *sluice.Identity) string {
	if id == nil {
		return ""
	}
	return string(id.Method)
}

// logoffSeverity is Low for sessions that sluice ended because of their
// credential or a protocol violation, Informational otherwise.
func logoffSeverity(reason string) int {
	switch reason {
	case sluice.EndRevoked, sluice.EndExpired, sluice.EndProtocol:
		return sevLow
	}
	return sevInformational
}
