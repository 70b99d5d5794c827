package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestAppendScanReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	o := testOptions(dir)
	j := openJournal(t, o)
	seqs := appendN(t, j, 300, "a", true)
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("seq %d = %d, want %d", i, s, i+1)
		}
	}
	if got := j.Size(); got != 300 {
		t.Fatalf("Size = %d, want 300", got)
	}
	vkey := j.VerifierKey()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := j.Append(context.Background(), testEvent("late"), true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}

	if n := len(segmentFiles(t, dir)); n < 5 {
		t.Fatalf("%d segments, want several (SegmentBytes %d)", n, o.SegmentBytes)
	}
	recs := scanAll(t, dir)
	if len(recs) != 300 {
		t.Fatalf("Scan returned %d records, want 300", len(recs))
	}
	var prevTS time.Time
	for i, r := range recs {
		want := testEvent(fmt.Sprintf("a-%d", i))
		want.Seq = uint64(i + 1)
		if r.Seq != want.Seq || r.Event.Seq != want.Seq {
			t.Fatalf("record %d has seq %d / event seq %d", i, r.Seq, r.Event.Seq)
		}
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(&r.Event)
		if !bytes.Equal(wj, gj) {
			t.Fatalf("record %d event\n got %s\nwant %s", i, gj, wj)
		}
		if !r.Time.After(prevTS) {
			t.Fatalf("record %d time %v not after %v", i, r.Time, prevTS)
		}
		prevTS = r.Time
		if i > 0 && !bytes.Equal(r.Prev, recs[i-1].LeafHash()) {
			t.Fatalf("record %d prev does not chain", i)
		}
	}
	if len(recs[0].Prev) != 0 {
		t.Fatal("record 1 has a prev hash")
	}
	// Scan from the middle.
	var from []uint64
	if err := Scan(dir, 250, func(r *Record) error { from = append(from, r.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(from) != 51 || from[0] != 250 || from[50] != 300 {
		t.Fatalf("Scan from 250 = %d records %v..", len(from), from[:min(3, len(from))])
	}

	r := mustVerify(t, dir, vkey, VerifyOptions{})
	if r.First != 1 || r.Last != 300 || r.Records != 300 || r.Unsigned != 0 || r.LatestCheckpoint != 300 {
		t.Fatalf("report %+v", r)
	}
	if r.Checkpoints < 5 {
		t.Fatalf("only %d checkpoints checked", r.Checkpoints)
	}

	// Reopen and continue; the chain and tree continue too.
	o.Now = newTestClock().Now // a clock that went backwards: times still never do
	j2 := openJournal(t, o)
	if got := j2.Size(); got != 300 {
		t.Fatalf("Size after reopen = %d", got)
	}
	seqs = appendN(t, j2, 50, "b", true)
	if seqs[0] != 301 || seqs[49] != 350 {
		t.Fatalf("seqs after reopen %d..%d", seqs[0], seqs[49])
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustVerify(t, dir, vkey, VerifyOptions{})
	if r.Last != 350 {
		t.Fatalf("Last = %d", r.Last)
	}
}

func TestKeyFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "journal")
	j := openJournal(t, testOptions(dir))
	keyFile := filepath.Join(root, "journal.key")
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode().Perm())
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", dst.Mode().Perm())
	}
	vkey, err := VerifierKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if vkey != j.VerifierKey() || !strings.HasPrefix(vkey, DefaultOrigin+"+") {
		t.Fatalf("VerifierKey = %q, journal says %q", vkey, j.VerifierKey())
	}
	appendN(t, j, 3, "k", true)
	j.Close()
	for _, e := range mustReadDir(t, dir) {
		if st, _ := os.Stat(filepath.Join(dir, e)); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", e, st.Mode().Perm())
		}
	}

	// A configured key file must exist; it is not created.
	o := testOptions(filepath.Join(root, "other"))
	o.KeyFile = filepath.Join(root, "missing.key")
	if _, err := Open(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Open with a missing key file = %v", err)
	}
	// A configured key from GenerateKey signs with its own name.
	skey, vkey2, err := GenerateKey("example.com/audit")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.KeyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j2 := openJournal(t, o)
	if j2.VerifierKey() != vkey2 {
		t.Fatalf("VerifierKey %q, want %q", j2.VerifierKey(), vkey2)
	}
	ck, err := j2.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openCheckpoint(ck, verifier(t, vkey2)); err != nil {
		t.Fatalf("checkpoint does not verify with the configured key: %v", err)
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenTwiceIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	openJournal(t, testOptions(dir))
	if _, err := Open(context.Background(), testOptions(dir)); err == nil || !strings.Contains(err.Error(), "open in another process") {
		t.Fatalf("second Open = %v", err)
	}
}

