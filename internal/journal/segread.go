package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// frameError describes the first frame of a segment that cannot be read.
// Nothing after it can be trusted, so reading stops there.
type frameError struct {
	off    int64
	reason string
	// incomplete is a frame that runs past the end of the file and whose
	// bytes hold no complete payload: a write cut short by a crash.
	incomplete bool
	// zeroTail is set when the file is all zeros from off to its end: space
	// the file system allocated for a write that never reached the disk.
	zeroTail bool
	// final is a frame that ends exactly at the end of the file.
	final bool
}

func (e *frameError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.reason, e.off)
}

// torn reports whether the damage is what a crash leaves at the end of the
// newest segment (as opposed to an edit).
func (e *frameError) torn() bool { return e.incomplete || e.zeroTail }

// headerError is a segment whose header cannot be read.
type headerError struct {
	path string
	err  error
}

func (e *headerError) Error() string {
	return fmt.Sprintf("segment %s: %v", filepath.Base(e.path), e.err)
}

func (e *headerError) Unwrap() error { return e.err }

// segReader reads the frames of one segment file up to the size it had when
// it was opened. It is not safe for concurrent use.
type segReader struct {
	path  string
	f     *os.File
	r     *bufio.Reader
	size  int64
	first uint64 // from the header
	off   int64  // offset of the next frame
	buf   []byte
}

// openSegment opens a segment and reads its header. A header that cannot be
// read is a *headerError (the file stays closed).
func openSegment(path string) (*segReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: stat segment: %w", err)
	}
	s := &segReader{path: path, f: f, r: bufio.NewReaderSize(f, 256<<10), size: st.Size()}
	var h [segHeaderLen]byte
	n, err := io.ReadFull(s.r, h[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("journal: read segment header: %w", err)
	}
	first, err := parseSegmentHeader(h[:n])
	if err != nil {
		f.Close()
		return nil, &headerError{path: path, err: err}
	}
	s.first, s.off = first, segHeaderLen
	return s, nil
}

func (s *segReader) Close() error { return s.f.Close() }

// name is the segment's file name, for messages.
func (s *segReader) name() string { return filepath.Base(s.path) }

// next returns the payload of the next frame and its offset; the payload is
// valid until the following call. It returns io.EOF at the end of the
// segment and a *frameError for a frame that cannot be read.
func (s *segReader) next() ([]byte, int64, error) {
	off := s.off
	remaining := s.size - off
	if remaining == 0 {
		return nil, off, io.EOF
	}
	if remaining < frameHeadLen {
		rest, err := s.readRest()
		if err != nil {
			return nil, off, err
		}
		return nil, off, &frameError{off: off, reason: "frame header cut short",
			incomplete: true, zeroTail: isZero(rest)}
	}
	var h [frameHeadLen]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return nil, off, fmt.Errorf("journal: read %s: %w", s.name(), err)
	}
	n := int64(binary.BigEndian.Uint32(h[:4]))
	sum := binary.BigEndian.Uint32(h[4:])
	switch {
	case n == 0:
		rest, err := s.readRest()
		if err != nil {
			return nil, off, err
		}
		return nil, off, &frameError{off: off, reason: "zero-length frame",
			zeroTail: isZero(h[:]) && isZero(rest)}
	case n > MaxRecordBytes:
		return nil, off, &frameError{off: off, reason: fmt.Sprintf("frame length %d exceeds the maximum", n)}
	case n > remaining-frameHeadLen:
		rest, err := s.readRest()
		if err != nil {
			return nil, off, err
		}
		return nil, off, &frameError{off: off,
			reason:     fmt.Sprintf("frame length %d runs past the end of the segment", n),
			incomplete: !holdsJSONValue(rest), zeroTail: isZero(h[:]) && isZero(rest)}
	}
	if int64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	p := s.buf[:n]
	if _, err := io.ReadFull(s.r, p); err != nil {
		return nil, off, fmt.Errorf("journal: read %s: %w", s.name(), err)
	}
	if crc(p) != sum {
		return nil, off, &frameError{off: off, reason: "CRC mismatch", final: off+frameHeadLen+n == s.size}
	}
	s.off = off + frameHeadLen + n
	return p, off, nil
}

// readRest reads what is left of the segment (up to its size at open).
func (s *segReader) readRest() ([]byte, error) {
	rest, err := io.ReadAll(io.LimitReader(s.r, s.size-s.off))
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", s.name(), err)
	}
	return rest, nil
}

// holdsJSONValue reports whether b starts with a complete JSON value: a
// frame claiming more bytes than the file has, yet holding a complete
// payload, had its length edited rather than its write cut short.
func holdsJSONValue(b []byte) bool {
	var v json.RawMessage
	return json.NewDecoder(bytes.NewReader(b)).Decode(&v) == nil
}
