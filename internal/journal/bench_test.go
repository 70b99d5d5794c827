package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends with the default options (64 MiB
// segments, checkpoints every 10000 records or 1s) in both sync modes, with
// one writer and with 64 concurrent writers sharing writes and fsyncs.
// Run it with -cpu 1 for the one-core figure.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []SyncMode{SyncBatch, SyncAlways} {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				benchAppend(b, mode, writers)
			})
		}
	}
}

func benchAppend(b *testing.B, mode SyncMode, writers int) {
	dir := filepath.Join(b.TempDir(), "journal")
	j, err := Open(context.Background(), Options{Dir: dir, Sync: mode})
	if err != nil {
		b.Fatal(err)
	}
	events := make(chan int, writers)
	for w := range writers {
		events <- w
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			ev := testEvent(fmt.Sprintf("writer-%d", <-events)) // Append sets ev.Seq: one event per writer
			for next.Add(1) <= int64(b.N) {
				if _, err := j.Append(context.Background(), ev, true); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	st := j.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(max(st.Writes, 1)), "records/write")
	if mode == SyncAlways {
		b.ReportMetric(float64(b.N)/float64(max(st.Fsyncs, 1)), "records/fsync")
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFsync is the disk's fsync rate for one small write, the bound
// SyncAlways is measured against.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 700)
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode compares the hand-written event encoder with
// encoding/json.
func BenchmarkEncode(b *testing.B) {
	ev := testEvent("bench")
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = appendEventBody(buf[:0], ev)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
