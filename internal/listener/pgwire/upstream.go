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
			if handled, err := s.largeMessage(typ, n); handled || err != nil {
				if err != nil {
					return sluice.EndUpstream, err
				}
				continue
			}
		}
		frame, err := s.ur.frame(n)
		if err != nil {
			return sluice.EndUpstream, fmt.Errorf("read upstream: %w", err)
		}
		body := frame[5:]
		switch typ {
		case 'D': // DataRow
			frame = s.dataRow(ctx, frame)
		case 'T': // RowDescription
			s.rowDescription(ctx, body)
		case 'N': // NoticeResponse
			frame = s.maskNotice(frame)
		case 'H': // CopyOutResponse
			if s.maskClient() && !s.copyOutStart(body) {
				continue // binary COPY cannot be masked: refused, see copyOutStart
			}
		case 'd', 'c': // CopyData, CopyDone of a COPY TO STDOUT
			if s.copyOut != copyNone {
				var keep bool
				if frame, keep = s.copyData(typ, frame); !keep {
					continue
				}
			}
		case 'n': // NoData
			if p := s.current(); p != nil && p.kind == describeMark {
				p.finished = true
			}
		case 'C': // CommandComplete
			if s.copyOut == copyRefused {
				s.copyOut = copyNone
				continue // the refused COPY's tag: the client got an error instead
			}
			s.copyOut = copyNone
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
			s.copyOut = copyNone
			frame = s.maskNotice(frame)
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

// resultOf returns the result p is receiving, starting it from the
// columns its statement or portal was described with.
func (s *session) resultOf(ctx context.Context, p *pending) *result {
	if p.res == nil {
		var cols []colDesc
		switch {
		case p.portal != nil && p.portal.cols != nil:
			cols = p.portal.cols
		case p.portal != nil:
			cols = withFormats(p.portal.stmt.cols, p.portal.formats)
		}
		p.res = s.newResult(ctx, cols)
	}
	return p.res
}

// dataRow counts, masks and captures a DataRow, and returns the frame to
// send on.
func (s *session) dataRow(ctx context.Context, frame []byte) []byte {
	p := s.current()
	if p == nil || p.kind == describeMark {
		if s.maskClient() {
			// A row of no known request cannot be checked: withhold it.
			var r result
			return append([]byte(nil), r.maskRowUnknown(frame[5:])...)
		}
		return frame
	}
	p.tagRows++
	r := s.resultOf(ctx, p)
	switch {
	case s.exempt:
		// The client sees clear values; the audit copy is masked all the
		// same.
		if r.masking && !r.cap.done {
			r.cap.row(r.maskRow(frame[5:])[5:])
		} else {
			r.cap.row(frame[5:])
		}
		return frame
	case r.masking:
		frame = r.maskRow(frame[5:])
	case s.mask != nil && len(r.cols) == 0:
		// Masking is on but nothing described these columns: the values'
		// types are unknown, so none of them is passed through.
		frame = r.maskRowUnknown(frame[5:])
	}
	r.cap.row(frame[5:])
	return frame
}

// rowDescription keeps the columns a Describe or a simple query announces.
func (s *session) rowDescription(ctx context.Context, body []byte) {
	p := s.current()
	if p == nil {
		return
	}
	cols := columns(body)
	switch p.kind {
	case describeMark:
		if p.portal != nil {
			p.portal.cols = cols // a portal's formats are its own
		}
		if p.stmt != nil {
			p.stmt.cols = withFormats(cols, nil) // a statement's formats are chosen at Bind
		}
		p.finished = true
	case execSimple:
		nr := s.newResult(ctx, cols)
		if p.res != nil {
			// A later result set of a multi-statement query: mask it with
			// its own columns; the capture keeps the first set only.
			nr.cap = p.res.cap
			nr.cap.done, nr.cap.res.Truncated = true, true
			nr.counts.Merge(&p.res.counts)
		}
		p.res = nr
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
	if status == sluice.StatusError && s.clientGone.Load() {
		// The client went away before the error came: it saw no outcome,
		// and the error is most likely the cancel sluice sent for it.
		status = sluice.StatusAborted
	}
	s.gs.Done(ctx, p.req, s.result(p, status))
}
