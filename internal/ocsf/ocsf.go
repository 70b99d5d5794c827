package ocsf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

// Version is the OCSF schema version the events conform to. 1.4.0 is the
// first version whose base event carries the security_control profile
// (action, disposition, policy) in every class, which sluice needs for API
// Activity and Authentication as much as for Datastore Activity.
const Version = "1.4.0"

// Product names the software that wrote the journal. The zero Product is
// usable: Name and Vendor default to "sluice".
type Product struct {
	Name    string
	Vendor  string
	Version string // the gateway's version
}

func (p Product) object() product {
	o := product{Name: p.Name, VendorName: p.Vendor, Version: p.Version}
	if o.Name == "" {
		o.Name = "sluice"
	}
	if o.VendorName == "" {
		o.VendorName = "sluice"
	}
	return o
}

// Event returns the OCSF event for one journal record, as a JSON object
// (no trailing newline). Every record maps to exactly one event; records of
// a type this package does not know become a Base Event. Event only reads
// rec and is safe for concurrent use.
func Event(rec *journal.Record, p Product) ([]byte, error) {
	if rec == nil {
		return nil, errors.New("ocsf: nil journal record")
	}
	m := &mapper{rec: rec, ev: &rec.Event, product: p.object()}
	b, err := encode(m.event())
	if err != nil {
		return nil, fmt.Errorf("ocsf: encode record %d: %w", m.seq(), err)
	}
	return b, nil
}

// encode returns v as JSON without a trailing newline and without escaping
// <, > and &, which are common in SQL.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// mapper turns one journal record into one OCSF event.
type mapper struct {
	rec     *journal.Record
	ev      *sluice.Event
	product product
}

// event picks the class for the record and builds its event.
func (m *mapper) event() any {
	switch m.ev.Type {
	case sluice.EventSessionStart, sluice.EventSessionEnd, sluice.EventAuthFailure:
		return m.authentication()
	case sluice.EventRequest, sluice.EventDecision, sluice.EventResult:
		if m.ev.Request == nil {
			return m.baseEvent()
		}
		switch m.ev.Request.Kind {
		case sluice.KindHTTP, sluice.KindTool:
			return m.apiActivity()
		default:
			return m.datastoreActivity()
		}
	case sluice.EventReview:
		return m.reviewActivity()
	}
	return m.baseEvent()
}

// seq is the record's journal sequence number.
func (m *mapper) seq() uint64 {
	if m.rec.Seq != 0 {
		return m.rec.Seq
	}
	return m.ev.Seq
}

// time is the record's time: when the journal accepted it, or when the
// gate saw the event if the record has no time of its own.
func (m *mapper) time() time.Time {
	if !m.rec.Time.IsZero() {
		return m.rec.Time
	}
	return m.ev.Time
}

// sessionID is the sluice session the record belongs to, if any.
func (m *mapper) sessionID() string {
	switch {
	case m.ev.Session != "":
		return m.ev.Session
	case m.ev.Request != nil:
		return m.ev.Request.SessionID
	case m.ev.Review != nil:
		return m.ev.Review.Request.SessionID
	}
	return ""
}

// newBase returns the attributes every event has, for class c and
// activity a. Severity and status are left for the class to set.
func (m *mapper) newBase(c class, a activity) base {
	var b base
	b.setClass(c, a)
	b.Time = millis(m.time())
	seq := m.seq()
	b.Metadata = metadata{
		Version:        Version,
		Product:        m.product,
		UID:            "journal:" + strconv.FormatUint(seq, 10),
		CorrelationUID: m.sessionID(),
		Sequence:       seq,
		EventCode:      string(m.ev.Type),
		LoggedTime:     millis(m.rec.Time),
		LogName:        "audit",
		LogProvider:    m.product.Name,
	}
	return b
}

// baseEvent maps a record this package cannot place in a class: an unknown
// event type, or a request record without its request.
func (m *mapper) baseEvent() any {
	a := activityOther
	if m.ev.Type == "" {
		a = activityUnknown
	}
	b := m.newBase(classBase, a)
	b.setSeverity(sevUnknown)
	b.setStatus(statusUnknown, "", "")
	typ := string(m.ev.Type)
	if typ == "" {
		typ = "untyped"
	}
	b.Message = oneLine(fmt.Sprintf("sluice %s record %d", typ, m.seq()), maxMessage)
	b.unmap("event_type", string(m.ev.Type))
	b.unmap("reason", m.ev.Reason)
	b.unmap("connection", m.ev.Connection)
	return struct{ base }{b}
}

// Lengths to which message and status_detail are cut.
const (
	maxMessage = 300
	maxDetail  = 1000
)

// oneLine returns s on one line (control characters as spaces, runs of
// spaces as one), cut to at most n bytes on a character boundary with "…".
func oneLine(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= n {
		return out
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "…"
}

// orUnknown returns s, or "unknown" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return unknownName
	}
	return s
}

// classWords names a class set for messages: "read", "write|destructive",
// or "unclassified".
func classWords(c sluice.Class) string {
	if c == 0 {
		return "unclassified"
	}
	return c.String()
}
