package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// KeptCheckpoint is a signed checkpoint kept outside the machine (the
	// output of Journal.Checkpoint, `sluice audit checkpoint`). Verify then
	// also fails unless the journal still holds every record it covers,
	// unchanged: this catches the removal of the newest records together
	// with their local checkpoints.
	KeptCheckpoint []byte
}

// Report is what Verify found. When the journal is damaged BadSeq and
// Problem name the first bad sequence number and why, and Verify returns a
// *VerifyError with the same.
type Report struct {
	First, Last uint64 // sequence numbers of the oldest and newest records (0 when empty)
	Records     uint64 // records checked
	Segments    int    // segments checked
	// Signed is the number of signed checkpoints found, Checkpoints the
	// number checked against the records (the others predate the oldest
	// segment kept).
	Signed, Checkpoints int
	// LatestCheckpoint is the tree size of the newest local checkpoint;
	// Unsigned counts the records after it, which no signature covers yet.
	LatestCheckpoint uint64
	Unsigned         uint64
	// KeptChecked is set when VerifyOptions.KeptCheckpoint was checked.
	KeptChecked bool
	// Root is the root hash of the tree over all records.
	Root []byte
	// TornTail is set when the newest segment ends in a frame that a crash
	// (or a write in progress) cut short; it is not counted as damage.
	TornTail bool
	Warnings []string

	BadSeq  uint64
	Problem string
}

// OK reports whether the journal verified.
func (r *Report) OK() bool { return r.Problem == "" }

// VerifyError is the error Verify returns for a damaged journal.
type VerifyError struct {
	Seq     uint64 // the first bad sequence number, 0 if none applies
	Problem string
}

func (e *VerifyError) Error() string { return "journal: " + e.Problem }

func (r *Report) fail(seq uint64, format string, args ...any) (*Report, error) {
	r.BadSeq, r.Problem = seq, fmt.Sprintf(format, args...)
	return r, &VerifyError{Seq: seq, Problem: r.Problem}
}

// vck is a checkpoint to check during Verify.
type vck struct {
	*checkpoint
	label string // "checkpoint" or "kept checkpoint"
	kept  bool
}

// Verify recomputes everything in dir: segment headers, frames and CRCs,
// record JSON, contiguous sequence numbers, times that never go backwards,
// the prev-hash chain, the signature of every checkpoint (with v) and the
// Merkle root at each checkpoint, and that no checkpoint covers records the
// journal no longer has. It reads the files only and may run while a
// Journal appends. The error is a *VerifyError when the journal is damaged,
// another error when it cannot be read; the Report is returned either way.
func Verify(dir string, v note.Verifier, opts VerifyOptions) (*Report, error) {
	r := &Report{}
	if v == nil {
		return r, errors.New("journal: verify: no verifier")
	}
	cks, err := verifyCheckpoints(r, dir, v, opts)
	if err != nil {
		return r, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return r, err
	}
	w := &walker{r: r, cks: cks, hs: newHasher(), prevTS: math.MinInt64}
	for k, si := range segs {
		done, err := w.segment(si, k == len(segs)-1)
		if err != nil || r.Problem != "" {
			return r, err
		}
		if done {
			break
		}
	}
	if w.started {
		r.Last = w.expect - 1
		root := w.st.root(w.hs)
		r.Root = root[:]
	}
	for _, c := range w.cks[w.next:] {
		if c.Size > r.Last {
			return r.fail(r.Last+1, "journal ends at seq %d but a signed %s covers %d: records %d-%d missing",
				r.Last, c.label, c.Size, r.Last+1, c.Size)
		}
	}
	if r.Last > r.LatestCheckpoint {
		r.Unsigned = r.Last - r.LatestCheckpoint
	}
	if r.Signed == 0 && r.Last > 0 {
		r.Warnings = append(r.Warnings, "no signed checkpoint: nothing vouches for the records but their own chain")
	}
	return r, nil
}

