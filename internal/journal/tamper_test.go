package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"golang.org/x/mod/sumdb/note"
)

// built is a closed journal of n records over many small segments, with a
// checkpoint at every segment end and at Close.
type built struct {
	dir, vkey string
	kept      []byte // the checkpoint at Close, as kept elsewhere
	segs      []segInfo
}

func buildJournal(t *testing.T, n int) built {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	j := openJournal(t, testOptions(dir))
	appendN(t, j, n, "t", true)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	kept, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	b := built{dir: dir, vkey: j.VerifierKey(), kept: kept, segs: segmentFiles(t, dir)}
	if len(b.segs) < 6 {
		t.Fatalf("only %d segments", len(b.segs))
	}
	mustVerify(t, dir, b.vkey, VerifyOptions{KeptCheckpoint: kept})
	return b
}

// segEnd returns the last seq of segment i.
func (b built) segEnd(i int) uint64 { return b.segs[i+1].first - 1 }

func TestTamperFrames(t *testing.T) {
	base := buildJournal(t, 300)
	const seq = 37
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, dir string, f frameLoc)
		bad   uint64
		wants string
	}{
		{"payload byte", func(t *testing.T, dir string, f frameLoc) { flipByte(t, f.path, f.off+frameHeadLen+40) }, seq, "seq 37: CRC mismatch"},
		{"length low byte", func(t *testing.T, dir string, f frameLoc) { flipByte(t, f.path, f.off+3) }, seq, "seq 37: CRC mismatch"},
		{"length high byte", func(t *testing.T, dir string, f frameLoc) { flipByte(t, f.path, f.off) }, seq, "seq 37: frame length 16777"},
		{"length past the end", func(t *testing.T, dir string, f frameLoc) { flipByte(t, f.path, f.off+1) }, seq, "runs past the end of the segment"},
		{"crc byte", func(t *testing.T, dir string, f frameLoc) { flipByte(t, f.path, f.off+6) }, seq, "seq 37: CRC mismatch"},
		{"delete record", func(t *testing.T, dir string, f frameLoc) {
			spliceFile(t, f.path, f.off, int64(frameHeadLen+len(f.payload)), nil)
		}, seq, "seq 37: missing or out of order (seq 38 follows seq 36)"},
		{"insert a copy", func(t *testing.T, dir string, f frameLoc) {
			spliceFile(t, f.path, f.off, 0, frameBytes(frameOf(t, dir, 10).payload))
		}, seq, "seq 37: found seq 10 in its place"},
		{"insert a forged record", func(t *testing.T, dir string, f frameLoc) {
			// A well-formed record 37 chained to 36 with a valid CRC, placed
			// before the real 37.
			rec, err := DecodeRecord(f.payload)
			if err != nil {
				t.Fatal(err)
			}
			rec.Event.Reason = "forged"
			forged := encodeRecord(t, rec, rec.Prev)
			spliceFile(t, f.path, f.off, 0, frameBytes(forged))
		}, seq, "seq 37: appears twice"},
		{"swap two", func(t *testing.T, dir string, f frameLoc) {
			g := frameOf(t, dir, seq+1)
			if g.path != f.path {
				t.Fatal("37 and 38 are in different segments")
			}
			spliceFile(t, f.path, f.off, int64(2*frameHeadLen+len(f.payload)+len(g.payload)),
				append(frameBytes(g.payload), frameBytes(f.payload)...))
		}, seq, "seq 37: missing or out of order (seq 38 follows seq 36)"},
		{"re-CRC'd edit", func(t *testing.T, dir string, f frameLoc) {
			p := bytes.Replace(f.payload, []byte("t-36"), []byte("t-99"), 1)
			spliceFile(t, f.path, f.off, int64(frameHeadLen+len(f.payload)), frameBytes(p))
		}, seq, "seq 37: altered or replaced (the prev hash of seq 38 does not match it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, base.dir)
			tc.edit(t, dir, frameOf(t, dir, seq))
			wantBad(t, dir, base.vkey, VerifyOptions{}, tc.bad, tc.wants)
		})
	}
}

func rename(r *Record) bool { r.Event.Reason = "renamed"; return true }

// encodeRecord encodes rec as the writer would, with the given prev hash.
func encodeRecord(t *testing.T, rec *Record, prev []byte) []byte {
	t.Helper()
	body, err := appendEventBody(nil, &rec.Event)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq == 1 {
		prev = nil
	}
	return appendPayload(nil, rec.Seq, rec.Time.UnixNano(), prev, body)
}

