package export

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

// memStore is a write-once ObjectStore in memory that can be made to fail.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	down    bool
	puts    int
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (m *memStore) Put(_ context.Context, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errors.New("store unreachable")
	}
	if _, ok := m.objects[name]; ok {
		return fmt.Errorf("%s: %w", name, ErrExists)
	}
	m.puts++
	m.objects[name] = append([]byte(nil), data...)
	return nil
}

func (m *memStore) List(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errors.New("store unreachable")
	}
	var out []string
	for n := range m.objects {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return sortStrings(out), nil
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func (m *memStore) Get(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[name]
	if !ok {
		return nil, errors.New("no such object")
	}
	return b, nil
}

func (m *memStore) Close() error { return nil }

func (m *memStore) setDown(d bool) {
	m.mu.Lock()
	m.down = d
	m.mu.Unlock()
}

// newJournal opens a journal with small segments and frequent checkpoints.
func newJournal(t *testing.T) (*journal.Journal, string) {
	t.Helper()
	dir := t.TempDir()
	j, err := journal.Open(context.Background(), journal.Options{Dir: dir + "/journal", KeyFile: dir + "/journal.key",
		SegmentBytes: 16 << 10, CheckpointEvery: 25, CheckpointInterval: 5 * time.Millisecond, FsyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, dir + "/journal"
}

func appendEvents(t *testing.T, j *journal.Journal, n int) {
	t.Helper()
	for i := range n {
		ev := &sluice.Event{Time: time.Now(), Type: sluice.EventRequest, Session: "s1",
			Request: &sluice.Request{ID: fmt.Sprintf("s1/%d", i), Kind: sluice.KindSQL, Text: fmt.Sprintf("select %d, 'padding padding padding padding'", i)}}
		if _, err := j.Append(context.Background(), ev, true); err != nil {
			t.Fatal(err)
		}
	}
}

// memCursors keeps cursors in memory.
type memCursors struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *memCursors) ExportCursor(_ context.Context, k string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k], nil
}

func (c *memCursors) SetExportCursor(_ context.Context, k string, seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = max(c.m[k], seq)
	return nil
}

func TestGaps(t *testing.T) {
	cov := []span{{1, 10}, {11, 20}, {31, 40}}
	for _, c := range []struct {
		from, to uint64
		want     string
	}{
		{1, 40, "[{21 30}]"}, {1, 50, "[{21 30} {41 50}]"}, {5, 15, "[]"}, {21, 25, "[{21 25}]"}, {45, 60, "[{45 60}]"},
	} {
		if got := fmt.Sprint(gaps(cov, c.from, c.to)); got != c.want {
			t.Errorf("gaps(%d, %d) = %s, want %s", c.from, c.to, fmt.Sprint(gaps(cov, c.from, c.to)), c.want)
		}
	}
}

// TestArchiveShipsAndVerifies ships a journal through a store that goes
// down mid-run, re-ships a range, and verifies the copy on its own.
func TestArchiveShipsAndVerifies(t *testing.T) {
	j, dir := newJournal(t)
	st := newMemStore()
	a := &Archive{Store: st, Dir: dir, ChunkBytes: 2048}
	cursors := &memCursors{m: map[string]uint64{}}
	r := &Runner{Name: "mem", Key: "mem", Exporter: a, Cursors: cursors, Size: j.Size,
		Interval: 5 * time.Millisecond, MinBackoff: 5 * time.Millisecond, LagWarning: 10}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	appendEvents(t, j, 100)
	waitFor(t, func() bool { return r.Cursor() == 100 })
	st.setDown(true)
	appendEvents(t, j, 100)
	waitFor(t, func() bool { return r.Errors() > 0 })
	if r.Cursor() != 100 || !strings.Contains(r.Health(), "lags 100 records") {
		t.Errorf("while down: cursor %d, health %q", r.Cursor(), r.Health())
	}
	st.setDown(false)
	waitFor(t, func() bool { return r.Cursor() == 200 })
	if r.Health() != "" {
		t.Errorf("health after catching up: %q", r.Health())
	}
	// Re-shipping what is there ships nothing twice.
	puts := st.puts
	if last, err := (&Archive{Store: st, Dir: dir, ChunkBytes: 999}).Export(context.Background(), 1, 200); err != nil || last != 200 {
		t.Fatalf("re-ship: %d %v", last, err)
	}
	if st.puts != puts {
		t.Errorf("re-shipping wrote %d objects", st.puts-puts)
	}
	verifyCopy(t, st, j.VerifierKey(), 200)
}

// verifyCopy fetches the archive and verifies it with the public key.
func verifyCopy(t *testing.T, st ObjectStore, vkey string, want uint64) {
	t.Helper()
	out := t.TempDir()
	kept, err := Fetch(context.Background(), st, out)
	if err != nil {
		t.Fatal(err)
	}
	v, err := journal.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := journal.Verify(out, v, journal.VerifyOptions{KeptCheckpoint: kept})
	if err != nil {
		t.Fatalf("verify the copy: %v", err)
	}
	if rep.Last != want || !rep.KeptChecked {
		t.Errorf("copy verified through %d (kept checked %v), want %d", rep.Last, rep.KeptChecked, want)
	}
}

func TestArchiveCopyTampered(t *testing.T) {
	j, dir := newJournal(t)
	appendEvents(t, j, 60)
	j.Close()
	st := newMemStore()
	a := &Archive{Store: st, Dir: dir, ChunkBytes: 1024}
	if last, err := a.Export(context.Background(), 1, 1000); err != nil || last == 0 {
		t.Fatalf("export: %d %v", last, err)
	}
	// Drop one chunk from the copy: verify must name the missing records.
	names, _ := st.List(context.Background(), segmentsDir)
	delete(st.objects, names[1])
	out := t.TempDir()
	kept, err := Fetch(context.Background(), st, out)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := journal.NewVerifier(j.VerifierKey())
	if _, err := journal.Verify(out, v, journal.VerifyOptions{KeptCheckpoint: kept}); err == nil {
		t.Fatal("a copy with a chunk missing verified")
	}
}

// fakeSink is an EventSink that records items and can fail.
type fakeSink struct {
	mu    sync.Mutex
	items []Item
	down  bool
}

func (f *fakeSink) Send(_ context.Context, items []Item) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("receiver down")
	}
	f.items = append(f.items, items...)
	return nil
}