func TestCheckpointNote(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	o := testOptions(dir)
	o.Origin = "example.com/sluice"
	j := openJournal(t, o)
	appendN(t, j, 5, "c", true)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	ck, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	c, err := openCheckpoint(ck, verifier(t, j.VerifierKey()))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ck), "\n")
	if lines[0] != "example.com/sluice" || lines[1] != "5" || !strings.HasPrefix(lines[3], "time 2026-01-02T15:04:05.") ||
		!strings.HasPrefix(lines[4], "last ") || !strings.HasPrefix(lines[5], "range ") || lines[6] != "" ||
		!strings.HasPrefix(lines[7], "— example.com/sluice ") {
		t.Fatalf("checkpoint note:\n%s", ck)
	}
	recs := scanAll(t, dir)
	if !bytes.Equal(c.Last, recs[4].LeafHash()) {
		t.Fatal("last is not the leaf hash of record 5")
	}
	if len(c.Range) != 2 { // 5 = 4 + 1
		t.Fatalf("range has %d hashes", len(c.Range))
	}
	// The local checkpoints file holds the same note last.
	if latest, err := LatestCheckpoint(dir); err != nil || !bytes.Equal(latest, ck) {
		t.Fatalf("LatestCheckpoint = %q, %v", latest, err)
	}
	cf, err := readCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.entries[len(cf.entries)-1].note; !bytes.Equal(got, ck) {
		t.Fatalf("checkpoints file ends with\n%s\nwant\n%s", got, ck)
	}
	if cf.entries[0].note[len(cf.entries[0].note)-1] != '\n' {
		t.Fatal("note does not end in a newline")
	}
}

func TestCheckpointEveryAndInterval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	o := testOptions(dir)
	o.SegmentBytes = 64 << 20
	o.CheckpointEvery = 100
	cks := make(chan uint64, 100)
	o.hooks.checkpoint = func(size uint64) { cks <- size }
	j := openJournal(t, o)
	waitFor(t, cks, "the checkpoint at Open", func(n uint64) bool { return n == 0 })
	appendN(t, j, 99, "e", true)
	select {
	case n := <-cks:
		t.Fatalf("checkpoint at %d before CheckpointEvery", n)
	default:
	}
	appendN(t, j, 1, "e", true)
	waitFor(t, cks, "a checkpoint after 100 records", func(n uint64) bool { return n == 100 })

	dir2 := filepath.Join(t.TempDir(), "journal")
	o2 := testOptions(dir2)
	o2.CheckpointInterval = 5 * time.Millisecond
	cks2 := make(chan uint64, 100)
	o2.hooks.checkpoint = func(size uint64) { cks2 <- size }
	j2 := openJournal(t, o2)
	appendN(t, j2, 7, "i", true)
	waitFor(t, cks2, "a timed checkpoint", func(n uint64) bool { return n == 7 })
}

func TestNonDurableAppendIsFlushed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	o := testOptions(dir)
	written := make(chan uint64, 10)
	o.hooks.written = func(size uint64) { written <- size }
	j := openJournal(t, o)
	seq, err := j.Append(context.Background(), testEvent("result"), false)
	if err != nil || seq != 1 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
	waitFor(t, written, "the flush of a non-durable record", func(n uint64) bool { return n == 1 })
	if recs := scanAll(t, dir); len(recs) != 1 || recs[0].Event.Reason != "result" {
		t.Fatalf("Scan = %v", recs)
	}
	// Non-durable records also go out with the next durable one, and Close
	// writes what is left.
	appendN(t, j, 3, "nd", false)
	appendN(t, j, 1, "d", true)
	appendN(t, j, 2, "tail", false)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	recs := scanAll(t, dir)
	if len(recs) != 7 || recs[6].Event.Reason != "tail-1" {
		t.Fatalf("%d records", len(recs))
	}
	mustVerify(t, dir, j.VerifierKey(), VerifyOptions{})
}

func TestAppendRejects(t *testing.T) {
	j := openJournal(t, testOptions(filepath.Join(t.TempDir(), "journal")))
	if _, err := j.Append(context.Background(), nil, true); err == nil {
		t.Fatal("nil event accepted")
	}
	ev := testEvent("far future")
	ev.Time = time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := j.Append(context.Background(), ev, true); err == nil || !strings.Contains(err.Error(), "encode event") {
		t.Fatalf("Append of an unencodable time = %v", err)
	}
	big := testEvent("big")
	big.Request.Text = strings.Repeat("x", MaxRecordBytes)
	if _, err := j.Append(context.Background(), big, true); err == nil || !strings.Contains(err.Error(), "exceeds the record limit") {
		t.Fatalf("Append of a huge event = %v", err)
	}
	// Nothing was written, and the next record is seq 1.
	if seq, err := j.Append(context.Background(), testEvent("ok"), true); err != nil || seq != 1 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
}

func TestAppendContextCanceledWhileWaiting(t *testing.T) {
	j := openJournal(t, testOptions(filepath.Join(t.TempDir(), "journal")))
	j.lead <- struct{}{} // another writer holds the lead
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := j.Append(ctx, &sluice.Event{Type: sluice.EventSessionEnd, Reason: "x"}, true)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %v, want context.Canceled", err)
	}
	<-j.lead
	// The record is still written.
	if seq, err := j.Append(context.Background(), testEvent("after"), true); err != nil || seq != 2 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
}

func TestParseSyncMode(t *testing.T) {
	for in, want := range map[string]SyncMode{"": SyncBatch, "batch": SyncBatch, "always": SyncAlways} {
		if got, err := ParseSyncMode(in); err != nil || got != want {
			t.Errorf("ParseSyncMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSyncMode("sometimes"); err == nil {
		t.Error("ParseSyncMode accepted sometimes")
	}
	if SyncAlways.String() != "always" || SyncBatch.String() != "batch" {
		t.Error("String")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{},
		{Dir: "x", Origin: "has space"},
		{Dir: "x", Origin: "a+b"},
		{Dir: "x", SegmentBytes: 10},
		{Dir: "x", Sync: 7},
	} {
		if _, err := Open(context.Background(), o); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}