func TestTamperInTheNewestSegment(t *testing.T) {
	base := buildJournal(t, 306) // 12 records a segment: 301-306 in the newest
	// A length edited to run past the end of the newest segment is not a
	// torn write: the frame's bytes hold a complete payload.
	dir := copyDir(t, base.dir)
	seq := base.segs[len(base.segs)-1].first
	if seq >= 306 {
		t.Fatal("the newest segment holds fewer than 2 records")
	}
	f := frameOf(t, dir, seq)
	flipByte(t, f.path, f.off+1)
	wantBad(t, dir, base.vkey, VerifyOptions{}, seq, "frame length")
	// An edit of the very last record is caught by its CRC too.
	dir = copyDir(t, base.dir)
	f = frameOf(t, dir, 306)
	flipByte(t, f.path, f.off+frameHeadLen+100)
	wantBad(t, dir, base.vkey, VerifyOptions{}, 306, "seq 306: CRC mismatch")
	// And a re-CRC'd edit of the last record only by the checkpoint, which
	// bounds it by the smallest subtree of its compact range that differs
	// (306 = 256+32+16+2: leaves 304-305, records 305-306).
	dir = copyDir(t, base.dir)
	f = frameOf(t, dir, 306)
	p := bytes.Replace(f.payload, []byte("t-305"), []byte("t-999"), 1)
	spliceFile(t, f.path, f.off, int64(frameHeadLen+len(f.payload)), frameBytes(p))
	wantBad(t, dir, base.vkey, VerifyOptions{}, 305, "checkpoint at size 306 does not match: records 305-306 were altered")
	// An edit of record 305 with 306 re-chained after it is bounded the
	// same way.
	dir = copyDir(t, base.dir)
	forge(t, dir, func(r *Record) bool { return r.Seq == 305 && rename(r) })
	wantBad(t, dir, base.vkey, VerifyOptions{}, 305, "checkpoint at size 306 does not match: records 305-306 were altered")
}

func TestTamperDropSegment(t *testing.T) {
	base := buildJournal(t, 300)
	dir := copyDir(t, base.dir)
	drop := base.segs[3]
	if err := os.Remove(filepath.Join(dir, filepath.Base(drop.path))); err != nil {
		t.Fatal(err)
	}
	wantBad(t, dir, base.vkey, VerifyOptions{}, drop.first, "missing")
}

