package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// checkpoint is a parsed C2SP tlog-checkpoint with sluice's extension lines.
type checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Time   time.Time
	Last   []byte   // leaf hash of record Size; nil when Size is 0
	Range  [][]byte // compact range [0, Size), left to right
	Note   []byte   // the signed note it was parsed from, if any
}

// body returns the note text of c: origin, size, root, then the extension
// lines time, last and range.
func (c *checkpoint) body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, b64.EncodeToString(c.Root))
	fmt.Fprintf(&b, "time %s\n", c.Time.UTC().Format(time.RFC3339Nano))
	if c.Size > 0 {
		fmt.Fprintf(&b, "last %s\n", b64.EncodeToString(c.Last))
		b.WriteString("range")
		for _, h := range c.Range {
			b.WriteByte(' ')
			b.WriteString(b64.EncodeToString(h))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// tree returns the tree state the checkpoint describes (without a record
// time: the checkpoint's own time may be later than records after it).
func (c *checkpoint) tree() (treeState, error) {
	return treeFromRange(c.Size, c.Range, c.Last)
}

// parseCheckpointText parses a checkpoint body and checks that its compact
// range hashes to its root.
func parseCheckpointText(text string) (*checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("checkpoint does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, errors.New("checkpoint has fewer than 3 lines")
	}
	c := &checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return nil, errors.New("checkpoint origin is empty")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint size %q is not a decimal number", lines[1])
	}
	c.Size = size
	if c.Root, err = decodeHash(lines[2]); err != nil {
		return nil, fmt.Errorf("checkpoint root: %w", err)
	}
	haveTime, haveLast, haveRange := false, false, false
	for _, l := range lines[3:] {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "":
			return nil, errors.New("checkpoint has an empty line")
		case "time":
			if c.Time, err = time.Parse(time.RFC3339Nano, val); err != nil {
				return nil, fmt.Errorf("checkpoint time: %w", err)
			}
			haveTime = true
		case "last":
			if c.Last, err = decodeHash(val); err != nil {
				return nil, fmt.Errorf("checkpoint last: %w", err)
			}
			haveLast = true
		case "range":
			for _, f := range strings.Fields(val) {
				h, err := decodeHash(f)
				if err != nil {
					return nil, fmt.Errorf("checkpoint range: %w", err)
				}
				c.Range = append(c.Range, h)
			}
			haveRange = true
		default:
			// Extension lines this version does not know are allowed.
		}
	}
	if !haveTime {
		return nil, errors.New("checkpoint has no time line")
	}
	if c.Size > 0 && (!haveLast || !haveRange) {
		return nil, errors.New("checkpoint lacks its last or range line")
	}
	if want := bits.OnesCount64(c.Size); len(c.Range) != want {
		return nil, fmt.Errorf("checkpoint range has %d hashes, size %d needs %d", len(c.Range), c.Size, want)
	}
	t, err := c.tree()
	if err != nil {
		return nil, fmt.Errorf("checkpoint range: %w", err)
	}
	if root := t.root(newHasher()); !bytes.Equal(root[:], c.Root) {
		return nil, errors.New("checkpoint range does not hash to its root")
	}
	return c, nil
}

func decodeHash(s string) ([]byte, error) {
	h, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(h) != hashSize {
		return nil, fmt.Errorf("hash has %d bytes, want %d", len(h), hashSize)
	}
	return h, nil
}

// splitNote returns the text of a signed note (everything up to and
// including the newline before the blank line that precedes the signatures).
func splitNote(msg []byte) (string, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return "", errors.New("malformed note: no signature block")
	}
	return string(msg[:i+1]), nil
}

// parseCheckpointNote parses a signed checkpoint without checking its
// signature (Open and Prove trust their own files; Verify and CheckProof use
// openCheckpoint).
func parseCheckpointNote(msg []byte) (*checkpoint, error) {
	text, err := splitNote(msg)
	if err != nil {
		return nil, err
	}
	c, err := parseCheckpointText(text)
	if err != nil {
		return nil, err
	}
	c.Note = msg
	return c, nil
}

// openCheckpoint verifies the signature of a checkpoint note with v and
// parses it.
func openCheckpoint(msg []byte, v note.Verifier) (*checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("not signed by %s+%08x", v.Name(), v.KeyHash())
		}
		return nil, err
	}
	c, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	c.Note = msg
	return c, nil
}

// signCheckpoint signs c's body with s and returns the note.
func signCheckpoint(c *checkpoint, s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.body()}, s)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}
