package journal

import (
	"fmt"
	"os"
	"path/filepath"
)

const tmpSuffix = ".tmp"

// compactCheckpoints keeps the checkpoints file small. Checkpoints are
// signed every CheckpointInterval while records arrive, about 1 KB each: a
// lightly used gateway would write more checkpoint bytes than records. Once
// a segment is closed, the checkpoints inside it add nothing that the one at
// its end does not (each covers everything before it; a journal edited
// inside the segment fails at its end just the same, and Retain cuts only at
// segment ends). So after every rotation the file is rewritten with the
// checkpoints at segment boundaries and those inside the newest segment.
// Checkpoints kept elsewhere verify as before: Verify recomputes the tree.
//
// The new file is written beside the old, fsynced and renamed over it, so
// readers and a crash see either; Open removes a leftover temporary file.
// ckMu is held; the file's descriptor is replaced under it.
func (j *Journal) compactCheckpoints() error {
	j.ckMu.Lock()
	defer j.ckMu.Unlock()
	segs, err := listSegments(j.dir)
	if err != nil {
		return err
	}
	j.mu.Lock()
	tailFirst := j.seg.first
	j.mu.Unlock()
	bounds := make(map[uint64]bool, len(segs))
	for _, s := range segs {
		bounds[s.first-1] = true
	}
	cf, err := readCheckpoints(j.dir)
	if err != nil {
		return err
	}
	var out []byte
	kept := 0
	for i, e := range cf.entries {
		c, err := parseCheckpointNote(e.note)
		if err != nil {
			return fmt.Errorf("checkpoint at byte %d: %w", e.off, err)
		}
		if bounds[c.Size] || c.Size+1 >= tailFirst || i == len(cf.entries)-1 {
			out = append(append(out, e.note...), '\n')
			kept++
		}
	}
	if kept == len(cf.entries) {
		return nil
	}
	path := filepath.Join(j.dir, checkpointsName)
	tmp := path + tmpSuffix
	f, err := j.opts.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := appendFileAtomically(f, 0, out); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := syncDir(j.dir); err != nil {
		j.log.Warn("journal: sync directory after compacting checkpoints", "err", err)
	}
	old := j.ck
	j.ck, j.ckEnd = f, int64(len(out)) // f now is the checkpoints file
	if err := old.Close(); err != nil {
		j.log.Warn("journal: close the old checkpoints file", "err", err)
	}
	return nil
}
