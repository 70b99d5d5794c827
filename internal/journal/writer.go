package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// commit writes b at the end of the segment and fsyncs it if b.sync and an
// appender waits for it. On failure it rolls the journal back to the last
// acknowledged record and cuts the partial write off. The caller holds the
// lead token.
func (j *Journal) commit(b *batch) {
	seg := j.seg
	err := j.cutDirtyTail()
	if err == nil {
		if _, werr := seg.f.WriteAt(b.buf, seg.size); werr != nil {
			err = fmt.Errorf("journal: write segment %s: %w", seg.name, cause(werr))
		}
	}
	synced := false
	if err == nil && b.durable && b.sync {
		if serr := seg.f.Sync(); serr != nil {
			err = fmt.Errorf("journal: fsync segment %s: %w", seg.name, cause(serr))
		} else {
			synced = true
		}
	}

	j.mu.Lock()
	j.stats.batches++
	lost := uint64(0)
	if err != nil {
		lost = j.failLocked(b, err)
	} else {
		seg.size += int64(len(b.buf))
		j.committed.copyFrom(&j.inflight)
		j.writeErr = nil
		if synced {
			j.stats.fsyncs++
			j.synced = b.last
			j.syncErr, j.degraded = nil, false
		}
		b.complete(nil)
	}
	j.keepBuf(b)
	if b.refs == 0 {
		j.recycle(b)
	}
	size := j.committed.size
	j.mu.Unlock()

	if err != nil {
		j.dirty = true
		j.log.Error("journal: write failed; records not durable were rolled back",
			"err", err, "records", lost, "size", size)
		if cerr := j.cutDirtyTail(); cerr != nil {
			j.log.Error("journal: cannot cut off the failed write yet", "err", cerr)
		}
		return
	}
	if h := j.opts.hooks.written; h != nil {
		h(size)
	}
	if seg.size >= j.opts.SegmentBytes || j.needRotate {
		j.rotate()
	}
	if size-j.ckSize.Load() >= uint64(j.opts.CheckpointEvery) {
		select {
		case j.ckKick <- struct{}{}:
		default:
		}
	}
}

// failLocked rolls the journal back after b failed: b and every record
// encoded after it (they are chained to b) fail with err, and the next
// record gets the sequence number after the last acknowledged one. It
// returns the number of records lost. mu is held.
func (j *Journal) failLocked(b *batch, err error) uint64 {
	j.writeErr = err
	j.live.copyFrom(&j.committed)
	b.complete(err)
	lost := b.last - b.first + 1
	if c := j.cur; len(c.buf) > 0 {
		lost += c.last - c.first + 1
		j.cur = j.newBatch()
		j.flushPending = false
		c.complete(err)
		j.keepBuf(c)
		if c.refs == 0 {
			j.recycle(c)
		}
	}
	return lost
}

// cutDirtyTail truncates the segment to its last acknowledged record after
// a failed write. The caller holds the lead token.
func (j *Journal) cutDirtyTail() error {
	if !j.dirty {
		return nil
	}
	if err := j.seg.f.Truncate(j.seg.size); err != nil {
		return fmt.Errorf("journal: truncate segment %s after a failed write: %w", j.seg.name, cause(err))
	}
	j.dirty = false
	return nil
}

// rotate closes the full segment: it fsyncs it, signs a checkpoint at its
// end and starts the next segment. If that fails the journal keeps writing
// to the full segment and tries again after the next write. The caller holds
// the lead token (or is Open).
func (j *Journal) rotate() {
	old := j.seg
	err := old.f.Sync()
	if err != nil {
		err = fmt.Errorf("journal: fsync segment %s: %w", old.name, cause(err))
		j.syncFailed(err)
	} else {
		j.mu.Lock()
		j.synced = j.committed.size
		j.stats.fsyncs++
		next := j.committed.size + 1
		j.mu.Unlock()
		_ = j.checkpoint() // a failure is in Err; retention waits for a later cut
		var seg *segment
		if seg, err = j.createSegment(next); err == nil {
			j.mu.Lock()
			j.seg = seg
			j.rotateErr = nil
			j.mu.Unlock()
			j.needRotate = false
			if cerr := old.f.Close(); cerr != nil {
				j.log.Warn("journal: close segment", "segment", old.name, "err", cerr)
			}
			select {
			case j.cpKick <- struct{}{}:
			default:
			}
			return
		}
	}
	j.needRotate = true
	j.mu.Lock()
	j.rotateErr = err
	j.mu.Unlock()
	j.log.Error("journal: cannot start a new segment; writing on in the current one", "err", err)
}

