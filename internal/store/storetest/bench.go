package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// BatchSizes are the numbers of statements per AddStatements call that
// BenchAddStatements measures: one alone, a small group commit, and 64,
// the size the backends are tuned for.
var BatchSizes = []int{1, 8, 64}

// BenchAddStatements measures AddStatements with batches of each of
// BatchSizes, one sub-benchmark per size, into sessions of st. It reports
// the time per batch and the statements stored per second.
func BenchAddStatements(b *testing.B, st store.Store) {
	for _, size := range BatchSizes {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) { benchBatches(b, st, size) })
	}
}

func benchBatches(b *testing.B, st store.Store, size int) {
	ctx := context.Background()
	session := fmt.Sprintf("bench-%d-%d", size, time.Now().UnixNano())
	if err := st.CreateSession(ctx, fullSession(session, time.Now())); err != nil {
		b.Fatalf("CreateSession: %v", err)
	}
	batch := make([]*sluice.StatementRecord, size)
	for i := range batch {
		batch[i] = statement("", session, 0)
		batch[i].Params = []*string{ptr("42"), nil, ptr("2025-03-14")}
	}
	var seq int64
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range batch {
			seq++
			r.ID, r.Seq = fmt.Sprintf("%s-%d", session, seq), seq
		}
		if err := st.AddStatements(ctx, batch); err != nil {
			b.Fatalf("AddStatements: %v", err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "stmts/s")
}

// IndexBatchSizes are the numbers of statements per ApplyIndex call that
// BenchApplyIndex measures: a lone statement and what a busy gateway's
// indexer writes per linger, up to a full batch of the Indexer.
var IndexBatchSizes = []int{1, 64, 1024}

// BenchApplyIndex measures ApplyIndex with batches of each of
// IndexBatchSizes, each batch also starting and ending one session. It
// reports the time per batch and the statements indexed per second.
func BenchApplyIndex(b *testing.B, st store.Store) {
	for _, size := range IndexBatchSizes {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) { benchIndex(b, st, size) })
	}
}

func benchIndex(b *testing.B, st store.Store, size int) {
	ctx := context.Background()
	prefix := fmt.Sprintf("bench-%d-%d", size, time.Now().UnixNano())
	var n, seq uint64
	b.ReportAllocs()
	for b.Loop() {
		n++
		session := fmt.Sprintf("%s-%d", prefix, n)
		batch := &store.IndexBatch{
			Sessions: []*sluice.Session{fullSession(session, time.Now())},
			Ends:     []store.SessionEnd{{ID: session, At: time.Now(), Reason: sluice.EndClient}},
		}
		for i := range size {
			seq++
			r := statement(fmt.Sprintf("%s/%d", session, i), session, int64(i+1))
			r.Params = []*string{ptr("42"), nil, ptr("2025-03-14")}
			r.RequestSeq, r.ResultSeq = seq, seq+1
			r.StartedAt = time.Now() // as in a gateway: the time index grows at its end
			batch.Statements = append(batch.Statements, r)
		}
		batch.Seq = seq
		if err := st.ApplyIndex(ctx, batch); err != nil {
			b.Fatalf("ApplyIndex: %v", err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "stmts/s")
}

// BenchIndexer measures the gateway's whole indexing path: an Indexer over
// st fed what a busy gateway records, eight sessions taking turns, each
// statement a request event and then its result event, flushed every 512
// statements. It reports the time per statement, its allocations, and the
// statements indexed per second.
func BenchIndexer(b *testing.B, st store.Store) {
	ctx := context.Background()
	ix := store.NewIndexer(st, nil, 0)
	ix.Start()
	defer ix.Close()
	const sessions = 8
	prefix := fmt.Sprintf("benchix-%d", time.Now().UnixNano())
	var seq uint64
	record := func(ev *sluice.Event) {
		seq++
		ev.Seq = seq
		if err := ix.Record(ctx, ev); err != nil {
			b.Fatalf("Record: %v", err)
		}
	}
	ids := make([]string, sessions)
	for i := range ids {
		s := fullSession(fmt.Sprintf("%s-%d", prefix, i), time.Now())
		ids[i] = s.ID
		record(&sluice.Event{Time: s.StartedAt, Type: sluice.EventSessionStart, Session: s.ID,
			Identity: &s.Identity, Connection: s.Connection, Protocol: s.Protocol, ClientAddr: s.ClientAddr})
	}
	groups := []string{"ai-agents", "dba"}
	allow := &sluice.Decision{Action: sluice.ActionAllow, Policy: "default", Rule: "reads"}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		session := ids[n%sessions]
		req := &sluice.Request{ID: fmt.Sprintf("%s/%d", session, n), SessionID: session, Seq: int64(n),
			Kind: sluice.KindSQL, Text: "SELECT abalance FROM pgbench_accounts WHERE aid = 4711;",
			Class: sluice.ClassRead, Time: time.Now(), Subject: "8f1c2a5e-alice", Groups: groups,
			Connection: "orders"}
		reqEv := &sluice.Event{Time: req.Time, Type: sluice.EventRequest, Session: session, Request: req, Decision: allow}
		record(reqEv)
		record(&sluice.Event{Time: time.Now(), Type: sluice.EventResult, Session: session, RequestRef: req.ID, RequestSeq: reqEv.Seq,
			Result: &sluice.Result{Status: sluice.StatusOK, Rows: 1, Tag: "SELECT 1", Duration: 80 * time.Microsecond}})
		if n%512 == 0 {
			if err := ix.Flush(ctx); err != nil {
				b.Fatalf("Flush: %v", err)
			}
		}
	}
	if err := ix.Flush(ctx); err != nil {
		b.Fatalf("Flush: %v", err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "stmts/s")
}
