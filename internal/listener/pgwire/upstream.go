package pgwire

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
)

// upstreamLoop relays upstream messages to the client and completes the
// outstanding requests as their results arrive. It returns the reason the
// session should end and the cause.
func (s *session) upstreamLoop(ctx context.Context) (string, error) {
	var batch []*pending
	for {
		if s.ur.buffered() == 0 || s.cw.full() {
			if err := s.cw.flush(); err != nil {
				return sluice.EndClient, fmt.Errorf("write client: %w", err)
			}
		}
		typ, n, err := s.ur.header()
		if err != nil {
			return sluice.EndUpstream, fmt.Errorf("read upstream: %w", err)
		}
		if n > streamAbove && (typ == 'D' || typ == 'd') {
			// A large row or COPY chunk: stream it instead of holding it.
			if typ == 'D' {
				s.countRow(nil)
			}
			if err := s.cw.flush(); err != nil {
				return sluice.EndClient, fmt.Errorf("write client: %w", err)
			}
			if err := s.ur.stream(s.client, n); err != nil {
				return sluice.EndUpstream, fmt.Errorf("relay large message: %w", err)
			}
			continue
		}
		frame, err := s.ur.frame(n)
		if err != nil {
			return sluice.EndUpstream, fmt.Errorf("read upstream: %w", err)
		}
		body := frame[5:]
		switch typ {
		case 'D': // DataRow
			s.countRow(body)
		case 'T': // RowDescription
			s.rowDescription(body)
		case 'n': // NoData
			if p := s.current(); p != nil && p.kind == describeMark {
				p.finished = true
			}
		case 'C': // CommandComplete
			if p := s.current(); p != nil {
				tag, _, _ := cstring(body)
				p.addTag(string(tag))
				if p.kind == execExtended {
					s.finish(ctx, p, sluice.StatusOK)
				}
			}
		case 's', 'I': // PortalSuspended, EmptyQueryResponse
			if p := s.current(); p != nil && p.kind == execExtended {
				s.finish(ctx, p, sluice.StatusOK)
			}
		case 'E': // ErrorResponse
			s.upstreamError(ctx, body)
		case 'Z': // ReadyForQuery
			if len(body) != 1 {
				return sluice.EndUpstream, fmt.Errorf("upstream sent a malformed ReadyForQuery")
			}
			s.txStatus = body[0]
			batch = s.q.popBatch(batch[:0])
			s.completeBatch(ctx, batch)
			clear(batch)
			s.cur = nil
			s.batchErr = false
		case 'K', 'R':
			return sluice.EndUpstream, fmt.Errorf("upstream sent unexpected message type %q", typ)
		}
		s.cw.raw(frame)
	}
}

// current returns the request receiving results now, caching it until it
// finishes.
func (s *session) current() *pending {
	if s.cur == nil || s.cur.finished {
		s.cur = s.q.current()
	}
	return s.cur
}

// countRow counts a DataRow and captures it (body nil: too large to hold).
func (s *session) countRow(body []byte) {
	p := s.current()
	if p == nil || p.kind == describeMark {
		return
	}
	p.tagRows++
	if p.cap == nil {
		// An Execute's columns come from the Describe of its statement
		// and the formats from its Bind.
		var cols []sluice.Column
		var formats []int16
		if p.portal != nil {
			cols, formats = p.portal.stmt.cols, p.portal.formats
		}
		p.cap = newCapture(cols, formats, s.capRows, s.capBytes)
	}
	if body == nil {
		p.cap.done, p.cap.res.Truncated = true, true
		return
	}
	p.cap.row(body)
}

// rowDescription keeps the columns a Describe or a simple query announces.
func (s *session) rowDescription(body []byte) {
	p := s.current()
	if p == nil {
		return
	}
	cols := columns(body)
	switch p.kind {
	case describeMark:
		if p.stmt != nil {
			for i := range cols {
				cols[i].Format = 0 // a statement's formats are chosen at Bind
			}
			p.stmt.cols = cols
		}
		p.finished = true
	case execSimple:
		if p.cap == nil {
			p.cap = newCapture(cols, nil, s.capRows, s.capBytes)
		} else {
			p.cap.done, p.cap.res.Truncated = true, true // a later result set
		}
	}
}

// upstreamError attributes an ErrorResponse to the request it answers.
func (s *session) upstreamError(ctx context.Context, body []byte) {
	var e pgproto3.ErrorResponse
	if err := e.Decode(body); err != nil {
		return
	}
	if e.Severity == "FATAL" || e.Severity == "PANIC" {
		s.sawFatal = true
	}
	s.batchErr = true
	p := s.current()
	if p == nil {
		return
	}
	if p.kind == describeMark {
		p.finished = true
		return
	}
	p.errText = e.Code + ": " + e.Message
	if p.kind == execExtended {
		s.finish(ctx, p, sluice.StatusError)
	}
}

// completeBatch ends the entries answered by a ReadyForQuery: executes the
// upstream skipped after an error, the simple query, and refusals, whose
// errors go to the client before the ReadyForQuery.
func (s *session) completeBatch(ctx context.Context, batch []*pending) {
	for _, p := range batch {
		switch p.kind {
		case execExtended:
			if !p.finished {
				s.finish(ctx, p, sluice.StatusSkipped)
			}
		case execSimple:
			status := sluice.StatusOK
			if p.errText != "" {
				status = sluice.StatusError
			}
			s.finish(ctx, p, status)
		case refusal:
			// PostgreSQL skips everything after an error until Sync; a
			// refusal after an upstream error is never reported.
			if !s.batchErr {
				s.cw.send(errorResponse("ERROR", p.err))
				s.batchErr = true
			}
		}
	}
}

// finish records the outcome of a request.
func (s *session) finish(ctx context.Context, p *pending, status string) {
	p.finished = true
	p.rows += p.tagRows
	p.tagRows = 0
	s.gs.Done(ctx, p.req, s.result(p, status))
}