// createSegment creates the segment whose first record is first and makes
// its header durable.
func (j *Journal) createSegment(first uint64) (*segment, error) {
	name := segmentName(first)
	path := filepath.Join(j.dir, name)
	f, err := j.opts.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: create segment %s: %w", name, cause(err))
	}
	_, err = f.WriteAt(appendSegmentHeader(nil, first), 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("journal: create segment %s: %w", name, cause(err))
	}
	return &segment{first: first, path: path, name: name, f: f, size: segHeaderLen}, nil
}

// syncFailed records a failed fsync of acknowledged records. Until an fsync
// succeeds, leaders fsync every batch, so that durable Appends fail rather
// than return without the background fsync that SyncBatch promises.
func (j *Journal) syncFailed(err error) {
	j.mu.Lock()
	j.syncErr, j.degraded = err, true
	j.mu.Unlock()
	j.log.Error("journal: fsync failed; records written since the last fsync may not survive a power loss", "err", err)
}

// syncNow fsyncs the segment if records were written since the last fsync.
func (j *Journal) syncNow() {
	j.mu.Lock()
	target, seg := j.committed.size, j.seg
	if target <= j.synced {
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	if err := seg.f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		// ErrClosed: rotation fsynced and closed the segment meanwhile.
		j.syncFailed(fmt.Errorf("journal: fsync segment %s: %w", seg.name, cause(err)))
		return
	}
	j.mu.Lock()
	j.synced = max(j.synced, target)
	j.syncErr, j.degraded = nil, false
	j.stats.fsyncs++
	j.mu.Unlock()
}

// checkpoint signs a checkpoint of the written records and appends it to
// the checkpoints file, unless the newest checkpoint covers them already.
// The records are fsynced first: a checkpoint never covers a record that is
// not on disk, so a crash cannot leave a checkpoint that the records
// contradict.
func (j *Journal) checkpoint() error {
	j.ckMu.Lock()
	defer j.ckMu.Unlock()
	var st treeState
	j.mu.Lock()
	st.copyFrom(&j.committed)
	synced, seg := j.synced, j.seg
	j.mu.Unlock()
	if j.lastCk != nil && st.size <= j.lastCk.Size {
		return nil
	}
	if synced < st.size {
		if err := seg.f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			err = fmt.Errorf("journal: fsync segment %s: %w", seg.name, cause(err))
			j.syncFailed(err)
			return err
		}
		j.mu.Lock()
		j.synced = max(j.synced, st.size)
		j.stats.fsyncs++
		j.mu.Unlock()
	}
	root := st.root(j.ckHS)
	c := &checkpoint{
		Origin: j.opts.Origin,
		Size:   st.size,
		Root:   root[:],
		Time:   time.Unix(0, max(j.opts.Now().UnixNano(), st.ts)).UTC(),
		Range:  st.rangeHashes(),
	}
	if st.size > 0 {
		c.Last = append([]byte(nil), st.last[:]...)
	}
	msg, err := signCheckpoint(c, j.key.signer)
	if err == nil {
		if werr := appendFileAtomically(j.ck, j.ckEnd, append(msg, '\n')); werr != nil {
			err = fmt.Errorf("journal: write checkpoint: %w", cause(werr))
		}
	}
	j.mu.Lock()
	j.ckErr = err
	j.mu.Unlock()
	if err != nil {
		j.log.Error("journal: checkpoint failed", "size", st.size, "err", err)
		return err
	}
	j.ckEnd += int64(len(msg)) + 1
	c.Note = msg
	j.lastCk = c
	j.ckSize.Store(st.size)
	if h := j.opts.hooks.checkpoint; h != nil {
		h(st.size)
	}
	return nil
}

// flushLoop writes non-durable records within FlushDelay of the first one
// that is waiting.
func (j *Journal) flushLoop() {
	defer j.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-j.quit:
			return
		case <-j.kick:
		}
		t.Reset(j.opts.FlushDelay)
		select {
		case <-j.quit:
			t.Stop()
			return
		case <-t.C:
		}
		select {
		case <-j.quit:
			return
		case j.lead <- struct{}{}:
			j.writePending()
		}
	}
}

// syncLoop fsyncs written records every FsyncInterval, signs checkpoints
// every CheckpointInterval or CheckpointEvery records, and compacts the
// checkpoints file after a segment was closed.
func (j *Journal) syncLoop() {
	defer j.wg.Done()
	fsync := time.NewTicker(j.opts.FsyncInterval)
	defer fsync.Stop()
	ck := time.NewTicker(j.opts.CheckpointInterval)
	defer ck.Stop()
	for {
		select {
		case <-j.quit:
			return
		case <-fsync.C:
			j.syncNow()
		case <-ck.C:
			_ = j.checkpoint()
		case <-j.ckKick:
			_ = j.checkpoint()
		case <-j.cpKick:
			if err := j.compactCheckpoints(); err != nil {
				j.log.Warn("journal: compact checkpoints", "err", err)
			}
		}
	}
}
