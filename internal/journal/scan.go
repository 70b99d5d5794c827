package journal

import (
	"errors"
	"fmt"
	"io"
)

// Scan calls fn for every record from sequence number from on, in order
// (from the oldest record kept when from is older). It reads the files only
// and may run while a Journal appends to them: it stops at the end of what
// was written when it reached the newest segment, including a record still
// being written. A damaged frame, a gap or a record out of order is an
// error naming the sequence number (Verify says more). fn owns the Record
// it gets; an error from fn stops Scan and is returned as is.
func Scan(dir string, from uint64, fn func(*Record) error) error {
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	i := 0
	for k := range segs {
		if segs[k].first <= from {
			i = k
		}
	}
	var expect uint64
	for k := i; k < len(segs); k++ {
		tail := k == len(segs)-1
		s, err := openSegment(segs[k].path)
		if err != nil {
			if tail && errors.Is(err, errHeaderIncomplete) {
				return nil // being created
			}
			return fmt.Errorf("journal: %w", err)
		}
		if expect == 0 {
			expect = s.first
		}
		err = scanSegment(s, tail, &expect, from, fn)
		s.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// scanSegment is Scan for one segment; expect is the next sequence number.
func scanSegment(s *segReader, tail bool, expect *uint64, from uint64, fn func(*Record) error) error {
	if s.first != *expect {
		return fmt.Errorf("journal: seq %d: missing (segment %s starts at seq %d)", *expect, s.name(), s.first)
	}
	for {
		p, off, err := s.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var fe *frameError
		if errors.As(err, &fe) {
			if tail && fe.torn() {
				return nil // the end of what has been written
			}
			return fmt.Errorf("journal: seq %d: %s (%s, offset %d)", *expect, fe.reason, s.name(), off)
		}
		if err != nil {
			return err
		}
		e, err := parseEnvelope(p)
		if err != nil {
			return fmt.Errorf("journal: seq %d: %w", *expect, err)
		}
		if e.seq != *expect {
			return fmt.Errorf("journal: seq %d: found seq %d (%s, offset %d)", *expect, e.seq, s.name(), off)
		}
		*expect++
		if e.seq < from {
			continue
		}
		rec, err := DecodeRecord(append([]byte(nil), p...))
		if err != nil {
			return fmt.Errorf("journal: seq %d: %w", e.seq, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}
