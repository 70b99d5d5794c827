package sluice

import "time"

// Session is one client session through a front door: a pgwire connection,
// or a run of HTTP/MCP calls that share an identity and connection.
type Session struct {
	ID         string    `json:"id"`
	Identity   Identity  `json:"identity"`
	Connection string    `json:"connection"`
	Protocol   Protocol  `json:"protocol"`
	ClientAddr string    `json:"client_addr"`
	StartedAt  time.Time `json:"started_at"`
	// EndedAt is zero while the session is open.
	EndedAt   time.Time `json:"ended_at"`
	EndReason string    `json:"end_reason,omitempty"`
	// StartSeq is the journal sequence number of the session's start record.
	StartSeq uint64 `json:"start_seq,omitempty"`
}

// Session end reasons.
const (
	EndClient   = "client_closed"    // the client sent Terminate or closed the socket
	EndUpstream = "upstream_closed"  // the target closed or failed
	EndProtocol = "protocol_error"   // the client violated the protocol
	EndShutdown = "gateway_shutdown" // sluice is stopping
	EndCanceled = "canceled"         // ended by an operator or a cancel
	EndExpired  = "credential_expired"
	EndRevoked  = "credential_revoked"
)

// StatementRecord is the state store's row for one request and its outcome.
type StatementRecord struct {
	ID        string        `json:"id"`
	SessionID string        `json:"session_id"`
	Seq       int64         `json:"seq"`
	Text      string        `json:"text"`
	Params    []*string     `json:"params,omitempty"`
	Class     Class         `json:"class"`
	Decision  Action        `json:"decision"`
	Rule      string        `json:"rule,omitempty"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration"`
	Rows      int64         `json:"rows"`
	Tag       string        `json:"tag,omitempty"`
	Status    string        `json:"status"`
	Error     string        `json:"error,omitempty"`
	// Subject, Groups and Connection say who sent the statement and where,
	// copied from the request so that a statement can be found without its
	// session.
	Subject    string   `json:"subject,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	Connection string   `json:"connection,omitempty"`
	// RequestSeq and ResultSeq are the journal sequence numbers of the
	// statement's request and result records; ResultSeq is 0 for a statement
	// that was not forwarded.
	RequestSeq uint64 `json:"request_seq,omitempty"`
	ResultSeq  uint64 `json:"result_seq,omitempty"`
	// ReviewID names the review that held the statement, if any.
	ReviewID string `json:"review_id,omitempty"`
}

// ServiceToken is the state store's record of a token minted by
// `sluice token issue`. The token itself is never stored: only its id, which
// the signed token carries, so that it can be listed and revoked.
type ServiceToken struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Groups    []string  `json:"groups,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// RevokedAt is zero unless the token was revoked.
	RevokedAt time.Time `json:"revoked_at"`
}

// EventType names an audit event.
type EventType string

// The audit events. A request produces EventRequest before it is forwarded
// (write-ahead) and EventResult after the last response; denied requests
// produce EventRequest and EventDecision only. A result names its request
// (RequestRef, RequestSeq) rather than repeating it.
const (
	EventSessionStart EventType = "session_start"
	EventSessionEnd   EventType = "session_end"
	EventAuthFailure  EventType = "auth_failure"
	EventRequest      EventType = "request"
	EventDecision     EventType = "decision"
	EventResult       EventType = "result"
	EventReview       EventType = "review"
)

// Event is one audit record. It is the unit the recorder persists: the state
// store indexes it, and the tamper-evident journal chains it. Only the fields
// that belong to Type are set. Seq is assigned by the recorder that orders
// events; Time is set by the gate.
type Event struct {
	Seq     uint64    `json:"seq,omitempty"`
	Time    time.Time `json:"time"`
	Type    EventType `json:"type"`
	Session string    `json:"session,omitempty"`

	// Session start and auth failures.
	Identity   *Identity `json:"identity,omitempty"`
	Connection string    `json:"connection,omitempty"`
	Protocol   Protocol  `json:"protocol,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`

	// Requests, decisions and results.
	Request *Request `json:"request,omitempty"`
	// RequestRef and RequestSeq name the request a result belongs to: its
	// ID, and the journal position of its own record, which holds the
	// whole request. A result written this way has no Request (results
	// from before sluice wrote them so repeat the request in Request).
	RequestRef string    `json:"request_id,omitempty"`
	RequestSeq uint64    `json:"request_seq,omitempty"`
	Decision   *Decision `json:"decision,omitempty"`
	Result     *Result   `json:"result,omitempty"`

	// Review is the review's state after a review step (EventReview):
	// created, notified, decided, executed or expired; Reason names the step.
	Review *Review `json:"review,omitempty"`

	// Reason explains session ends and auth failures in words that hold no
	// secret (never the token, never an upstream password).
	Reason string `json:"reason,omitempty"`
}

// RequestID returns the ID of the request the event is about: its
// Request's, or the one a result names; "" for events about no request.
func (e *Event) RequestID() string {
	if e.Request != nil {
		return e.Request.ID
	}
	return e.RequestRef
}