func (f *fakeSink) Close() error { return nil }

func TestEventsAtLeastOnceInOrder(t *testing.T) {
	j, dir := newJournal(t)
	sink := &fakeSink{}
	e := &Events{Sink: sink, Dir: dir, Batch: 7, Format: func(r *journal.Record) ([]byte, error) {
		return fmt.Appendf(nil, `{"seq":%d}`, r.Seq), nil
	}}
	r := &Runner{Name: "ev", Key: "ev", Exporter: e, Cursors: &memCursors{m: map[string]uint64{}}, Size: j.Size,
		Interval: 5 * time.Millisecond, MinBackoff: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	appendEvents(t, j, 40)
	waitFor(t, func() bool { return r.Cursor() == 40 })
	sink.mu.Lock()
	sink.down = true
	sink.mu.Unlock()
	appendEvents(t, j, 40)
	waitFor(t, func() bool { return r.Errors() > 0 })
	sink.mu.Lock()
	sink.down = false
	sink.mu.Unlock()
	waitFor(t, func() bool { return r.Cursor() == 80 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.items) != 80 {
		t.Fatalf("%d items delivered, want 80", len(sink.items))
	}
	for i, it := range sink.items {
		if it.Seq != uint64(i+1) || string(it.Data) != fmt.Sprintf(`{"seq":%d}`, i+1) {
			t.Fatalf("item %d: %d %s", i, it.Seq, it.Data)
		}
	}
}

// TestEventsJoinResults exports results that name their requests: each
// reaches Format with its request, whether the request was in the same
// batch, an earlier one, or a batch that is being sent again.
func TestEventsJoinResults(t *testing.T) {
	j, dir := newJournal(t)
	ctx := context.Background()
	var reqs []*sluice.Request
	var seqs []uint64
	for i := range 12 { // two requests in flight at a time
		req := &sluice.Request{ID: fmt.Sprintf("s1/%d", i), SessionID: "s1", Kind: sluice.KindSQL, Text: fmt.Sprintf("select %d", i)}
		seq, err := j.Append(ctx, &sluice.Event{Type: sluice.EventRequest, Session: "s1", Request: req,
			Decision: &sluice.Decision{Action: sluice.ActionAllow}}, true)
		if err != nil {
			t.Fatal(err)
		}
		reqs, seqs = append(reqs, req), append(seqs, seq)
		if i%2 == 1 {
			for k := i - 1; k <= i; k++ {
				res := &sluice.Event{Type: sluice.EventResult, Session: "s1", RequestRef: reqs[k].ID, RequestSeq: seqs[k],
					Result: &sluice.Result{Rows: int64(k)}}
				if _, err := j.Append(ctx, res, true); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sink := &fakeSink{}
	e := &Events{Sink: sink, Dir: dir, Batch: 3, Join: true, Format: func(r *journal.Record) ([]byte, error) {
		if r.Event.Type != sluice.EventResult {
			return nil, nil
		}
		if r.Event.Request == nil {
			return nil, fmt.Errorf("result %d without its request", r.Seq)
		}
		return fmt.Appendf(nil, "%d:%s", r.Event.Result.Rows, r.Event.Request.Text), nil
	}}
	for from, sends := uint64(1), 0; from <= 24; sends++ {
		sink.down = sends%3 == 1 // every third batch is sent twice
		last, err := e.Export(ctx, from, 24)
		if sink.down {
			if err == nil || last != from-1 {
				t.Fatalf("a failed send returned %d, %v", last, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		from = last + 1
	}
	var got []string
	for _, it := range sink.items {
		if it.Data != nil {
			got = append(got, string(it.Data))
		}
	}
	want := make([]string, 12)
	for i := range want {
		want[i] = fmt.Sprintf("%d:select %d", i, i)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("results exported as\n%v\nwant\n%v", got, want)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestArchiveFillsHoles re-ships into a copy with a hole in the middle:
// only the hole is written, and the copy verifies.
func TestArchiveFillsHoles(t *testing.T) {
	j, dir := newJournal(t)
	appendEvents(t, j, 80)
	j.Close()
	st := newMemStore()
	if _, err := (&Archive{Store: st, Dir: dir, ChunkBytes: 1024}).Export(context.Background(), 1, 1000); err != nil {
		t.Fatal(err)
	}
	names, _ := st.List(context.Background(), segmentsDir)
	delete(st.objects, names[2])
	puts := st.puts
	a := &Archive{Store: st, Dir: dir, ChunkBytes: 300}
	for from := uint64(1); from <= 80; {
		last, err := a.Export(context.Background(), from, 1000)
		if err != nil || last < from {
			t.Fatalf("re-ship from %d: %d %v", from, last, err)
		}
		from = last + 1
	}
	if st.puts == puts {
		t.Fatal("the hole was not filled")
	}
	verifyCopy(t, st, j.VerifierKey(), 80)
}
