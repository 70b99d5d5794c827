package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestChunksRebuildSegments ships a journal of several segments in chunks,
// from the start and from the middle, and checks that the chunks rebuild
// the segment files byte for byte and cover each record exactly once.
func TestChunksRebuildSegments(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.SegmentBytes = 4096
	j := openJournal(t, o)
	appendN(t, j, 120, "chunk", true)
	j.Close()
	segs := segmentFiles(t, dir)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	for _, from := range []uint64{1, 57} {
		rebuilt := map[string][]byte{}
		next := from
		err := Chunks(dir, from, 1000, 700, func(c Chunk) error {
			if c.FirstSeq != next || c.LastSeq < c.FirstSeq {
				t.Fatalf("chunk %d-%d, want it to start at %d", c.FirstSeq, c.LastSeq, next)
			}
			next = c.LastSeq + 1
			if prev, ok := rebuilt[c.Segment]; ok && int64(len(prev)) != c.Offset {
				t.Fatalf("chunk of %s at %d after %d bytes", c.Segment, c.Offset, len(prev))
			}
			if _, ok := rebuilt[c.Segment]; !ok && c.Offset != 0 {
				// starting mid-segment: fill in what came before from the file
				orig, _ := os.ReadFile(filepath.Join(dir, c.Segment))
				rebuilt[c.Segment] = append([]byte(nil), orig[:c.Offset]...)
			}
			rebuilt[c.Segment] = append(rebuilt[c.Segment], c.Data...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if next != 121 {
			t.Fatalf("from %d: chunks ended before %d, want 121", from, next)
		}
		for _, sg := range segs {
			name := filepath.Base(sg.path)
			orig, _ := os.ReadFile(sg.path)
			got, ok := rebuilt[name]
			if !ok {
				continue // wholly before from
			}
			if !bytes.Equal(got, orig) {
				t.Errorf("from %d: segment %s rebuilt with %d bytes, file has %d", from, name, len(got), len(orig))
			}
		}
	}
	// A bounded range stops at to.
	var last uint64
	if err := Chunks(dir, 10, 20, 1<<20, func(c Chunk) error { last = c.LastSeq; return nil }); err != nil || last != 20 {
		t.Errorf("range 10-20 ended at %d (%v)", last, err)
	}
}
