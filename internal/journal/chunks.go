package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Chunk is a run of whole records of one segment, as the segment file
// holds them: concatenating a segment's chunks in order, from offset 0,
// gives back the file's bytes. Archive sinks ship chunks, so that a copy
// can be verified like the journal itself.
type Chunk struct {
	// Segment is the segment file's name.
	Segment string
	// FirstSeq and LastSeq are the records in Data.
	FirstSeq, LastSeq uint64
	// Offset is where Data starts in the segment file: 0 for a chunk that
	// starts with the segment's first record (Data then starts with the
	// segment header).
	Offset int64
	Data   []byte
}

// Chunks calls fn with the records from seq from through to, in chunks of
// at most about maxBytes (a chunk ends at a segment's end, and holds at
// least one record). It reads the files only and may run while a Journal
// appends; records past to, or not yet completely written, are left for
// later. fn owns the Chunk.
func Chunks(dir string, from, to uint64, maxBytes int, fn func(Chunk) error) error {
	if from == 0 {
		from = 1
	}
	if to < from {
		return nil
	}
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	for k, sg := range segs {
		if k+1 < len(segs) && segs[k+1].first <= from {
			continue // every record of this segment is before from
		}
		if sg.first > to {
			return nil
		}
		if err := segmentChunks(sg.path, from, to, maxBytes, fn); err != nil {
			return err
		}
	}
	return nil
}

// segmentChunks emits the chunks of one segment.
func segmentChunks(path string, from, to uint64, maxBytes int, fn func(Chunk) error) error {
	s, err := openSegment(path)
	if errors.Is(err, errHeaderIncomplete) {
		return nil // being created
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer s.f.Close()
	name := filepath.Base(path)
	seq := s.first
	var cur *Chunk
	flush := func() error {
		if cur == nil {
			return nil
		}
		c := *cur
		cur = nil
		return fn(c)
	}
	for seq <= to {
		p, off, err := s.next()
		if err != nil {
			var fe *frameError
			if errors.Is(err, io.EOF) || errors.As(err, &fe) && fe.torn() {
				break // the end of what has been written
			}
			return fmt.Errorf("journal: seq %d in %s: %w", seq, name, err)
		}
		if seq < from {
			seq++
			continue
		}
		if cur != nil && len(cur.Data) >= maxBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		if cur == nil {
			cur = &Chunk{Segment: name, FirstSeq: seq, Offset: off}
			if seq == s.first {
				h, err := readHeader(path)
				if err != nil {
					return err
				}
				cur.Data, cur.Offset = h, 0
			}
		}
		var fh [frameHeadLen]byte
		binary.BigEndian.PutUint32(fh[:4], uint32(len(p)))
		binary.BigEndian.PutUint32(fh[4:], crc(p))
		cur.Data = append(append(cur.Data, fh[:]...), p...)
		cur.LastSeq = seq
		seq++
	}
	return flush()
}

// readHeader returns a segment file's header bytes.
func readHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	h := make([]byte, segHeaderLen)
	if _, err := io.ReadFull(f, h); err != nil {
		return nil, fmt.Errorf("journal: read header of %s: %w", filepath.Base(path), err)
	}
	return h, nil
}
