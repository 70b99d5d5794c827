package export

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/internal/journal"
)

// Object names of an archive, under the store's prefix.
const (
	segmentsDir    = "segments/"
	checkpointsDir = "checkpoints/"
	// DefaultChunkBytes caps an archive chunk.
	DefaultChunkBytes = 4 << 20
)

// Archive ships the journal to write-once object storage as the journal
// itself: each segment as chunks of whole records
// (segments/<segment>/<first>-<last>.chunk, concatenated in order they give
// back the segment file) and each signed checkpoint
// (checkpoints/<size>.note). A copy holds only records a shipped signed
// checkpoint covers, so Fetch and journal.Verify can check it with the
// public key alone.
type Archive struct {
	Store ObjectStore
	// Dir is the journal directory.
	Dir string
	// ChunkBytes caps a chunk; default DefaultChunkBytes.
	ChunkBytes int

	mu      sync.Mutex
	covered []span // what the store holds, once listed
}

// span is a range of sequence numbers, inclusive.
type span struct{ first, last uint64 }

// chunkName is the object name of a chunk.
func chunkName(segment string, first, last uint64) string {
	return fmt.Sprintf("%s%s/%020d-%020d.chunk", segmentsDir, segment, first, last)
}

// parseChunkName returns a chunk's segment and range.
func parseChunkName(name string) (segment string, sp span, ok bool) {
	rest, ok := strings.CutPrefix(name, segmentsDir)
	if !ok {
		return "", span{}, false
	}
	segment, file, ok := strings.Cut(rest, "/")
	if !ok {
		return "", span{}, false
	}
	file, ok = strings.CutSuffix(file, ".chunk")
	a, b, ok2 := strings.Cut(file, "-")
	if !ok || !ok2 {
		return "", span{}, false
	}
	first, err1 := strconv.ParseUint(a, 10, 64)
	last, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil || first == 0 || last < first {
		return "", span{}, false
	}
	return segment, span{first, last}, true
}

// list reads which records the store holds, once.
func (a *Archive) list(ctx context.Context) ([]span, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.covered != nil {
		return a.covered, nil
	}
	names, err := a.Store.List(ctx, segmentsDir)
	if err != nil {
		return nil, fmt.Errorf("list the archive: %w", err)
	}
	covered := []span{}
	for _, n := range names {
		if _, sp, ok := parseChunkName(n); ok {
			covered = append(covered, sp)
		}
	}
	slices.SortFunc(covered, func(x, y span) int { return cmp.Compare(x.first, y.first) })
	a.covered = covered
	return covered, nil
}

// Resume returns the highest sequence number the store holds.
func (a *Archive) Resume(ctx context.Context) (uint64, error) {
	covered, err := a.list(ctx)
	if err != nil {
		return 0, err
	}
	var last uint64
	for _, sp := range covered {
		last = max(last, sp.last)
	}
	return last, nil
}

// Export ships the records from seq from through to that the newest local
// signed checkpoint covers and the store does not hold yet, then that
// checkpoint. It returns the last sequence number the store now holds
// contiguously from from (from-1 when none).
func (a *Archive) Export(ctx context.Context, from, to uint64) (uint64, error) {
	note, err := journal.LatestCheckpoint(a.Dir)
	if err != nil {
		return from - 1, err
	}
	size, err := checkpointSize(note)
	if err != nil {
		return from - 1, err
	}
	to = min(to, size)
	if to < from {
		return from - 1, nil
	}
	covered, err := a.list(ctx)
	if err != nil {
		return from - 1, err
	}
	chunk := a.ChunkBytes
	if chunk <= 0 {
		chunk = DefaultChunkBytes
	}
	for _, gap := range gaps(covered, from, to) {
		err := journal.Chunks(a.Dir, gap.first, gap.last, chunk, func(c journal.Chunk) error {
			err := a.Store.Put(ctx, chunkName(c.Segment, c.FirstSeq, c.LastSeq), c.Data)
			if err != nil && !errors.Is(err, ErrExists) {
				return fmt.Errorf("ship records %d-%d: %w", c.FirstSeq, c.LastSeq, err)
			}
			a.mu.Lock()
			// Kept in order of first seq: gaps walks it that way, and a
			// re-ship fills holes before spans already listed.
			i, _ := slices.BinarySearchFunc(a.covered, c.FirstSeq, func(sp span, first uint64) int { return cmp.Compare(sp.first, first) })
			a.covered = slices.Insert(a.covered, i, span{c.FirstSeq, c.LastSeq})
			a.mu.Unlock()
			return nil
		})
		if err != nil {
			return from - 1, err
		}
	}
	if err := a.Store.Put(ctx, fmt.Sprintf("%s%020d.note", checkpointsDir, size), note); err != nil && !errors.Is(err, ErrExists) {
		return from - 1, fmt.Errorf("ship checkpoint %d: %w", size, err)
	}
	return to, nil
}