// verifyCheckpoints checks the signature of every checkpoint (local and
// kept) and returns them ordered by size.
func verifyCheckpoints(r *Report, dir string, v note.Verifier, opts VerifyOptions) ([]vck, error) {
	cf, err := readCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	if cf.torn() {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the checkpoints file ends in an incomplete note at byte %d (a crash while it was written)", cf.end))
	}
	var cks []vck
	for i, e := range cf.entries {
		c, err := openCheckpoint(e.note, v)
		if err != nil {
			_, ferr := r.fail(0, "checkpoint %d (byte %d of the checkpoints file): %v", i+1, e.off, err)
			return nil, ferr
		}
		cks = append(cks, vck{checkpoint: c, label: "checkpoint"})
		r.LatestCheckpoint = max(r.LatestCheckpoint, c.Size)
	}
	r.Signed = len(cks)
	if opts.KeptCheckpoint != nil {
		c, err := openCheckpoint(opts.KeptCheckpoint, v)
		if err != nil {
			_, ferr := r.fail(0, "kept checkpoint: %v", err)
			return nil, ferr
		}
		cks = append(cks, vck{checkpoint: c, label: "kept checkpoint", kept: true})
	}
	slices.SortStableFunc(cks, func(a, b vck) int {
		switch {
		case a.Size < b.Size:
			return -1
		case a.Size > b.Size:
			return 1
		}
		return 0
	})
	for i := 1; i < len(cks); i++ {
		if a, b := cks[i-1], cks[i]; a.Size == b.Size && !bytes.Equal(a.Root, b.Root) {
			_, ferr := r.fail(a.Size, "two signed checkpoints at size %d have different roots (a %s and a %s)", a.Size, a.label, b.label)
			return nil, ferr
		}
	}
	return cks, nil
}

// walker carries Verify's state from record to record.
type walker struct {
	r       *Report
	cks     []vck
	next    int // the first checkpoint not yet checked
	hs      *hasher
	st      treeState
	started bool
	base    uint64 // records before the oldest segment (retention)
	expect  uint64 // next sequence number
	prevTS  int64
	goodAt  uint64 // size of the newest checkpoint that matched (or base)
}

// segment checks one segment. done is set when the walk must stop (a torn
// tail).
func (w *walker) segment(si segInfo, tail bool) (done bool, err error) {
	r := w.r
	s, err := openSegment(si.path)
	if err != nil {
		var he *headerError
		if !errors.As(err, &he) {
			return true, err
		}
		if tail && errors.Is(err, errHeaderIncomplete) {
			r.TornTail = true
			r.Warnings = append(r.Warnings, fmt.Sprintf("the newest segment %s has an incomplete header (being created, or a crash)", segmentName(si.first)))
			return true, nil
		}
		_, err := r.fail(max(w.expect, 1), "%v", he)
		return true, err
	}
	defer s.Close()
	if s.first != si.first {
		_, err := r.fail(max(w.expect, 1), "segment %s declares first seq %d", s.name(), s.first)
		return true, err
	}
	if !w.started {
		if err := w.start(s.first); err != nil || r.Problem != "" {
			return true, err
		}
	}
	switch {
	case s.first > w.expect:
		_, err := r.fail(w.expect, "seq %d: missing (segment %s starts at seq %d after seq %d): records %d-%d missing",
			w.expect, s.name(), s.first, w.expect-1, w.expect, s.first-1)
		return true, err
	case s.first < w.expect:
		_, err := r.fail(s.first, "seq %d: appears twice (segment %s starts at seq %d after seq %d)",
			s.first, s.name(), s.first, w.expect-1)
		return true, err
	}
	r.Segments++
	for {
		p, off, err := s.next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		var fe *frameError
		if errors.As(err, &fe) {
			if tail && fe.torn() {
				r.TornTail = true
				r.Warnings = append(r.Warnings, fmt.Sprintf("seq %d in %s at offset %d is cut short (%s): a crash or a write in progress", w.expect, s.name(), off, fe.reason))
				return true, nil
			}
			_, err := r.fail(w.expect, "seq %d: %s (%s, offset %d)", w.expect, fe.reason, s.name(), off)
			return true, err
		}
		if err != nil {
			return true, err
		}
		if err := w.record(p); err != nil || r.Problem != "" {
			return true, err
		}
	}
}