// forge rewrites the journal from the first record mutate changes on, as
// someone without the signing key would: edited events, recomputed prev
// hashes and CRCs, the same sequence numbers and segment boundaries.
func forge(t *testing.T, dir string, mutate func(r *Record) bool) {
	t.Helper()
	var prev []byte
	byPath := map[string][]byte{}
	for _, si := range segmentFiles(t, dir) {
		byPath[si.path] = appendSegmentHeader(nil, si.first)
	}
	for _, f := range frames(t, dir) {
		rec, err := DecodeRecord(f.payload)
		if err != nil {
			t.Fatal(err)
		}
		p := f.payload
		if mutate(rec) || (prev != nil && !bytes.Equal(rec.Prev, prev)) {
			p = encodeRecord(t, rec, prev)
		}
		byPath[f.path] = append(byPath[f.path], frameBytes(p)...)
		prev = LeafHash(p)
	}
	for path, data := range byPath {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTamperForgedSegment(t *testing.T) {
	base := buildJournal(t, 300)
	first := base.segs[3].first

	t.Run("first record", func(t *testing.T) {
		dir := copyDir(t, base.dir)
		forge(t, dir, func(r *Record) bool {
			if r.Seq == first {
				r.Event.Request.Text = "DELETE FROM orders"
				return true
			}
			return false
		})
		// Frames, sequence, chain and times all check out: only the signed
		// checkpoints catch it.
		r := wantBad(t, dir, base.vkey, VerifyOptions{}, first, "checkpoint at size ")
		if !strings.Contains(r.Problem, "does not match") {
			t.Fatalf("problem %q", r.Problem)
		}
	})
	t.Run("middle record", func(t *testing.T) {
		dir := copyDir(t, base.dir)
		altered := first + 4
		forge(t, dir, func(r *Record) bool {
			if r.Seq == altered {
				r.Event.Decision.Action = sluice.ActionDeny
				return true
			}
			return false
		})
		r, err := Verify(dir, verifier(t, base.vkey), VerifyOptions{})
		if err == nil || r.BadSeq < first || r.BadSeq > altered || !strings.Contains(r.Problem, "does not match") {
			t.Fatalf("Verify = %v, report %+v; want the first bad seq in %d-%d", err, r, first, altered)
		}
	})
	t.Run("with forged checkpoints", func(t *testing.T) {
		dir := copyDir(t, base.dir)
		forge(t, dir, func(r *Record) bool { return r.Seq == first })
		// The forger also replaces the checkpoints, signing with their own key.
		skey, _, err := note.GenerateKey(nil, DefaultOrigin)
		if err != nil {
			t.Fatal(err)
		}
		resignCheckpoints(t, dir, skey)
		_, err = Verify(dir, verifier(t, base.vkey), VerifyOptions{})
		if err == nil || !strings.Contains(err.Error(), "not signed by "+DefaultOrigin) {
			t.Fatalf("Verify = %v", err)
		}
	})
}

// resignCheckpoints replaces every checkpoint with one recomputed from the
// records and signed with skey.
func resignCheckpoints(t *testing.T, dir, skey string) {
	t.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := readCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[uint64]bool{}
	for _, e := range cf.entries {
		c, _ := parseCheckpointNote(e.note)
		sizes[c.Size] = true
	}
	h := newHasher()
	var st treeState
	var out []byte
	emit := func() {
		root := st.root(h)
		c := &checkpoint{Origin: DefaultOrigin, Size: st.size, Root: root[:], Range: st.rangeHashes()}
		if st.size > 0 {
			c.Last = st.last[:]
		}
		msg, err := signCheckpoint(c, signer)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, msg...), '\n')
	}
	if sizes[0] {
		emit()
	}
	for _, f := range frames(t, dir) {
		st.append(h.leaf(f.payload), h)
		if sizes[st.size] {
			emit()
		}
	}
	if err := os.WriteFile(filepath.Join(dir, checkpointsName), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTamperTruncateTail(t *testing.T) {
	base := buildJournal(t, 300)
	const keep = 250
	// truncate cuts the journal after record keep at offset extra into the
	// next frame, and removes the newer segments.
	truncate := func(t *testing.T, dir string, extra int64) {
		f := frameOf(t, dir, keep+1)
		if err := os.Truncate(f.path, f.off+extra); err != nil {
			t.Fatal(err)
		}
		for _, si := range segmentFiles(t, dir) {
			if si.first > keep+1 {
				os.Remove(si.path)
			}
		}
	}
	t.Run("local checkpoints catch it", func(t *testing.T) {
		dir := copyDir(t, base.dir)
		truncate(t, dir, 0)
		// The first checkpoint after 250 is the one at the end of its segment
		// (12 records a segment: 252).
		r := wantBad(t, dir, base.vkey, VerifyOptions{}, keep+1,
			"journal ends at seq 250 but a signed checkpoint covers 252: records 251-252 missing")
		if r.Last != keep {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("torn as well", func(t *testing.T) {
		dir := copyDir(t, base.dir)
		truncate(t, dir, 20)
		r := wantBad(t, dir, base.vkey, VerifyOptions{}, keep+1, "journal ends at seq 250 but a signed checkpoint covers ")
		if !r.TornTail {
			t.Fatal("torn tail not reported")
		}
	})
	t.Run("only a kept checkpoint catches it", func(t *testing.T) {
		dir := copyDir(t, base.dir)
		truncate(t, dir, 0)
		// The intruder also removes the local checkpoints after 250.
		cf, err := readCheckpoints(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, e := range cf.entries {
			if c, _ := parseCheckpointNote(e.note); c.Size <= keep {
				out = append(append(out, e.note...), '\n')
			}
		}
		if err := os.WriteFile(filepath.Join(dir, checkpointsName), out, 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustVerify(t, dir, base.vkey, VerifyOptions{})
		if r.Last != keep {
			t.Fatalf("Last = %d", r.Last)
		}
		wantBad(t, dir, base.vkey, VerifyOptions{KeptCheckpoint: base.kept}, keep+1,
			"journal ends at seq 250 but a signed kept checkpoint covers 300: records 251-300 missing")
	})
	t.Run("kept checkpoint matches an intact journal", func(t *testing.T) {
		r := mustVerify(t, base.dir, base.vkey, VerifyOptions{KeptCheckpoint: base.kept})
		if !r.KeptChecked {
			t.Fatal("kept checkpoint not checked")
		}
	})
	t.Run("kept checkpoint from another key", func(t *testing.T) {
		other := openJournal(t, testOptions(filepath.Join(t.TempDir(), "journal")))
		appendN(t, other, 3, "o", true)
		kept, err := other.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		_, err = Verify(base.dir, verifier(t, base.vkey), VerifyOptions{KeptCheckpoint: kept})
		if err == nil || !strings.Contains(err.Error(), "kept checkpoint") {
			t.Fatalf("Verify = %v", err)
		}
	})
}