// gaps returns the parts of [from, to] no span covers.
func gaps(covered []span, from, to uint64) []span {
	var out []span
	next := from
	for _, sp := range covered {
		if sp.last < next {
			continue
		}
		if sp.first > to {
			break
		}
		if sp.first > next {
			out = append(out, span{next, min(sp.first-1, to)})
		}
		next = max(next, sp.last+1)
		if next > to {
			return out
		}
	}
	if next <= to {
		out = append(out, span{next, to})
	}
	return out
}

// checkpointSize reads the tree size of a signed checkpoint.
func checkpointSize(note []byte) (uint64, error) {
	lines := strings.SplitN(string(note), "\n", 3)
	if len(lines) < 3 {
		return 0, errors.New("malformed checkpoint")
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed checkpoint size %q", lines[1])
	}
	return n, nil
}

// Close closes the store.
func (a *Archive) Close() error { return a.Store.Close() }

// Fetch downloads an archive into dir as a journal directory: the segment
// files rebuilt from their chunks and the checkpoints file. It returns the
// newest checkpoint, which journal.Verify takes as the kept checkpoint so
// that every record it covers must be present.
func Fetch(ctx context.Context, st ObjectStore, dir string) ([]byte, error) {
	names, err := st.List(ctx, segmentsDir)
	if err != nil {
		return nil, fmt.Errorf("list the archive: %w", err)
	}
	type chunk struct {
		name string
		sp   span
	}
	bySegment := map[string][]chunk{}
	for _, n := range names {
		seg, sp, ok := parseChunkName(n)
		if !ok || seg != path.Base(seg) || !strings.HasSuffix(seg, ".seg") {
			return nil, fmt.Errorf("the archive holds an object that is no chunk: %s", n)
		}
		bySegment[seg] = append(bySegment[seg], chunk{n, sp})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for seg, chunks := range bySegment {
		slices.SortFunc(chunks, func(x, y chunk) int { return cmp.Compare(x.sp.first, y.sp.first) })
		var data bytes.Buffer
		for _, c := range chunks {
			b, err := st.Get(ctx, c.name)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", c.name, err)
			}
			data.Write(b)
		}
		if err := os.WriteFile(filepath.Join(dir, seg), data.Bytes(), 0o600); err != nil {
			return nil, err
		}
	}
	notes, err := st.List(ctx, checkpointsDir)
	if err != nil {
		return nil, fmt.Errorf("list the archive's checkpoints: %w", err)
	}
	slices.Sort(notes) // zero-padded sizes: lexical order is size order
	var all bytes.Buffer
	var latest []byte
	for _, n := range notes {
		b, err := st.Get(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		all.Write(b)
		all.WriteByte('\n')
		latest = b
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoints"), all.Bytes(), 0o600); err != nil {
		return nil, err
	}
	if latest == nil {
		return nil, errors.New("the archive holds no signed checkpoint")
	}
	return latest, nil
}
