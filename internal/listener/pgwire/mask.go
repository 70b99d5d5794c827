package pgwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mask"
)

// maskRowCap is the largest DataRow or COPY chunk masked; a larger one is
// withheld when masking is on (it cannot be streamed through unmasked).
const maskRowCap = 16 << 20

// copyState follows a COPY TO STDOUT when masking is on.
type copyState uint8

const (
	copyNone    copyState = iota
	copyMasking           // text COPY: rows are masked
	copyRefused           // binary COPY: the client got an error; the data is dropped
)

// maskClient reports whether what the client receives is masked.
func (s *session) maskClient() bool { return s.mask != nil && !s.exempt }

// maskRowUnknown withholds every value of a row whose columns are unknown.
func (r *result) maskRowUnknown(body []byte) []byte {
	n := 0
	if len(body) >= 2 {
		n = int(binary.BigEndian.Uint16(body))
	}
	return r.withholdRow(append(r.buf[:0], 'D', 0, 0, 0, 0), n)
}

// largeMessage handles a DataRow or CopyData too large to hold comfortably.
// Without masking it is streamed to the client; with masking it is read
// whole and masked (handled false), or, past maskRowCap, withheld.
func (s *session) largeMessage(typ byte, n int) (handled bool, err error) {
	if !s.maskClient() {
		if typ == 'D' {
			if p := s.current(); p != nil && p.kind != describeMark {
				p.tagRows++
				s.resultOf(context.Background(), p).cap.tooLarge()
			}
		}
		if err := s.cw.flush(); err != nil {
			return true, fmt.Errorf("write client: %w", err)
		}
		if err := s.ur.stream(s.client, n); err != nil {
			return true, fmt.Errorf("relay large message: %w", err)
		}
		return true, nil
	}
	if n <= maskRowCap {
		return false, nil
	}
	// Too large to mask: drop it, and for a row send its fields as NULL.
	fields := 0
	if h, err := s.ur.br.Peek(7); err == nil && typ == 'D' {
		fields = int(binary.BigEndian.Uint16(h[5:]))
	}
	if err := s.ur.stream(io.Discard, n); err != nil {
		return true, fmt.Errorf("read upstream: %w", err)
	}
	if typ == 'D' {
		p := s.current()
		var r *result
		if p != nil && p.kind != describeMark {
			p.tagRows++
			r = s.resultOf(context.Background(), p)
		} else {
			r = &result{}
		}
		s.cw.raw(r.withholdRow(append(r.buf[:0], 'D', 0, 0, 0, 0), fields))
	}
	return true, nil
}

// maskNotice masks the text fields of an ErrorResponse or NoticeResponse
// (a unique violation's DETAIL echoes the duplicate value) and returns the
// frame to send on.
func (s *session) maskNotice(frame []byte) []byte {
	if !s.maskClient() {
		return frame
	}
	var e pgproto3.ErrorResponse
	if err := e.Decode(frame[5:]); err != nil {
		return frame
	}
	var counts = s.noticeCounts()
	for _, f := range []*string{&e.Message, &e.Detail, &e.Hint, &e.Where, &e.InternalQuery,
		&e.SchemaName, &e.TableName, &e.ColumnName, &e.ConstraintName} {
		if *f != "" {
			*f = string(s.mask.Text(nil, []byte(*f), counts))
		}
	}
	var out []byte
	var err error
	if frame[0] == 'N' {
		out, err = (*pgproto3.NoticeResponse)(&e).Encode(nil)
	} else {
		out, err = e.Encode(nil)
	}
	if err != nil {
		// Never send the unmasked text: replace the message.
		e = pgproto3.ErrorResponse{Severity: e.Severity, SeverityUnlocalized: e.SeverityUnlocalized, Code: e.Code,
			Message: "[withheld: sluice could not mask this message]"}
		out, _ = e.Encode(nil)
	}
	return out
}

// noticeCounts is where masking counts of errors and notices go: the
// current request's result, when there is one.
func (s *session) noticeCounts() *mask.Counts {
	if p := s.current(); p != nil && p.kind != describeMark {
		return &s.resultOf(context.Background(), p).counts
	}
	return nil
}

// copyOutStart sees a CopyOutResponse. A text COPY is masked row by row
// with the detectors. COPY data names no columns, so when column rules
// exist, and for binary COPY, which cannot be masked, the client gets an
// error instead and the data is dropped. It reports whether the
// CopyOutResponse goes on to the client.
func (s *session) copyOutStart(body []byte) bool {
	text := len(body) >= 1 && body[0] == 0
	if text && !s.mask.HasColumnRules() {
		s.copyOut = copyMasking
		return true
	}
	s.copyOut = copyRefused
	msg := "sluice masks this connection's results and cannot mask binary COPY; use COPY in text or CSV format"
	if text {
		msg = "sluice masks columns of this connection by name, and COPY data names no columns; use SELECT instead"
	}
	e := &sluice.Error{Code: sluice.EForbidden, SQLStateCode: "0A000", Message: msg}
	s.cw.send(errorResponse("ERROR", e))
	if p := s.current(); p != nil && p.kind != describeMark {
		p.errText = e.SQLState() + ": " + e.Message
	}
	return false
}

// copyData masks or drops one CopyData or CopyDone of a COPY TO STDOUT.
func (s *session) copyData(typ byte, frame []byte) ([]byte, bool) {
	switch {
	case s.copyOut == copyRefused:
		return nil, false
	case typ == 'c':
		return frame, true
	}
	var counts *mask.Counts
	if p := s.current(); p != nil && p.kind != describeMark {
		counts = &s.resultOf(context.Background(), p).counts
	}
	row := frame[5:]
	out := append(make([]byte, 0, len(frame)+16), 'd', 0, 0, 0, 0)
	out = s.mask.CopyRow(out, row, '\t', counts)
	binary.BigEndian.PutUint32(out[1:], uint32(len(out)-1))
	return out, true
}
