package sqlite

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// chunkRecords are statements that exercise every field of the chunk
// format: nil and empty lists, nil items, the zero time, extreme values and
// bytes that are not UTF-8.
func chunkRecords() []*sluice.StatementRecord {
	empty := ""
	odd := "a\xffb\x00"
	return []*sluice.StatementRecord{
		{ID: "r1", SessionID: "s1", Seq: 1, Text: "SELECT 1", Class: sluice.ClassRead, Decision: sluice.ActionAllow,
			StartedAt: time.Unix(1700000000, 123456789).UTC(), Duration: time.Millisecond, Rows: 1, Tag: "SELECT 1",
			Status: sluice.StatusOK, Subject: "alice", Groups: []string{"dba", ""}, Connection: "orders",
			RequestSeq: 10, ResultSeq: 11},
		{ID: "", SessionID: "s1", Seq: -5, Text: "", Params: []*string{}, Groups: []string{}},
		{ID: "r3", SessionID: "s1", Seq: math.MaxInt64, Text: "caf\xe9 \x00", Params: []*string{nil, &empty, &odd, nil},
			Class: 0xffff, Decision: "custom", Rule: "p/1", StartedAt: time.Unix(0, math.MinInt64).UTC(),
			Duration: -1, Rows: math.MinInt64, Error: strings.Repeat("e", 300), RequestSeq: math.MaxInt64,
			ResultSeq: 0, ReviewID: "rv-1"},
		// Written against the statement before: a shorter id that is its
		// prefix, a text with a prefix of its own, the same error, a zero
		// start time before a time, journal positions going down.
		{ID: "r", SessionID: "s1", Seq: math.MinInt64, Text: "caf\xe9 au lait", Params: []*string{nil, &empty, &odd, nil},
			Class: sluice.ClassWrite, Error: strings.Repeat("e", 300), RequestSeq: 3, ResultSeq: 4, ReviewID: "rv-1"},
		{ID: "r10", SessionID: "s1", Seq: 10, Text: "caf\xe9 au lait", StartedAt: time.Unix(1700000000, 0).UTC(),
			Groups: []string{"dba", ""}, RequestSeq: 2, ResultSeq: 1},
		{ID: "r11", SessionID: "s1", Seq: 11, Text: "caf", StartedAt: time.Unix(1700000000, 5).UTC(),
			Groups: []string{"dba", ""}, Error: "x"},
	}
}

// pgbenchRecords are n statements of one session as pgbench -S sends them.
func pgbenchRecords(n int) []*sluice.StatementRecord {
	t0 := time.Unix(1795844552, 0).UTC()
	var out []*sluice.StatementRecord
	for i := range n {
		aid := fmt.Sprint(i*7919%100000 + 1)
		out = append(out, &sluice.StatementRecord{ID: fmt.Sprintf("20261128T054231-3c94cdf6c9fe/%d", 7000+i),
			SessionID: "20261128T054231-3c94cdf6c9fe", Seq: int64(7000 + i),
			Text: "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", Params: []*string{&aid}, Class: sluice.ClassRead,
			Decision: sluice.ActionAllow, Rule: "agents/grant", StartedAt: t0.Add(time.Duration(i) * 41 * time.Microsecond),
			Duration: time.Duration(30000 + i%50000), Rows: 1, Tag: "SELECT 1", Status: sluice.StatusOK,
			Subject: "bench-select", Groups: []string{"agents"}, Connection: "app",
			RequestSeq: uint64(29000 + 2*i), ResultSeq: uint64(29001 + 2*i)})
	}
	return out
}

// checkChunk reads blob and checks that it holds want, in order, the i-th
// at position step*i, and nothing after.
func checkChunk(t *testing.T, blob []byte, want []*sluice.StatementRecord, step int) {
	t.Helper()
	cr, err := newChunkReader(blob)
	if err != nil {
		t.Fatal(err)
	}
	var v stmtView
	for i := range want {
		if !cr.next(&v) {
			t.Fatalf("statement %d: the chunk ended early: %v", i, cr.err)
		}
		if got := v.record(want[i].SessionID); !reflect.DeepEqual(got, want[i]) || v.ord != uint64(step*i) {
			t.Fatalf("statement %d at %d = %+v, want %+v at %d", i, v.ord, got, want[i], step*i)
		}
	}
	if cr.next(&v) || cr.err != nil {
		t.Errorf("after the last statement: next true or error %v", cr.err)
	}
}