// start sets up the tree before the oldest segment: empty when it starts
// at seq 1, else from the signed checkpoint at the retention cut.
func (w *walker) start(first uint64) error {
	r := w.r
	w.started = true
	w.base, w.expect, w.goodAt = first-1, first, first-1
	r.First = first
	if w.base > 0 {
		i := slices.IndexFunc(w.cks, func(c vck) bool { return c.Size == w.base })
		if i < 0 {
			_, err := r.fail(1, "journal starts at seq %d, but no signed checkpoint covers records 1-%d", first, w.base)
			return err
		}
		st, err := w.cks[i].tree()
		if err != nil {
			_, err := r.fail(w.base, "%s at size %d: %v", w.cks[i].label, w.base, err)
			return err
		}
		w.st = st
	}
	for ; w.next < len(w.cks) && w.cks[w.next].Size <= w.base; w.next++ {
		c := w.cks[w.next]
		if c.Size == w.base {
			w.checked(c)
			continue
		}
		if c.kept {
			r.Warnings = append(r.Warnings, fmt.Sprintf("the kept checkpoint at size %d predates the oldest record kept (seq %d) and cannot be checked", c.Size, first))
		}
	}
	return nil
}

// checked counts a checkpoint that matched the records.
func (w *walker) checked(c vck) {
	if c.kept {
		w.r.KeptChecked = true
	} else {
		w.r.Checkpoints++
	}
}

// record checks one record and the checkpoints at its size.
func (w *walker) record(p []byte) error {
	r, seq := w.r, w.expect
	rec, err := DecodeRecord(p)
	if err != nil {
		_, err := r.fail(seq, "seq %d: %v", seq, err)
		return err
	}
	switch {
	case rec.Seq > seq:
		_, err := r.fail(seq, "seq %d: missing or out of order (seq %d follows seq %d)", seq, rec.Seq, seq-1)
		return err
	case rec.Seq+1 == seq:
		_, err := r.fail(rec.Seq, "seq %d: appears twice (a record was inserted or copied)", rec.Seq)
		return err
	case rec.Seq < seq:
		_, err := r.fail(seq, "seq %d: found seq %d in its place (records inserted or reordered)", seq, rec.Seq)
		return err
	}
	if rec.Event.Seq != seq {
		_, err := r.fail(seq, "seq %d: its event says seq %d", seq, rec.Event.Seq)
		return err
	}
	switch {
	case seq == 1 && len(rec.Prev) != 0:
		_, err := r.fail(1, "seq 1: has a prev hash")
		return err
	case seq > 1 && !bytes.Equal(rec.Prev, w.st.last[:]):
		if seq-1 > w.base {
			_, err := r.fail(seq-1, "seq %d: altered or replaced (the prev hash of seq %d does not match it)", seq-1, seq)
			return err
		}
		_, err := r.fail(seq, "seq %d: its prev hash does not match the checkpoint at the retention cut", seq)
		return err
	}
	ts := rec.Time.UnixNano()
	if ts < w.prevTS {
		_, err := r.fail(seq, "seq %d: time goes backwards (%s after %s)", seq,
			rec.Time.Format(time.RFC3339Nano), time.Unix(0, w.prevTS).UTC().Format(time.RFC3339Nano))
		return err
	}
	w.prevTS = ts
	w.st.append(w.hs.leaf(p), w.hs)
	w.expect++
	r.Records++
	for ; w.next < len(w.cks) && w.cks[w.next].Size == w.st.size; w.next++ {
		if err := w.checkpoint(w.cks[w.next]); err != nil || r.Problem != "" {
			return err
		}
	}
	return nil
}

// checkpoint compares a signed checkpoint with the tree at its size. On a
// mismatch the first differing subtree of the compact range bounds the
// first altered record: nothing before the newest matching checkpoint or
// before that subtree was altered.
func (w *walker) checkpoint(c vck) error {
	r := w.r
	root := w.st.root(w.hs)
	if bytes.Equal(root[:], c.Root) {
		if !bytes.Equal(c.Last, w.st.last[:]) {
			_, err := r.fail(c.Size, "%s at size %d names a different last record", c.label, c.Size)
			return err
		}
		w.checked(c)
		w.goodAt = max(w.goodAt, c.Size)
		return nil
	}
	lo, hi := w.goodAt+1, c.Size
	ids := compact.RangeNodes(0, c.Size, nil)
	for i := range w.st.n {
		if !bytes.Equal(w.st.nodes[i][:], c.Range[i]) {
			begin, end := ids[i].Coverage()
			lo, hi = max(lo, begin+1), min(hi, end)
			break
		}
	}
	if lo == hi {
		_, err := r.fail(lo, "%s at size %d does not match: record %d was altered or replaced", c.label, c.Size, lo)
		return err
	}
	_, err := r.fail(lo, "%s at size %d does not match: records %d-%d were altered (one or more of them)", c.label, c.Size, lo, hi)
	return err
}
