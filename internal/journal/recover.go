package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// recover finds the end of the journal and opens its newest segment for
// writing (creating the first segment of a new journal). It resumes the tree
// from the newest checkpoint and reads only the records from the
// checkpointed one on, checking their frames, sequence, chain and times. A
// torn final frame of the newest segment is cut off; any other damage, or a
// journal that ends before its newest checkpoint, is an error.
func (j *Journal) recover(ctx context.Context) error {
	segs, err := listSegments(j.dir)
	if err != nil {
		return err
	}
	if segs, err = j.dropIncompleteSegment(segs); err != nil {
		return err
	}
	ck := j.lastCk
	var ckSize uint64
	var st treeState
	if ck != nil {
		ckSize = ck.Size
		if st, err = ck.tree(); err != nil {
			return fmt.Errorf("journal: newest checkpoint: %w", err)
		}
	}
	if len(segs) == 0 {
		if ckSize > 0 {
			return fmt.Errorf("journal: no segments in %s, but a checkpoint covers %d records", j.dir, ckSize)
		}
		seg, err := j.createSegment(1)
		if err != nil {
			return err
		}
		j.seg = seg
		return nil
	}

	// Start at the segment holding the checkpointed record (to compare its
	// hash), or at the oldest one when retention removed it.
	i := 0
	for k := range segs {
		if segs[k].first <= max(ckSize, 1) {
			i = k
		}
	}
	if segs[i].first > max(ckSize, 1) && segs[i].first != ckSize+1 {
		if ckSize == 0 {
			return fmt.Errorf("journal: the oldest segment starts at seq %d and no checkpoint covers the records before it", segs[i].first)
		}
		return fmt.Errorf("journal: records %d-%d are missing (the oldest segment starts at seq %d)", ckSize+1, segs[i].first-1, segs[i].first)
	}

	expect := segs[i].first
	var lastTS int64
	tornAt := int64(-1)
	var end int64
	for k := i; k < len(segs); k++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("journal: recover: %w", err)
		}
		tail := k == len(segs)-1
		s, err := openSegment(segs[k].path)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if s.first != segs[k].first {
			s.Close()
			return fmt.Errorf("journal: segment %s declares first seq %d", s.name(), s.first)
		}
		if s.first != expect {
			s.Close()
			return fmt.Errorf("journal: records %d-%d are missing (segment %s starts at seq %d)", expect, s.first-1, s.name(), s.first)
		}
		for {
			p, off, err := s.next()
			if errors.Is(err, io.EOF) {
				break
			}
			var fe *frameError
			if errors.As(err, &fe) {
				if !tail || !(fe.torn() || fe.final) || expect <= ckSize {
					s.Close()
					return fmt.Errorf("journal: seq %d in %s at offset %d: %s (run `sluice audit verify`)", expect, s.name(), off, fe.reason)
				}
				j.log.Warn("journal: cutting off a torn record at the end of the newest segment",
					"segment", s.name(), "seq", expect, "offset", off, "bytes", s.size-off, "reason", fe.reason)
				tornAt = off
				break
			}
			if err != nil {
				s.Close()
				return err
			}
			if err := j.recoverRecord(&st, p, expect, ckSize, &lastTS); err != nil {
				s.Close()
				return fmt.Errorf("journal: %s at offset %d: %w (run `sluice audit verify`)", s.name(), off, err)
			}
			expect++
		}
		end = s.off
		s.Close()
	}
	if expect-1 < ckSize {
		return fmt.Errorf("journal: records end at seq %d, but the newest checkpoint covers %d (run `sluice audit verify`)", expect-1, ckSize)
	}

	tail := segs[len(segs)-1]
	f, err := j.opts.fs.OpenFile(tail.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("journal: open segment: %w", err)
	}
	name := filepath.Base(tail.path)
	j.seg = &segment{first: tail.first, path: tail.path, name: name, f: f, size: end}
	if tornAt >= 0 {
		if err := f.Truncate(tornAt); err != nil {
			return fmt.Errorf("journal: truncate %s: %w", name, cause(err))
		}
	}
	j.live = st
	j.lastTS = max(lastTS, st.ts)
	if ck != nil {
		// A checkpoint is never older than the records it covers.
		j.lastTS = max(j.lastTS, ck.Time.UnixNano())
	}
	return nil
}

// recoverRecord checks one record read during recovery and adds it to st
// when it comes after the checkpoint.
func (j *Journal) recoverRecord(st *treeState, p []byte, expect, ckSize uint64, lastTS *int64) error {
	e, err := parseEnvelope(p)
	if err != nil {
		return fmt.Errorf("seq %d: %w", expect, err)
	}
	if e.seq != expect {
		return fmt.Errorf("seq %d expected, found %d", expect, e.seq)
	}
	leaf := j.hs.leaf(p)
	switch {
	case e.seq < ckSize:
		return nil
	case e.seq == ckSize:
		if !bytes.Equal(leaf[:], st.last[:]) {
			return fmt.Errorf("seq %d does not match the newest checkpoint", e.seq)
		}
		*lastTS = e.ts
		st.ts = e.ts
		return nil
	}
	if e.seq == 1 && len(e.prev) != 0 || e.seq > 1 && !bytes.Equal(e.prev, st.last[:]) {
		return fmt.Errorf("seq %d: prev hash does not match seq %d", e.seq, e.seq-1)
	}
	if e.ts < *lastTS {
		return fmt.Errorf("seq %d: time goes backwards", e.seq)
	}
	st.append(leaf, j.hs)
	st.ts = e.ts
	*lastTS = e.ts
	return nil
}

// dropIncompleteSegment removes the newest segment if its header was never
// completely written (a crash while a segment was being created) and it
// holds nothing else.
func (j *Journal) dropIncompleteSegment(segs []segInfo) ([]segInfo, error) {
	if len(segs) == 0 {
		return segs, nil
	}
	last := segs[len(segs)-1]
	s, err := openSegment(last.path)
	if err == nil {
		return segs, s.Close()
	}
	if !errors.Is(err, errHeaderIncomplete) {
		return nil, fmt.Errorf("journal: %w", err)
	}
	data, rerr := os.ReadFile(last.path)
	if rerr != nil {
		return nil, fmt.Errorf("journal: %w", rerr)
	}
	if len(data) > segHeaderLen && !isZero(data) {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.log.Warn("journal: removing a segment whose creation was interrupted", "segment", filepath.Base(last.path))
	if err := os.Remove(last.path); err != nil {
		return nil, fmt.Errorf("journal: remove incomplete segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		return nil, fmt.Errorf("journal: sync directory: %w", err)
	}
	return segs[:len(segs)-1], nil
}
