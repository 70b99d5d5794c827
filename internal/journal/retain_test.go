package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRetain(t *testing.T) {
	base := buildJournal(t, 306)
	dir := copyDir(t, base.dir)
	os.WriteFile(filepath.Join(filepath.Dir(dir), keyName), mustRead(t, filepath.Join(filepath.Dir(base.dir), keyName)), 0o600)
	var seen [][2]uint64
	removed, err := Retain(dir, func(first, last *Record) bool {
		seen = append(seen, [2]uint64{first.Seq, last.Seq})
		return last.Seq >= 200
	})
	if err != nil {
		t.Fatal(err)
	}
	// 12 records a segment: segments 1-12 ... 181-192 go, 193-204 stays.
	if removed != 16 || len(seen) != 17 || seen[0] != [2]uint64{1, 12} || seen[16] != [2]uint64{193, 204} {
		t.Fatalf("removed %d, keep saw %v", removed, seen)
	}
	if first := segmentFiles(t, dir)[0].first; first != 193 {
		t.Fatalf("oldest segment starts at %d", first)
	}
	r := mustVerify(t, dir, base.vkey, VerifyOptions{KeptCheckpoint: base.kept})
	if r.First != 193 || r.Last != 306 || r.Records != 114 || !r.KeptChecked || r.Checkpoints < 9 {
		t.Fatalf("report %+v", r)
	}
	recs := scanAll(t, dir)
	if len(recs) != 114 || recs[0].Seq != 193 {
		t.Fatalf("Scan: %d records from %d", len(recs), recs[0].Seq)
	}
	// Proofs work for what is kept, and say why for what is not.
	p, err := Prove(dir, 250, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckProof(p, base.vkey); err != nil {
		t.Fatal(err)
	}
	if p, err = Prove(dir, 193, nil); err != nil || CheckProof(p, base.vkey) != nil {
		t.Fatalf("Prove(193) = %v", err)
	}
	if _, err := Prove(dir, 100, nil); err == nil || !strings.Contains(err.Error(), "removed by retention") {
		t.Fatalf("Prove(100) = %v", err)
	}

	// The journal reopens after retention and continues.
	j := openJournal(t, testOptions(dir))
	appendN(t, j, 20, "more", true)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, dir, base.vkey, VerifyOptions{}); r.Last != 326 {
		t.Fatalf("report %+v", r)
	}

	// Dropping the oldest segment now, without the checkpoint at the cut,
	// is caught.
	os.Remove(segmentFiles(t, dir)[0].path)
	data := mustRead(t, filepath.Join(dir, checkpointsName))
	cf, _ := readCheckpoints(dir)
	var out []byte
	for _, e := range cf.entries {
		if c, _ := parseCheckpointNote(e.note); c.Size != 204 {
			out = append(append(out, e.note...), '\n')
		}
	}
	if len(out) == len(data) {
		t.Fatal("no checkpoint at 204")
	}
	os.WriteFile(filepath.Join(dir, checkpointsName), out, 0o600)
	wantBad(t, dir, base.vkey, VerifyOptions{}, 1, "journal starts at seq 205, but no signed checkpoint covers records 1-204")
}

func TestRetainKeepsTheNewestAndNeedsCheckpoints(t *testing.T) {
	base := buildJournal(t, 100)
	dir := copyDir(t, base.dir)
	// Without checkpoints there is no safe cut.
	os.Remove(filepath.Join(dir, checkpointsName))
	if n, err := Retain(dir, func(_, _ *Record) bool { return false }); err != nil || n != 0 {
		t.Fatalf("Retain without checkpoints = %d, %v", n, err)
	}
	// Everything may go except the newest segment.
	dir = copyDir(t, base.dir)
	n, err := Retain(dir, func(_, _ *Record) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, dir)
	if n != len(base.segs)-1 || len(segs) != 1 || segs[0].path != filepath.Join(dir, filepath.Base(base.segs[len(base.segs)-1].path)) {
		t.Fatalf("removed %d, left %v", n, segs)
	}
	mustVerify(t, dir, base.vkey, VerifyOptions{})
}
