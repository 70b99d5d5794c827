package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal: closed")

// Journal appends records to the segment files of one directory, keeps the
// Merkle tree over them and signs checkpoints. Only one Journal (one
// process) may have a directory open; Open locks it. A Journal is safe for
// concurrent use.
type Journal struct {
	// Three locks order the work. mu, the encoding lock, guards the
	// sequence, the tree and the pending batch; it is never held across
	// I/O. The lead token (a channel of capacity 1) is held by the one
	// goroutine that writes batches to the segment, fsyncs them and rotates
	// segments. ckMu serializes checkpoint writes. A goroutine may take mu
	// while holding the token or ckMu, and ckMu while holding the token,
	// never the reverse.

	opts   Options
	log    *slog.Logger
	key    *signingKey
	dir    string
	unlock func() // releases the directory lock

	lead chan struct{} // the lead token
	// shared is set while appends may be concurrent: fewer than
	// loneBatches batches in a row held records of a single durable
	// appender, since the journal opened or since one held more. A leader
	// then yields before it writes, so that more appenders share it.
	shared atomic.Bool
	kick   chan struct{} // wakes the flusher: unwritten non-durable records
	ckKick chan struct{} // wakes the checkpointer: CheckpointEvery reached
	cpKick chan struct{} // wakes the checkpointer: a segment was closed, compact
	quit   chan struct{} // closed by Close
	wg     sync.WaitGroup

	mu           sync.Mutex
	closed       bool
	live         treeState // after the newest record encoded
	committed    treeState // after the newest record written (acknowledged)
	lastTS       int64     // newest record time, Unix ns; never decreases
	cur          *batch    // records encoded and not yet taken by a leader
	freeBatches  []*batch
	spareBufs    [][]byte
	flushPending bool     // the flusher has been woken for cur
	lone         int      // batches in a row taken with one durable appender
	seg          *segment // the segment being written; replaced by the leader under mu
	synced       uint64   // records known to be on disk
	degraded     bool     // a background fsync failed: leaders fsync every batch
	writeErr     error    // the last failed write, until a write succeeds
	syncErr      error    // the last failed fsync, until one succeeds
	rotateErr    error    // the last failed rotation, until one succeeds
	ckErr        error    // the last failed checkpoint, until one succeeds
	hs           *hasher  // used under mu
	stats        stats

	// Owned by the holder of the lead token.
	inflight   treeState // after the last record of the batch being written
	dirty      bool      // the segment may hold bytes after seg.size: cut them first
	needRotate bool      // the segment is full but a new one could not be made

	ckMu   sync.Mutex
	ck     file        // the checkpoints file, opened for appending
	ckEnd  int64       // its size
	lastCk *checkpoint // the newest checkpoint written or found at Open
	ckHS   *hasher     // used under ckMu
	ckSize atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// segment is the segment being written.
type segment struct {
	first uint64
	path  string
	name  string
	f     file
	size  int64 // end of the last acknowledged record; changed by the leader under mu
}

// stats counts work done; guarded by mu.
type stats struct {
	batches uint64 // batch writes
	fsyncs  uint64 // fsyncs of segments
}

// Stats is a snapshot of a Journal's counters, for metrics.
type Stats struct {
	Records    uint64 // records written (Size)
	Synced     uint64 // records known to be on disk
	Checkpoint uint64 // tree size of the newest checkpoint
	Writes     uint64 // batch writes since Open (group commit: records/Writes per write)
	Fsyncs     uint64 // segment fsyncs since Open
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Stats{Records: j.committed.size, Synced: j.synced, Checkpoint: j.ckSize.Load(),
		Writes: j.stats.batches, Fsyncs: j.stats.fsyncs}
}

// Open opens (creating if needed) the journal in opts.Dir, recovers it after
// a crash and starts its background flush, fsync and checkpoint work.
// Recovery resumes the tree from the newest checkpoint and re-reads only
// the records after it; a torn final frame in the newest segment is cut off
// and logged. Open refuses a journal whose records contradict its own
// checkpoints (run Verify). ctx bounds recovery.
func Open(ctx context.Context, opts Options) (*Journal, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: create directory: %w", err)
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	j := &Journal{
		opts:   o,
		log:    o.Logger,
		dir:    o.Dir,
		unlock: unlock,
		lead:   make(chan struct{}, 1),
		kick:   make(chan struct{}, 1),
		ckKick: make(chan struct{}, 1),
		cpKick: make(chan struct{}, 1),
		quit:   make(chan struct{}),
		hs:     newHasher(),
		ckHS:   newHasher(),
	}
	if err := j.open(ctx); err != nil {
		j.closeFiles()
		unlock()
		return nil, err
	}
	j.cur = j.newBatch()
	// Appends count as concurrent until loneBatches batches in a row say
	// otherwise: without the yield, concurrent appenders may never share a
	// write to show that they are.
	j.shared.Store(true)
	j.wg.Add(2)
	go j.flushLoop()
	go j.syncLoop()
	return j, nil
}

// open loads the key, recovers the files and writes a checkpoint of what it
// found.
func (j *Journal) open(ctx context.Context) error {
	k, err := loadKey(j.opts.KeyFile, j.opts.Origin, j.opts.KeyFile == DefaultKeyFile(j.dir))
	if err != nil {
		return err
	}
	j.key = k
	if err := j.openCheckpoints(); err != nil {
		return err
	}
	if err := j.recover(ctx); err != nil {
		return err
	}
	if err := j.seg.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync segment %s: %w", j.seg.name, cause(err))
	}
	j.committed.copyFrom(&j.live)
	j.synced = j.live.size
	if j.seg.size >= j.opts.SegmentBytes {
		j.rotate()
		if j.rotateErr != nil {
			return j.rotateErr
		}
	}
	if j.lastCk == nil || j.lastCk.Size < j.committed.size {
		if err := j.checkpoint(); err != nil {
			return err
		}
	}
	return nil
}

