package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Retain removes the oldest segments for which keep returns false, given
// each segment's first and last record; it stops at the first segment to
// keep. It never removes the newest segment, and removes a segment only if
// a checkpoint at its last record exists (the journal writes one at every
// segment end), so that what remains verifies from that checkpoint. It
// reads and removes files only and may run while a Journal appends. It
// returns the number of segments removed.
func Retain(dir string, keep func(first, last *Record) bool) (removed int, err error) {
	segs, err := listSegments(dir)
	if err != nil {
		return 0, err
	}
	if len(segs) < 2 {
		return 0, nil
	}
	cf, err := readCheckpoints(dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		if removed > 0 {
			if serr := syncDir(dir); serr != nil && err == nil {
				err = fmt.Errorf("journal: retain: sync directory: %w", serr)
			}
		}
	}()
	for i, si := range segs[:len(segs)-1] {
		first, last, err := segmentEnds(si.path)
		if err != nil {
			return removed, err
		}
		if first == nil || keep(first, last) {
			return removed, nil
		}
		if next := segs[i+1].first; next != last.Seq+1 {
			return removed, fmt.Errorf("journal: retain: segment %s ends at seq %d but the next starts at %d", segmentName(si.first), last.Seq, next)
		}
		c, err := findCheckpoint(cf, last.Seq)
		if err != nil || !bytes.Equal(c.Last, last.LeafHash()) {
			return removed, nil // not a checkpointed boundary: keep it
		}
		if err := os.Remove(si.path); err != nil {
			return removed, fmt.Errorf("journal: retain: %w", err)
		}
		removed++
	}
	return removed, nil
}

// segmentEnds returns the first and last records of a segment (nil for an
// empty one), checking every frame on the way.
func segmentEnds(path string) (first, last *Record, err error) {
	s, err := openSegment(path)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: retain: %w", err)
	}
	defer s.Close()
	var lastPayload []byte
	for {
		p, off, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("journal: retain: %s at offset %d: %w", s.name(), off, err)
		}
		if first == nil {
			if first, err = DecodeRecord(append([]byte(nil), p...)); err != nil {
				return nil, nil, fmt.Errorf("journal: retain: %s: %w", s.name(), err)
			}
		}
		lastPayload = append(lastPayload[:0], p...)
	}
	if first == nil {
		return nil, nil, nil
	}
	if last, err = DecodeRecord(lastPayload); err != nil {
		return nil, nil, fmt.Errorf("journal: retain: %s: %w", s.name(), err)
	}
	return first, last, nil
}