// TestChunkOfASessionIsSmall checks what writing each statement against the
// one before saves: a statement of pgbench -S, 197 bytes written whole
// (chunk version 1), takes under a quarter of that, and reads back as it
// was.
func TestChunkOfASessionIsSmall(t *testing.T) {
	want := pgbenchRecords(500)
	var c chunk
	for i, r := range want {
		c.add(r, i)
	}
	perStatement := (len(c.data) - 1) / len(want)
	if perStatement > 48 {
		t.Errorf("%d bytes per statement, want at most 48", perStatement)
	}
	checkChunk(t, c.data, want, 1)
	t.Logf("%d bytes per statement", perStatement)
}

// TestChunkVersion1StillReads reads a chunk that the index wrote before
// statements were written against the one before (testdata/chunk-v1.hex:
// the first three of chunkRecords, at positions 0, 3 and 6).
func TestChunkVersion1StillReads(t *testing.T) {
	h, err := os.ReadFile("testdata/chunk-v1.hex")
	if err != nil {
		t.Fatal(err)
	}
	blob, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil || blob[0] != chunkVersion1 {
		t.Fatalf("testdata: %v, version %d", err, blob[0])
	}
	checkChunk(t, blob, chunkRecords()[:3], 3)
}

// TestChunkRoundTrip encodes statements into a chunk and reads every one
// back as it was.
func TestChunkRoundTrip(t *testing.T) {
	want := chunkRecords()
	var c chunk
	for i, r := range want {
		if err := checkStatement(r); err != nil {
			t.Fatalf("check %q: %v", r.ID, err)
		}
		c.add(r, i*3)
	}
	if c.n != len(want) || c.maxRequest != math.MaxInt64 {
		t.Errorf("chunk n %d, latest request %d; want %d, max", c.n, c.maxRequest, len(want))
	}
	if c.minStarted.Int64 != math.MinInt64 || c.maxStarted.Int64 != want[0].StartedAt.UnixNano() ||
		!c.minStarted.Valid || !c.maxStarted.Valid {
		t.Errorf("chunk started %v..%v", c.minStarted, c.maxStarted)
	}
	if c.decisions != decidedAllow|decidedOther {
		t.Errorf("chunk decisions = %b, want allow and other", c.decisions)
	}
	if len(c.reviews) != 2 || c.reviews[0] != "rv-1" || c.reviews[1] != "rv-1" {
		t.Errorf("chunk reviews = %q", c.reviews)
	}
	checkChunk(t, c.data, want, 3)
}

