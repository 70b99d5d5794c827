package pgwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
)

// errTerminate ends the client loop when the client says goodbye.
var errTerminate = fmt.Errorf("client terminated the session")

// errWriteUpstream marks a client loop that ended because the upstream
// could not be written: the database side failed, not the client.
var errWriteUpstream = errors.New("write upstream")

// flushUpstream writes what is batched for the upstream. While it writes,
// writingSince holds when the write began, so that a cancel request can
// tell a write the database has stopped taking (see watchStuckWrite).
func (s *session) flushUpstream() error {
	if !s.uw.pending() {
		return nil
	}
	s.writingSince.Store(time.Now().UnixNano())
	err := s.uw.flush()
	s.writingSince.Store(0)
	if err != nil {
		return fmt.Errorf("%w: %w", errWriteUpstream, err)
	}
	return nil
}

// clientLoop relays client messages upstream, asking the gate about every
// statement. It returns when the client leaves, breaks the protocol, or the
// upstream cannot be written.
func (s *session) clientLoop(ctx context.Context) error {
	for {
		// Write what is batched before blocking on the client: drivers send
		// whole pipelines at once, and one write per batch keeps latency low.
		if s.cr.buffered() == 0 || s.uw.full() {
			if err := s.flushUpstream(); err != nil {
				return err
			}
		}
		typ, frame, err := s.cr.next()
		if err != nil {
			return err
		}
		if s.skipping {
			if typ == 'S' {
				s.skipping = false
				s.q.push(&pending{kind: syncMark})
				s.uw.raw(frame)
			}
			continue
		}
		switch typ {
		case 'Q':
			err = s.query(ctx, frame)
		case 'P':
			err = s.parse(ctx, frame)
		case 'B':
			err = s.bind(frame)
		case 'E':
			err = s.execute(ctx, frame)
		case 'S':
			s.q.push(&pending{kind: syncMark})
			s.uw.raw(frame)
		case 'C':
			err = s.close(frame)
		case 'D':
			err = s.describe(frame)
		case 'H', 'd', 'c', 'f':
			// Flush and COPY data flow through untouched.
			s.uw.raw(frame)
		case 'F':
			err = s.functionCall(ctx, frame)
		case 'X':
			s.end(sluice.EndClient) // before the upstream hangs up in answer
			s.uw.raw(frame)
			s.uw.flush()
			return errTerminate
		default:
			return errStartup(sluice.EProtocol, "08P01", "invalid frontend message type %d", typ)
		}
		if err != nil {
			return err
		}
	}
}

// cstring reads a NUL-terminated string at the start of b and returns it
// and the rest of b.
func cstring(b []byte) ([]byte, []byte, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}

func malformed(what string) error {
	return errStartup(sluice.EProtocol, "08P01", "malformed %s message", what)
}

// query handles a simple Query.
func (s *session) query(ctx context.Context, frame []byte) error {
	text, rest, ok := cstring(frame[5:])
	if !ok || len(rest) != 0 {
		return malformed("Query")
	}
	req := &sluice.Request{Kind: sluice.KindSQL, Text: string(text)}
	// A simple query replaces the unnamed statement and portal.
	delete(s.stmts, "")
	delete(s.portals, "")
	if err := s.admit(ctx, req); err != nil {
		s.refuse(req, err, true)
		return nil
	}
	s.q.push(&pending{kind: execSimple, req: req, start: time.Now()})
	s.uw.raw(frame)
	return nil
}

// admit asks the gate about req and, when a rule holds it for review, waits
// for the decision while the client waits. It returns nil when req may be
// forwarded now.
func (s *session) admit(ctx context.Context, req *sluice.Request) error {
	d, err := s.gs.Begin(ctx, req)
	if err != nil {
		return err
	}
	if d.Action != sluice.ActionReview {
		return nil
	}
	// Write what is batched before holding: earlier statements of a
	// pipeline must not wait for this one's approval.
	if err := s.flushUpstream(); err != nil {
		return sluice.Errorf(sluice.EUnavailable, "the connection to the database was lost").WithCause(err)
	}
	return s.hold(ctx, req, d)
}

// parse remembers a prepared statement's text.
func (s *session) parse(ctx context.Context, frame []byte) error {
	name, rest, ok := cstring(frame[5:])
	if !ok {
		return malformed("Parse")
	}
	text, _, ok := cstring(rest)
	if !ok {
		return malformed("Parse")
	}
	st := &prepared{name: string(name), text: string(text)}
	req := &sluice.Request{Kind: sluice.KindSQL, Text: st.text, Statement: st.name}
	if d := s.gs.Check(req); d.Action == sluice.ActionDeny {
		// A statement the policy denies never reaches the upstream, not
		// even as a Parse: record the denial and answer as PostgreSQL
		// answers a failed Parse.
		_, err := s.gs.Begin(ctx, req)
		if err == nil {
			err = sluice.Errorf(sluice.EForbidden, "denied by policy %s", d.Policy)
		}
		s.refuse(req, err, false)
		return nil
	}
	s.stmts[st.name] = st
	if st.name != "" {
		s.gs.Parsed(st.name, st.text)
	}
	s.uw.raw(frame)
	return nil
}

// bind remembers which statement and parameters a portal runs.
func (s *session) bind(frame []byte) error {
	var b pgproto3.Bind
	if err := b.Decode(frame[5:]); err != nil {
		return malformed("Bind")
	}
	st := s.stmts[b.PreparedStatement]
	if st == nil {
		// PostgreSQL will refuse the Bind; remember the name for the record.
		st = &prepared{name: b.PreparedStatement}
	}
	s.portals[b.DestinationPortal] = &portal{stmt: st, params: renderParams(&b), pformat: paramFormats(&b),
		formats: b.ResultFormatCodes}
	s.uw.raw(frame)
	return nil
}

