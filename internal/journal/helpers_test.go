package journal

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"golang.org/x/mod/sumdb/note"
)

// testClock is a clock that advances 1µs on every reading.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time { return time.Unix(0, c.ns.Add(1000)).UTC() }

// testOptions are options for a deterministic journal: checkpoints only at
// segment ends, Open and Close (unless a test changes that).
func testOptions(dir string) Options {
	return Options{
		Dir:                dir,
		SegmentBytes:       8 << 10,
		CheckpointEvery:    1 << 30,
		CheckpointInterval: time.Hour,
		FsyncInterval:      time.Hour,
		Now:                newTestClock().Now,
	}
}

func openJournal(t testing.TB, o Options) *Journal {
	t.Helper()
	j, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// testEvent returns a realistic request event whose Reason identifies it.
func testEvent(tag string) *sluice.Event {
	p1, p2 := "42", "o'brien <x@example.com>"
	t := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC)
	return &sluice.Event{
		Time:    t,
		Type:    sluice.EventRequest,
		Session: "s-01JH3ZK6W8",
		Request: &sluice.Request{
			ID: "r-01JH3ZK6W8-17", Seq: 17, SessionID: "s-01JH3ZK6W8", Kind: sluice.KindSQL,
			Text:   "SELECT id, email, total FROM orders WHERE customer_id = $1 AND name = $2 ORDER BY id LIMIT 100",
			Params: []*string{&p1, &p2, nil}, Class: sluice.ClassRead, Tables: []string{"public.orders"},
			Time: t, Subject: "agent-7f3c", Groups: []string{"ai-agents", "readers"},
			Connection: "orders", ClientAddr: "10.1.2.3:51234",
		},
		Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "agents-orders", Rule: "1"},
		Reason:   tag,
	}
}

// appendN appends n events tagged prefix-i and returns their sequence
// numbers.
func appendN(t testing.TB, j *Journal, n int, prefix string, durable bool) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, n)
	for i := range n {
		seq, err := j.Append(context.Background(), testEvent(fmt.Sprintf("%s-%d", prefix, i)), durable)
		if err != nil {
			t.Fatalf("Append %s-%d: %v", prefix, i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func verifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustVerify fails the test unless dir verifies.
func mustVerify(t testing.TB, dir, vkey string, opts VerifyOptions) *Report {
	t.Helper()
	r, err := Verify(dir, verifier(t, vkey), opts)
	if err != nil {
		t.Fatalf("Verify: %v (report %+v)", err, r)
	}
	return r
}

// wantBad runs Verify and checks that it names seq first, with a problem
// containing want.
func wantBad(t testing.TB, dir, vkey string, opts VerifyOptions, seq uint64, want string) *Report {
	t.Helper()
	r, err := Verify(dir, verifier(t, vkey), opts)
	if err == nil {
		t.Fatalf("Verify passed; want seq %d: %s (report %+v)", seq, want, r)
	}
	ve, ok := err.(*VerifyError)
	if !ok {
		t.Fatalf("Verify error %T %v, want *VerifyError", err, err)
	}
	if ve.Seq != seq || r.BadSeq != seq || !strings.Contains(r.Problem, want) {
		t.Fatalf("Verify named seq %d: %q; want seq %d with %q", r.BadSeq, r.Problem, seq, want)
	}
	return r
}

// frameLoc is where a record sits in a segment.
type frameLoc struct {
	seq     uint64
	path    string
	off     int64 // frame start
	payload []byte
}

// frames lists every frame of every segment in dir.
func frames(t testing.TB, dir string) []frameLoc {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []frameLoc
	for _, si := range segs {
		s, err := openSegment(si.path)
		if err != nil {
			t.Fatal(err)
		}
		for {
			p, off, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", si.path, err)
			}
			e, err := parseEnvelope(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, frameLoc{seq: e.seq, path: si.path, off: off, payload: append([]byte(nil), p...)})
		}
		s.Close()
	}
	return out
}

func frameOf(t testing.TB, dir string, seq uint64) frameLoc {
	t.Helper()
	for _, f := range frames(t, dir) {
		if f.seq == seq {
			return f
		}
	}
	t.Fatalf("seq %d not found", seq)
	return frameLoc{}
}

// frameBytes returns the frame around a payload.
func frameBytes(p []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
	b = binary.BigEndian.AppendUint32(b, crc(p))
	return append(b, p...)
}

// flipByte XORs one byte of a file.
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// spliceFile replaces data[off:off+n] of a file with repl.
func spliceFile(t testing.TB, path string, off, n int64, repl []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append(append([]byte(nil), data[:off]...), repl...), data[off+n:]...)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies a journal directory (flat) to a new temporary one.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// scanAll returns every record in dir.
func scanAll(t testing.TB, dir string) []*Record {
	t.Helper()
	var out []*Record
	if err := Scan(dir, 0, func(r *Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

// segmentFiles returns the segment paths of dir, oldest first.
func segmentFiles(t testing.TB, dir string) []segInfo {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// waitFor receives from ch until ok(v) or the deadline.
func waitFor(t testing.TB, ch <-chan uint64, what string, ok func(uint64) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
