package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ckEntry is one signed note in the checkpoints file.
type ckEntry struct {
	off  int64  // where the note starts in the file
	note []byte // the note, without the empty line that follows it
}

// ckFile is the checkpoints file as read from disk.
type ckFile struct {
	entries []ckEntry
	end     int64 // offset after the last complete note
	size    int64 // file size
}

// torn reports whether the file ends in an incomplete note, as a crash while
// appending leaves it.
func (f *ckFile) torn() bool { return f.end < f.size }

var sigLinePrefix = []byte("— ")

// readCheckpoints reads dir's checkpoints file; a missing file holds no
// checkpoints. Each note is text lines (never empty, never starting with
// "— "), an empty line, signature lines (each starting with "— "), and an
// empty line.
func readCheckpoints(dir string) (*ckFile, error) {
	path := filepath.Join(dir, checkpointsName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &ckFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: read checkpoints: %w", err)
	}
	f := &ckFile{size: int64(len(data))}
	const (
		inText = iota
		inSigs
	)
	state, start, lines := inText, 0, 0
	for off := 0; off < len(data); {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			break // a line cut short: torn
		}
		line := data[off : off+nl]
		next := off + nl + 1
		malformed := func(why string) error {
			return fmt.Errorf("journal: checkpoints: malformed note at byte %d: %s", start, why)
		}
		switch {
		case state == inText && len(line) == 0:
			if lines < 3 {
				return nil, malformed("fewer than 3 text lines")
			}
			state, lines = inSigs, 0
		case state == inText:
			if bytes.HasPrefix(line, sigLinePrefix) {
				return nil, malformed("signature line inside the text")
			}
			lines++
		case len(line) == 0:
			if lines == 0 {
				return nil, malformed("no signature")
			}
			f.entries = append(f.entries, ckEntry{off: int64(start), note: data[start:off]})
			f.end = int64(next)
			state, start, lines = inText, next, 0
		default:
			if !bytes.HasPrefix(line, sigLinePrefix) {
				return nil, malformed("text after the signatures")
			}
			lines++
		}
		off = next
	}
	return f, nil
}

// appendFileAtomically appends data to f, whose current size is size, and
// fsyncs it; on failure it cuts f back to size so that no partial note stays.
func appendFileAtomically(f file, size int64, data []byte) error {
	if _, err := f.Write(data); err != nil {
		_ = f.Truncate(size)
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Truncate(size)
		return err
	}
	return nil
}

// LatestCheckpoint returns the newest signed checkpoint note in dir, read
// from the files (`sluice audit checkpoint` without a running gateway). It
// does not check the signature; Verify and CheckProof do.
func LatestCheckpoint(dir string) ([]byte, error) {
	cf, err := readCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	if len(cf.entries) == 0 {
		return nil, errors.New("journal: no checkpoint yet")
	}
	return cf.entries[len(cf.entries)-1].note, nil
}
