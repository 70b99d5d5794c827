package journal

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCompactCheckpoints(t *testing.T) {
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	j := openJournal(t, o)
	var kept []byte
	for i := range 40 { // 12 records a segment: boundaries at 12, 24, 36
		appendN(t, j, 1, "c", true)
		if err := j.checkpoint(); err != nil {
			t.Fatal(err)
		}
		if i == 16 {
			kept, _ = j.Checkpoint()
		}
	}
	if err := j.compactCheckpoints(); err != nil {
		t.Fatal(err)
	}
	cf, err := readCheckpoints(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []uint64
	for _, e := range cf.entries {
		c, err := parseCheckpointNote(e.note)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, c.Size)
	}
	want := []uint64{0, 12, 24, 36, 37, 38, 39, 40}
	if len(sizes) != len(want) {
		t.Fatalf("checkpoints %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("checkpoints %v, want %v", sizes, want)
		}
	}
	// Appending goes on into the new file.
	appendN(t, j, 1, "after", true)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{KeptCheckpoint: kept})
	if r.Checkpoints != len(want)+1 || !r.KeptChecked || r.LatestCheckpoint != 41 {
		t.Fatalf("report %+v", r)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, checkpointsName+tmpSuffix)); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}

	// A compaction interrupted by a crash leaves a temporary file that Open
	// removes.
	os.WriteFile(filepath.Join(o.Dir, checkpointsName+tmpSuffix), []byte("partial"), 0o600)
	j2 := openJournal(t, o)
	if _, err := os.Stat(filepath.Join(o.Dir, checkpointsName+tmpSuffix)); !os.IsNotExist(err) {
		t.Fatalf("temporary file not removed: %v", err)
	}
	j2.Close()
	mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
}
