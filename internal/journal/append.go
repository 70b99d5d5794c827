package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/sluicehq/sluice"
)

// batch is a run of encoded records that one leader writes with one write
// and at most one fsync. Its fields are guarded by Journal.mu, except buf,
// first and last, which the leader reads without it once it took the batch.
type batch struct {
	buf         []byte // frames
	first, last uint64 // sequence numbers in buf
	durable     bool   // an appender waits for the batch to be durable
	sync        bool   // fsync after writing (set when taken)
	refs        int    // appenders that hold the batch
	done        chan struct{}
	completed   bool
	err         error
}

// complete records the outcome of b and wakes its appenders. mu is held.
func (b *batch) complete(err error) {
	b.completed, b.err = true, err
	if b.done != nil {
		close(b.done)
	}
}

// bodyPool holds buffers for encoding events outside the encoding lock.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Append records ev and returns its sequence number, which it also stores
// in ev.Seq. The caller must not use ev concurrently with Append.
//
// With durable set, Append returns once the record reached the operating
// system (SyncBatch) or the disk (SyncAlways), or with an error naming why
// it could not (for example "journal: write segment
// 00000000000000000001.seg: no space left on device"); a record whose Append
// failed is not in the journal, and its sequence number will be used again.
// If ctx ends first, Append returns ctx's error, but the record may still be
// written. Without durable (for records that nothing waits on, like
// results), the record is buffered and written with the next write or
// within Options.FlushDelay; if that write fails, the record is lost and Err
// says why. While the journal is failing every Append waits for its write.
func (j *Journal) Append(ctx context.Context, ev *sluice.Event, durable bool) (uint64, error) {
	if ev == nil {
		return 0, errors.New("journal: append: nil event")
	}
	bp := bodyPool.Get().(*[]byte)
	body, err := appendEventBody((*bp)[:0], ev)
	defer func() {
		if cap(body) <= 1<<20 {
			*bp = body[:0]
			bodyPool.Put(bp)
		}
	}()
	if err != nil {
		return 0, fmt.Errorf("journal: encode event: %w", err)
	}
	if len(body) > MaxRecordBytes-1024 {
		return 0, fmt.Errorf("journal: event of %d bytes exceeds the record limit of %d", len(body), MaxRecordBytes)
	}
	now := j.opts.Now().UnixNano()

	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0, ErrClosed
	}
	if j.writeErr != nil {
		durable = true
	}
	seq := j.encode(body, now)
	ev.Seq = seq
	b := j.cur
	if durable {
		b.durable = true
		b.refs++
	} else if !j.flushPending {
		j.flushPending = true
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	j.mu.Unlock()

	if !durable {
		return seq, nil
	}
	if err := j.await(ctx, b); err != nil {
		return 0, err
	}
	return seq, nil
}

// encode frames the next record around body into the pending batch and
// adds it to the tree. mu is held.
func (j *Journal) encode(body []byte, now int64) uint64 {
	seq := j.live.size + 1
	ts := max(now, j.lastTS)
	j.lastTS = ts
	var prev []byte
	if seq > 1 {
		prev = j.live.last[:]
	}
	b := j.cur
	if len(b.buf) == 0 {
		b.first = seq
	}
	start := len(b.buf)
	buf := append(b.buf, 0, 0, 0, 0, 0, 0, 0, 0)
	buf = appendPayload(buf, seq, ts, prev, body)
	p := buf[start+frameHeadLen:]
	binary.BigEndian.PutUint32(buf[start:], uint32(len(p)))
	binary.BigEndian.PutUint32(buf[start+4:], crc(p))
	j.live.append(j.hs.leaf(p), j.hs)
	j.live.ts = ts
	b.buf, b.last = buf, seq
	return seq
}

// await waits until b is written, leading the write itself whenever nobody
// else is writing (group commit: whoever takes the lead token writes every
// record encoded so far, and the others wait for that write).
func (j *Journal) await(ctx context.Context, b *batch) error {
	tryLead := true
	for {
		if tryLead {
			select {
			case j.lead <- struct{}{}:
				if j.shared.Load() {
					// Let appenders that are ready to run add their
					// records first, so that they share this write.
					runtime.Gosched()
				}
				j.writePending()
			default:
			}
		}
		j.mu.Lock()
		if b.completed {
			err := b.err
			j.release(b)
			j.mu.Unlock()
			return err
		}
		if b.done == nil {
			b.done = make(chan struct{})
		}
		done := b.done
		j.mu.Unlock()

		select {
		case <-done:
			tryLead = false
		case j.lead <- struct{}{}:
			// The previous leader is done and b may still be pending.
			j.writePending()
			tryLead = false
		case <-ctx.Done():
			j.mu.Lock()
			completed, err := b.completed, b.err
			j.release(b)
			j.mu.Unlock()
			if completed {
				return err
			}
			return fmt.Errorf("journal: wait for write: %w", ctx.Err())
		}
	}
}

// writePending writes the pending batch, if any, and releases the lead
// token, which the caller holds.
func (j *Journal) writePending() {
	j.mu.Lock()
	b := j.take()
	j.mu.Unlock()
	if b != nil {
		j.commit(b)
	}
	<-j.lead
}

// loneBatches is how many batches in a row with one durable appender each
// end a run of concurrent appends: single batches happen among concurrent
// appenders too, and the yield that lets them share writes must outlast
// them, or the appenders fall back into writing one record each.
const loneBatches = 64

// take detaches the pending batch for the leader, remembering the tree
// state after its last record. mu is held.
func (j *Journal) take() *batch {
	b := j.cur
	if len(b.buf) == 0 {
		return nil
	}
	j.cur = j.newBatch()
	j.flushPending = false
	j.inflight.copyFrom(&j.live)
	if b.refs > 1 {
		j.lone = 0
		j.shared.Store(true)
	} else if j.lone++; j.lone == loneBatches {
		j.shared.Store(false)
	}
	b.sync = j.opts.Sync == SyncAlways || j.degraded
	return b
}

// newBatch returns an empty batch, reusing a spare one. mu is held.
func (j *Journal) newBatch() *batch {
	var b *batch
	if n := len(j.freeBatches); n > 0 {
		b = j.freeBatches[n-1]
		j.freeBatches = j.freeBatches[:n-1]
	} else {
		b = new(batch)
	}
	if n := len(j.spareBufs); n > 0 {
		b.buf = j.spareBufs[n-1][:0]
		j.spareBufs = j.spareBufs[:n-1]
	}
	return b
}

// release drops an appender's hold on b. mu is held.
func (j *Journal) release(b *batch) {
	b.refs--
	if b.refs == 0 && b.completed {
		j.recycle(b)
	}
}

// recycle keeps a completed batch that nobody holds for reuse. mu is held.
func (j *Journal) recycle(b *batch) {
	j.keepBuf(b)
	if len(j.freeBatches) < 8 {
		*b = batch{}
		j.freeBatches = append(j.freeBatches, b)
	}
}

// keepBuf moves b's buffer to the spares once its bytes are no longer
// needed. mu is held.
func (j *Journal) keepBuf(b *batch) {
	if b.buf != nil && cap(b.buf) <= 4<<20 && len(j.spareBufs) < 4 {
		j.spareBufs = append(j.spareBufs, b.buf[:0])
	}
	b.buf = nil
}