// maxParamBytes caps each parameter as recorded (not as forwarded), and
// maxParamsBytes all of a statement's parameters together.
const (
	maxParamBytes  = 4096
	maxParamsBytes = 64 << 10
)

// renderParams turns bound values into text for the audit record: text
// format values as they are, binary ones as \x-prefixed hex, NULL as nil.
func renderParams(b *pgproto3.Bind) []*string {
	if len(b.Parameters) == 0 {
		return nil
	}
	out := make([]*string, len(b.Parameters))
	total := 0
	for i, v := range b.Parameters {
		if v == nil {
			continue
		}
		if total >= maxParamsBytes {
			out = append(out[:i], ptr(fmt.Sprintf("… %d more parameters not recorded", len(b.Parameters)-i)))
			break
		}
		format := int16(0)
		switch {
		case len(b.ParameterFormatCodes) == 1:
			format = b.ParameterFormatCodes[0]
		case i < len(b.ParameterFormatCodes):
			format = b.ParameterFormatCodes[i]
		}
		truncated := len(v) > maxParamBytes
		if truncated {
			v = v[:maxParamBytes]
		}
		var str string
		if format == 1 {
			str = `\x` + hex.EncodeToString(v)
		} else {
			str = string(v)
		}
		if truncated {
			str += "…"
		}
		total += len(str)
		out[i] = &str
	}
	return out
}

// paramFormats returns the format code of each bound parameter, or nil
// when every one is text.
func paramFormats(b *pgproto3.Bind) []int16 {
	if !slices.Contains(b.ParameterFormatCodes, 1) || len(b.Parameters) == 0 {
		return nil
	}
	out := make([]int16, len(b.Parameters))
	for i := range out {
		switch {
		case len(b.ParameterFormatCodes) == 1:
			out[i] = b.ParameterFormatCodes[0]
		case i < len(b.ParameterFormatCodes):
			out[i] = b.ParameterFormatCodes[i]
		}
	}
	return out
}

func ptr(s string) *string { return &s }

// execute asks the gate about the statement a portal runs.
func (s *session) execute(ctx context.Context, frame []byte) error {
	name, _, ok := cstring(frame[5:])
	if !ok {
		return malformed("Execute")
	}
	req := &sluice.Request{Kind: sluice.KindSQL}
	p := s.portals[string(name)]
	if p != nil {
		req.Statement = p.stmt.name
		req.Params, req.ParamFormats = p.params, p.pformat
		req.Text = p.stmt.text
	}
	if err := s.admit(ctx, req); err != nil {
		s.refuse(req, err, false)
		return nil
	}
	s.q.push(&pending{kind: execExtended, req: req, start: time.Now(), portal: p})
	s.uw.raw(frame)
	return nil
}

// describe notes which statement or portal a Describe asks about, so that
// the upstream loop can keep the columns it answers with.
func (s *session) describe(frame []byte) error {
	body := frame[5:]
	if len(body) < 2 {
		return malformed("Describe")
	}
	name, _, ok := cstring(body[1:])
	if !ok {
		return malformed("Describe")
	}
	d := &pending{kind: describeMark}
	switch body[0] {
	case 'S':
		d.stmt = s.stmts[string(name)]
	case 'P':
		if p := s.portals[string(name)]; p != nil {
			d.stmt, d.portal = p.stmt, p
		}
	default:
		return malformed("Describe")
	}
	s.q.push(d)
	s.uw.raw(frame)
	return nil
}

// close forgets a closed statement or portal.
func (s *session) close(frame []byte) error {
	body := frame[5:]
	if len(body) < 2 {
		return malformed("Close")
	}
	name, _, ok := cstring(body[1:])
	if !ok {
		return malformed("Close")
	}
	switch body[0] {
	case 'S':
		delete(s.stmts, string(name))
		if len(name) > 0 {
			s.gs.Closed(string(name))
		}
	case 'P':
		delete(s.portals, string(name))
	default:
		return malformed("Close")
	}
	s.uw.raw(frame)
	return nil
}

// functionCall handles the FunctionCall message, which runs a function by
// its OID outside of any SQL text.
func (s *session) functionCall(ctx context.Context, frame []byte) error {
	body := frame[5:]
	if len(body) < 4 {
		return malformed("FunctionCall")
	}
	oid := binary.BigEndian.Uint32(body)
	req := &sluice.Request{Kind: sluice.KindSQL, FunctionOID: oid,
		Text: fmt.Sprintf("-- FunctionCall protocol message\nfunction oid %d", oid)}
	if err := s.admit(ctx, req); err != nil {
		s.refuse(req, err, true)
		return nil
	}
	s.q.push(&pending{kind: execSimple, req: req, start: time.Now()})
	s.uw.raw(frame)
	return nil
}

// refuse answers a request the gate refused exactly as PostgreSQL answers a
// failed one: an ErrorResponse, then (for the extended protocol) nothing
// until Sync, then ReadyForQuery. The upstream sees none of the request;
// a Sync is sent in its place so that the upstream's ReadyForQuery, with its
// true transaction status, ends the client's batch in order.
func (s *session) refuse(req *sluice.Request, err error, simple bool) {
	s.q.push(&pending{kind: refusal, req: req, err: sluice.AsError(err)})
	if simple {
		s.q.push(&pending{kind: syncMark})
		s.uw.send(&pgproto3.Sync{})
		return
	}
	s.skipping = true
}
