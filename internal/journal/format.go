package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The segment header and frame layout; see the package documentation.
const (
	segMagic      = "SLUICEJ\n"
	segVersion    = 1
	segHeaderLen  = 24
	frameHeadLen  = 8
	segSuffix     = ".seg"
	segNameDigits = 20

	checkpointsName = "checkpoints"
	lockName        = "LOCK"
	keyName         = "journal.key"
)

// castagnoli is the CRC-32C table; crc32 uses the CPU's instruction for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// DefaultKeyFile is the signing key Open uses when Options.KeyFile is empty:
// journal.key in the parent of dir (data_dir/journal.key), outside the
// journal directory so that copying the journal never copies the key.
func DefaultKeyFile(dir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), keyName)
}

// segmentName returns the file name of the segment whose first record is first.
func segmentName(first uint64) string {
	return fmt.Sprintf("%0*d%s", segNameDigits, first, segSuffix)
}

// parseSegmentName returns the first sequence number a segment file name
// declares, and whether name is a segment name at all.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segNameDigits {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// segInfo names one segment file.
type segInfo struct {
	first uint64 // from the file name
	path  string
}

// listSegments returns dir's segments ordered by first sequence number.
func listSegments(dir string) ([]segInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: list segments: %w", err)
	}
	var segs []segInfo
	for _, e := range ents {
		if first, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, segInfo{first: first, path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(segs, func(a, b segInfo) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// appendSegmentHeader appends the header of a segment starting at first.
func appendSegmentHeader(b []byte, first uint64) []byte {
	start := len(b)
	b = append(b, segMagic...)
	b = binary.BigEndian.AppendUint32(b, segVersion)
	b = binary.BigEndian.AppendUint64(b, first)
	return binary.BigEndian.AppendUint32(b, crc(b[start:]))
}

// errHeaderIncomplete is a header cut short or never written (all zeros): what
// a crash during the creation of a segment leaves.
var errHeaderIncomplete = errors.New("segment header incomplete")

// parseSegmentHeader returns the first sequence number a header declares.
func parseSegmentHeader(h []byte) (uint64, error) {
	if len(h) < segHeaderLen {
		return 0, errHeaderIncomplete
	}
	h = h[:segHeaderLen]
	if isZero(h) {
		return 0, errHeaderIncomplete
	}
	if string(h[:8]) != segMagic {
		return 0, errors.New("not a journal segment (bad magic)")
	}
	if got := binary.BigEndian.Uint32(h[20:]); got != crc(h[:20]) {
		return 0, errors.New("segment header CRC mismatch")
	}
	if v := binary.BigEndian.Uint32(h[8:]); v != segVersion {
		return 0, fmt.Errorf("unsupported segment version %d", v)
	}
	return binary.BigEndian.Uint64(h[12:]), nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// file is the subset of *os.File the writer uses; fileSystem opens files.
// Both exist so that tests can make writes fail.
type file interface {
	Write(b []byte) (int, error)
	WriteAt(b []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

type fileSystem interface {
	OpenFile(name string, flag int, perm os.FileMode) (file, error)
}

var _ file = (*os.File)(nil)

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File must not become a non-nil file
	}
	return f, nil
}

// syncDir fsyncs a directory so that files created or removed in it survive
// a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// cause returns the innermost useful part of an I/O error: the errno of a
// *os.PathError ("no space left on device") rather than the whole path, which
// the caller names itself.
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