// openCheckpoints reads the checkpoints file, cuts off a torn final note,
// remembers the newest checkpoint and opens the file for appending.
func (j *Journal) openCheckpoints() error {
	cf, err := readCheckpoints(j.dir)
	if err != nil {
		return err
	}
	path := filepath.Join(j.dir, checkpointsName)
	if err := os.Remove(path + tmpSuffix); err == nil { // an interrupted compaction
		j.log.Warn("journal: removed the file of an interrupted checkpoint compaction")
	}
	f, err := j.opts.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: open checkpoints: %w", err)
	}
	j.ck = f
	if err := syncDir(j.dir); err != nil { // the file may be new
		return fmt.Errorf("journal: sync directory: %w", err)
	}
	if cf.torn() {
		j.log.Warn("journal: cutting off a torn checkpoint at the end of the checkpoints file",
			"offset", cf.end, "bytes", cf.size-cf.end)
		if err := f.Truncate(cf.end); err != nil {
			return fmt.Errorf("journal: truncate checkpoints: %w", err)
		}
	}
	j.ckEnd = cf.end
	if n := len(cf.entries); n > 0 {
		c, err := parseCheckpointNote(cf.entries[n-1].note)
		if err != nil {
			return fmt.Errorf("journal: newest checkpoint: %w", err)
		}
		if _, err := openCheckpoint(c.Note, mustVerifier(j.key.vkey)); err != nil {
			j.log.Warn("journal: the newest checkpoint is not signed by the current key", "size", c.Size, "err", err)
		}
		j.lastCk = c
		j.ckSize.Store(c.Size)
	}
	return nil
}

// Close writes what is buffered, fsyncs it, signs a final checkpoint and
// closes the files. Appends waiting for durability complete first; later
// Appends fail with ErrClosed. Close is idempotent: every call returns the
// first call's result.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		j.closed = true
		j.mu.Unlock()
		close(j.quit)
		j.wg.Wait()

		j.lead <- struct{}{}
		j.mu.Lock()
		b := j.take()
		j.mu.Unlock()
		if b != nil {
			j.commit(b)
		}
		j.syncNow()
		ckErr := j.checkpoint()
		j.mu.Lock()
		err := errors.Join(j.writeErr, j.syncErr)
		j.mu.Unlock()
		j.closeErr = errors.Join(err, ckErr, j.closeFiles())
		j.unlock()
		<-j.lead
	})
	return j.closeErr
}

// closeFiles closes the segment and checkpoints files.
func (j *Journal) closeFiles() error {
	var errs []error
	if j.seg != nil && j.seg.f != nil {
		errs = append(errs, j.seg.f.Close())
	}
	if j.ck != nil {
		errs = append(errs, j.ck.Close())
	}
	return errors.Join(errs...)
}

// Err returns nil while the journal is healthy and otherwise the newest
// failure: a write or fsync (Appends fail until one succeeds), a segment
// rotation or a checkpoint. It clears when the failed operation succeeds.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, err := range []error{j.writeErr, j.syncErr, j.rotateErr, j.ckErr} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Size returns the number of records written: the sequence number of the
// newest record that reached the operating system.
func (j *Journal) Size() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.committed.size
}

// Checkpoint returns the newest signed checkpoint note, to be kept outside
// the machine (`sluice audit checkpoint`).
func (j *Journal) Checkpoint() ([]byte, error) {
	j.ckMu.Lock()
	defer j.ckMu.Unlock()
	if j.lastCk == nil {
		return nil, errors.New("journal: no checkpoint yet")
	}
	return append([]byte(nil), j.lastCk.Note...), nil
}

// VerifierKey returns the public key that verifies this journal's
// checkpoints, in note verifier-key format.
func (j *Journal) VerifierKey() string { return j.key.vkey }
