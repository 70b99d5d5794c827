package sluice

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Class is a set of statement or request classes. A statement can be in
// several classes at once (a CTE that reads and deletes is read|write|destructive).
type Class uint16

// The classes. ClassUnknown marks what could not be parsed or proven safe; the
// policy treats it as the most restrictive class.
const (
	ClassRead Class = 1 << iota
	ClassWrite
	ClassDDL
	ClassDestructive
	ClassPrivileged
	ClassUnknown
)

var classNames = []struct {
	c    Class
	name string
}{
	{ClassRead, "read"},
	{ClassWrite, "write"},
	{ClassDDL, "ddl"},
	{ClassDestructive, "destructive"},
	{ClassPrivileged, "privileged"},
	{ClassUnknown, "unknown"},
}

// Has reports whether every class in o is in c.
func (c Class) Has(o Class) bool { return c&o == o && o != 0 }

// Names returns the names of the classes in c, in a fixed order.
func (c Class) Names() []string {
	var out []string
	for _, n := range classNames {
		if c&n.c != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// String returns the class names joined by "|".
func (c Class) String() string { return strings.Join(c.Names(), "|") }

// ParseClass returns the class with the given name.
func ParseClass(name string) (Class, bool) {
	for _, n := range classNames {
		if n.name == name {
			return n.c, true
		}
	}
	return 0, false
}

// RequestKind says what a Request carries.
type RequestKind string

// The request kinds.
const (
	KindSQL  RequestKind = "sql"
	KindHTTP RequestKind = "http"
	KindTool RequestKind = "mcp_tool"
)

// Request is one statement or API call on its way through the gate. Front
// doors translate their wire format into a Request; the gate classifies,
// decides, records and releases it. A Request is owned by the session that
// made it and must not be modified after the gate has seen it.
type Request struct {
	// ID is unique across the gateway; Seq is the request's position in its
	// session, starting at 1.
	ID  string `json:"id"`
	Seq int64  `json:"seq"`
	// SessionID is the session the request belongs to.
	SessionID string      `json:"session_id"`
	Kind      RequestKind `json:"kind"`
	// Text is the exact SQL text, or "METHOD URL" for HTTP.
	Text string `json:"text"`
	// Params are the bound parameters rendered as text (binary values as
	// hex with a \x prefix, NULL as nil).
	Params []*string `json:"params,omitempty"`
	// ParamFormats are the format codes the parameters were bound with,
	// one per parameter (1: binary, recorded as hex); empty when all were
	// text. A replay sends each parameter as it was sent.
	ParamFormats []int16 `json:"param_formats,omitempty"`
	// Statement is the prepared statement name for extended-protocol
	// requests; "" for the unnamed statement and for simple queries.
	Statement string `json:"statement,omitempty"`
	// FunctionOID is set for the PostgreSQL FunctionCall message, which
	// runs a function by its OID and carries no SQL text.
	FunctionOID uint32 `json:"function_oid,omitempty"`
	// Class, Tables and Fingerprint are filled in by classification; the
	// fingerprint groups statements that differ only in constants.
	Class       Class    `json:"class"`
	Tables      []string `json:"tables,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	// Time is when the request reached the gate.
	Time time.Time `json:"time"`
	// Session context, set by the gate, so that each request record names
	// who sent the request without reference to other records (a result
	// record names its request's record).
	Subject    string   `json:"subject,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	Connection string   `json:"connection,omitempty"`
	ClientAddr string   `json:"client_addr,omitempty"`
	// Parent is the ID of the script request this statement is part of
	// (`sluice run`): the script is decided, and approved, as a whole, and
	// each of its statements is then recorded as a request of its own.
	Parent string `json:"parent,omitempty"`
	// Note is what the requester says the request is for (`sluice run
	// --reason`); approvers see it. It is not part of the approval hash.
	Note string `json:"note,omitempty"`
	// Masked is set when the audit trail's copy of the text or parameters
	// was masked, so that it differs from what was forwarded.
	Masked bool `json:"masked,omitempty"`
	// HTTP is set for Kind http: the rest of the call.
	HTTP *HTTPRequest `json:"http,omitempty"`
	// Body is the whole body of an HTTP request, for classification and
	// the approval hash; it is never recorded (HTTP.Body is).
	Body []byte `json:"-"`
	// Recorded is the journal position of the request's record, set by the
	// gate once the journal accepted it, so that the result can name it.
	Recorded uint64 `json:"-"`
}

// Action is what the gate does with a request.
type Action string

// The actions.
const (
	ActionAllow  Action = "allow"
	ActionDeny   Action = "deny"
	ActionReview Action = "review" // hold until approvers decide
)

// Decision is the gate's verdict on one request, with the rule that produced
// it so the audit trail can explain it.
type Decision struct {
	Action Action `json:"action"`
	// Policy and Rule name what decided: the policy's name and the rule's
	// position ("grant" for connection-level decisions).
	Policy string `json:"policy,omitempty"`
	Rule   string `json:"rule,omitempty"`
	// Message is shown to the caller when the request is denied.
	Message string `json:"message,omitempty"`
	// Approvers, MinApprovals and Wait apply to Review.
	Approvers    []string      `json:"approvers,omitempty"`
	MinApprovals int           `json:"min_approvals,omitempty"`
	Wait         time.Duration `json:"wait,omitempty"`
	// ReviewID names the review that holds (Review) or released (Allow)
	// the request.
	ReviewID string `json:"review_id,omitempty"`
}

// Result is what came back for a request that was forwarded.
type Result struct {
	// Tag is the command tag (SELECT 3, INSERT 0 1) or the HTTP status line;
	// several statements in one simple query are joined with "; ".
	Tag  string `json:"tag,omitempty"`
	Rows int64  `json:"rows"`
	// Duration runs from forwarding to the last response message.
	Duration time.Duration `json:"duration"`
	// Error is the caller-facing error, "SQLSTATE: message", if any.
	Error string `json:"error,omitempty"`
	// Status says how the request ended: "ok", "error", "skipped" (not run
	// because an earlier statement in its batch failed) or "aborted" (the
	// session ended before a response arrived).
	Status string `json:"status"`
	// Capture holds the first rows of the result exactly as the agent
	// received them, up to the configured row and byte caps.
	Capture *Capture `json:"capture,omitempty"`
	// Masked counts the values masked in what the agent received, by
	// detector or rule ("email", "column_rule", "withheld").
	Masked map[string]uint64 `json:"masked,omitempty"`
	// Unmasked is set when the agent is exempt from masking and received
	// clear values.
	Unmasked bool `json:"unmasked,omitempty"`
	// HTTP is set for HTTP requests.
	HTTP *HTTPResult `json:"http,omitempty"`
}

// Capture is the beginning of a result as the agent saw it.
type Capture struct {
	Columns []Column `json:"columns,omitempty"`
	// Rows hold each value as the agent received it: text-format values as
	// they are, binary-format values as \x-prefixed hex, NULL as nil.
	Rows [][]*string `json:"rows,omitempty"`
	// Bytes is the size of the captured values.
	Bytes int `json:"bytes"`
	// Truncated is set when the result had more rows or bytes than were
	// captured.
	Truncated bool `json:"truncated,omitempty"`
}

// Column describes one column of a captured result.
type Column struct {
	Name string `json:"name"`
	// TypeOID is the PostgreSQL type of the column.
	TypeOID uint32 `json:"type_oid"`
	// Format is 0 for text, 1 for binary.
	Format int16 `json:"format,omitempty"`
}

// Result statuses.
const (
	StatusOK      = "ok"
	StatusError   = "error"
	StatusSkipped = "skipped"
	StatusAborted = "aborted"
	StatusDenied  = "denied"
	// StatusHeld: left for review and not run (`sluice run` submitted it
	// without waiting); once approved it runs as a new request.
	StatusHeld = "held"
)

// Hash binds an approval to one statement: SHA-256 over the connection, the
// exact text and the parameters, in hex. It must be taken before anything
// masks the request for the audit trail.
func (r *Request) Hash() string {
	h := sha256.New()
	h.Write([]byte(r.Connection))
	h.Write([]byte{0})
	h.Write([]byte(r.Text))
	for _, p := range r.Params {
		if p == nil {
			h.Write([]byte{0, 'N'})
			continue
		}
		h.Write([]byte{0, 'V'})
		h.Write([]byte(*p))
	}
	if r.Body != nil {
		h.Write([]byte{0, 'B'})
		h.Write(r.Body)
	}
	return hex.EncodeToString(h.Sum(nil))
}
