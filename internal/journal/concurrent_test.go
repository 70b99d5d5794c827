package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentAppenders runs many appenders against small segments and
// busy background checkpoints (run it with -race): the journal must come
// out contiguous, with every appender's records where Append said.
func TestConcurrentAppenders(t *testing.T) {
	for _, mode := range []SyncMode{SyncBatch, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			o := testOptions(filepath.Join(t.TempDir(), "journal"))
			o.Sync = mode
			o.SegmentBytes = 32 << 10
			o.CheckpointEvery = 97
			o.CheckpointInterval = 3 * time.Millisecond
			o.FsyncInterval = time.Millisecond
			o.FlushDelay = 100 * time.Microsecond
			j := openJournal(t, o)

			const writers, each = 24, 150
			got := make([][]uint64, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						seq, err := j.Append(context.Background(), testEvent(fmt.Sprintf("w%d-%d", w, i)), (w+i)%3 != 0)
						if err != nil {
							t.Errorf("writer %d append %d: %v", w, i, err)
							return
						}
						got[w] = append(got[w], seq)
					}
				})
			}
			// Readers, verification and checkpoints run meanwhile.
			var readers sync.WaitGroup
			stop := make(chan struct{})
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := Scan(o.Dir, 0, func(*Record) error { return nil }); err != nil {
						t.Errorf("Scan while writing: %v", err)
						return
					}
					if _, err := j.Checkpoint(); err != nil {
						t.Errorf("Checkpoint: %v", err)
						return
					}
					if r, err := Verify(o.Dir, verifier(t, j.VerifierKey()), VerifyOptions{}); err != nil {
						t.Errorf("Verify while writing: %v (%+v)", err, r)
						return
					}
				}
			})
			wg.Wait()
			close(stop)
			readers.Wait()
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}

			recs := scanAll(t, o.Dir)
			if len(recs) != writers*each {
				t.Fatalf("%d records, want %d", len(recs), writers*each)
			}
			for w, seqs := range got {
				for i, seq := range seqs {
					if i > 0 && seq <= seqs[i-1] {
						t.Fatalf("writer %d got seq %d after %d", w, seq, seqs[i-1])
					}
					if want := fmt.Sprintf("w%d-%d", w, i); recs[seq-1].Event.Reason != want {
						t.Fatalf("seq %d holds %q, writer %d was told it holds %q", seq, recs[seq-1].Event.Reason, w, want)
					}
				}
			}
			r := mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
			if r.Last != writers*each || r.Segments < 10 || r.Checkpoints < 10 {
				t.Fatalf("report %+v", r)
			}
			st := j.Stats()
			if st.Records != writers*each || st.Synced != st.Records || st.Checkpoint != st.Records {
				t.Fatalf("stats after Close %+v", st)
			}
			t.Logf("%d records in %d writes and %d fsyncs, %d segments, %d checkpoints", r.Last, st.Writes, st.Fsyncs, r.Segments, r.Checkpoints)
		})
	}
}

// TestGroupCommitShares checks that concurrent durable appends share writes:
// a leader lets the appenders that are ready to run add their records
// before it writes, so many appenders cost far fewer writes than records.
// Without that, appenders that loop fall into step with each other and
// each writes its own record.
func TestGroupCommitShares(t *testing.T) {
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	o.Sync = SyncBatch
	o.SegmentBytes = 64 << 20 // no rotations, whose fsyncs would batch records anyway
	j := openJournal(t, o)
	const writers, records = 32, 20000
	before := j.Stats().Writes
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			ev := testEvent(fmt.Sprintf("writer-%d", w))
			for next.Add(1) <= records {
				if _, err := j.Append(context.Background(), ev, true); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	writes := j.Stats().Writes - before
	t.Logf("%d records, %d writes", records, writes)
	if writes == 0 || writes > records/2 {
		t.Errorf("%d durable records took %d writes, want at most %d", records, writes, records/2)
	}
}

// TestLoneAppenderDoesNotYield checks that a journal with one appender at a
// time stops yielding before its writes once loneBatches batches said so,
// and starts again when appends are concurrent.
func TestLoneAppenderDoesNotYield(t *testing.T) {
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	o.SegmentBytes = 64 << 20
	j := openJournal(t, o)
	if !j.shared.Load() {
		t.Fatal("a new journal does not yield before its writes")
	}
	ev := testEvent("lone")
	for i := range loneBatches {
		if _, err := j.Append(context.Background(), ev, true); err != nil {
			t.Fatal(err)
		}
		if want := i+1 < loneBatches; j.shared.Load() != want {
			t.Fatalf("after %d lone appends shared = %v, want %v", i+1, !want, want)
		}
	}
	// Two appenders in one batch: the next leader yields again.
	b := j.cur
	j.mu.Lock()
	b.refs++ // a second appender holds the pending batch
	j.mu.Unlock()
	if _, err := j.Append(context.Background(), ev, true); err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.release(b)
	j.mu.Unlock()
	if !j.shared.Load() {
		t.Error("a batch of two appenders did not turn the yield back on")
	}
}