// TestChunkRefusesWhatItCannotHold checks the limits the columns of the
// row-per-statement schema had.
func TestChunkRefusesWhatItCannotHold(t *testing.T) {
	for name, r := range map[string]*sluice.StatementRecord{
		"nil":              nil,
		"year 3000":        {ID: "r", StartedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"request seq 2^63": {ID: "r", RequestSeq: 1 << 63},
		"result seq 2^63":  {ID: "r", ResultSeq: 1 << 63},
	} {
		if err := checkStatement(r); err == nil {
			t.Errorf("%s: accepted, want an error", name)
		}
	}
}

// TestChunkReaderRejectsDamage decodes every prefix of a chunk and a chunk
// of another version: each fails with an error, none panics or reads past
// its end.
func TestChunkReaderRejectsDamage(t *testing.T) {
	var c chunk
	for i, r := range chunkRecords() {
		c.add(r, i)
	}
	whole := c.data
	// Prefixes that end exactly between statements are valid chunks.
	ends := map[int]bool{1: true} // the version alone: no statement
	cr, _ := newChunkReader(whole)
	var v stmtView
	for cr.next(&v) {
		ends[len(whole)-len(cr.b)] = true
	}
	for n := 1; n < len(whole); n++ {
		cr, err := newChunkReader(whole[:n:n])
		if err != nil {
			t.Fatal(err)
		}
		for cr.next(&v) {
		}
		if ends[n] {
			if cr.err != nil {
				t.Errorf("prefix of %d bytes, at a statement's end: %v", n, cr.err)
			}
		} else if cr.err == nil {
			t.Errorf("prefix of %d bytes decoded without an error", n)
		}
	}
	if _, err := newChunkReader(append([]byte{chunkVersion + 1}, whole[1:]...)); err == nil {
		t.Error("a chunk of another version was read")
	}
	if _, err := newChunkReader(nil); err == nil {
		t.Error("an empty blob was read")
	}
}

// FuzzChunkReader feeds the chunk reader arbitrary blobs: it must end with
// or without an error, never panic, and every byte field it returns must
// lie within the blob.
func FuzzChunkReader(f *testing.F) {
	var c chunk
	for i, r := range chunkRecords() {
		c.add(r, i)
	}
	f.Add(c.data)
	f.Add([]byte{chunkVersion})
	if h, err := os.ReadFile("testdata/chunk-v1.hex"); err == nil {
		if blob, err := hex.DecodeString(strings.TrimSpace(string(h))); err == nil {
			f.Add(blob)
		}
	}
	f.Add([]byte{chunkVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, blob []byte) {
		cr, err := newChunkReader(blob)
		if err != nil {
			return
		}
		var v stmtView
		for n := 0; cr.next(&v); n++ {
			if n > len(blob) {
				t.Fatalf("more statements (%d) than bytes (%d)", n, len(blob))
			}
			r := v.record("s")
			if len(r.Text) > len(blob) || len(r.Params) > len(blob) || len(r.Groups) > len(blob) {
				t.Fatalf("a field larger than the blob")
			}
		}
	})
}

// TestChunksEndAtTheByteLimit stores statements of 400 KB in one write: a
// chunk ends after the statement that takes it past maxChunkBytes, and the
// statements come back whole and in order.
func TestChunksEndAtTheByteLimit(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	b := &store.IndexBatch{Seq: 9}
	for i := range 7 {
		b.Statements = append(b.Statements, &sluice.StatementRecord{ID: string(rune('a' + i)), SessionID: "s1",
			Seq: int64(i), Text: strings.Repeat(string(rune('a'+i)), 400_000), Status: sluice.StatusOK})
	}
	if err := d.ApplyIndex(ctx, b); err != nil {
		t.Fatal(err)
	}
	var chunks int
	if err := d.read.QueryRow(`SELECT count(*) FROM statement_chunks`).Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	if chunks != 3 { // 3 statements pass 1 MiB, then 3 more, then the last
		t.Errorf("%d chunks, want 3", chunks)
	}
	got, err := d.ListStatements(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(b.Statements) {
		t.Fatalf("%d statements, want %d", len(got), len(b.Statements))
	}
	for i, r := range got {
		if r.ID != b.Statements[i].ID || r.Text != b.Statements[i].Text {
			t.Errorf("statement %d = %q (%d bytes), want %q", i, r.ID, len(r.Text), b.Statements[i].ID)
		}
	}
}

// TestDedupReadsOnlyNewerChunks stores 300 batches of session-less calls,
// all with seq 1 as MCP's own calls have, spoils the blobs of all but the
// newest chunks, and applies one more batch and the newest one again: the
// duplicate check must read only chunks whose requests are at the batch's
// journal positions or later (it fails on a spoiled blob otherwise), and
// still keep a re-applied statement once.
func TestDedupReadsOnlyNewerChunks(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	call := func(n int) *sluice.StatementRecord {
		return &sluice.StatementRecord{ID: fmt.Sprintf("call-%04d", n), Seq: 1, Text: "list_connections {}",
			Decision: sluice.ActionAllow, Status: sluice.StatusOK, RequestSeq: uint64(2*n + 1), ResultSeq: uint64(2*n + 2)}
	}
	batch := func(n int) *store.IndexBatch {
		return &store.IndexBatch{Seq: uint64(2*n + 2), Statements: []*sluice.StatementRecord{call(n)}}
	}
	for n := range 300 {
		if err := d.ApplyIndex(ctx, batch(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.write.Exec(`UPDATE statement_chunks SET data = x'00' WHERE max_request_seq < ?`, 2*299+1); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*store.IndexBatch{batch(300), batch(299)} {
		if err := d.ApplyIndex(ctx, b); err != nil {
			t.Fatalf("ApplyIndex read chunks older than its statements: %v", err)
		}
	}
	var n int
	if err := d.read.QueryRow(`SELECT sum(n) FROM statement_chunks WHERE max_request_seq >= ?`, 2*299+1).Scan(&n); err != nil || n != 2 {
		t.Errorf("the newest chunks hold %d statements (%v), want 2: call-0299 once and call-0300", n, err)
	}
}

// TestContainsFold checks the text match against its definition (SQLite's
// instr on ASCII-lowered text) on cases that decide it: case, a needle at
// either end, a needle longer than the text, and a needle that starts with
// a UTF-8 continuation byte, which instr never matches inside a character.
func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, needle string
		want      bool
	}{
		{"SELECT * FROM Orders", "from orders", true},
		{"SELECT * FROM Orders", "select", true},
		{"SELECT * FROM Orders", "ORDERS", true},
		{"SELECT", "selects", false},
		{"DROP TABLE t1", "drop table t2", false},
		{"aaab", "aab", true},
		{"SELECT 'école'", "\xa9", false},
		{"\xa9cole", "\xa9", true}, // the first byte always counts
		{"ÉCOLE", "école", false},  // not ASCII: no folding
		{"", "x", false},
		// Long texts: the scans for the needle's first byte must add up to
		// one pass, or these take hours.
		{strings.Repeat("a", 4<<20) + "Ab", "ab", true},
		{strings.Repeat("a", 4<<20), "ab", false},
		{strings.Repeat("A", 4<<20), "ab", false},
	} {
		if got := containsFold([]byte(c.s), lowerASCII(c.needle)); got != c.want {
			t.Errorf("containsFold(%.40q (%d bytes), %q) = %v, want %v", c.s, len(c.s), c.needle, got, c.want)
		}
	}
}

// TestContainsFoldAgreesWithItsDefinition compares containsFold with a
// direct reading of instr(lower(s), lower(needle)) > 0 on random texts over
// a small alphabet of letters in both cases and a two-byte character.
func TestContainsFoldAgreesWithItsDefinition(t *testing.T) {
	alphabet := [][]byte{{'a'}, {'A'}, {'b'}, {'B'}, {0xc3, 0xa9}, {0xa9}, {' '}}
	random := func(r *rand.Rand, n int) []byte {
		var b []byte
		for range n {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		return b
	}
	want := func(s, lower []byte) bool {
		for i := 0; i+len(lower) <= len(s); i++ {
			if (i == 0 || s[i]&0xc0 != 0x80) && bytes.Equal(lowerASCII(string(s[i:i+len(lower)])), lower) {
				return true
			}
		}
		return false
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		s, needle := random(r, r.IntN(12)), random(r, 1+r.IntN(3))
		lower := lowerASCII(string(needle))
		if got := containsFold(s, lower); got != want(s, lower) {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, needle, got, !got)
		}
	}
}

// BenchmarkChunkReader decodes a chunk of 500 pgbench statements, as a
// search does before matching them.
func BenchmarkChunkReader(b *testing.B) {
	var c chunk
	for i, r := range pgbenchRecords(500) {
		c.add(r, i)
	}
	var v stmtView
	b.ReportAllocs()
	for b.Loop() {
		cr, err := newChunkReader(c.data)
		if err != nil {
			b.Fatal(err)
		}
		for cr.next(&v) {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/stmt")
}
