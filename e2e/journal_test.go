package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/testkit"
)

// kill9 kills the gateway with SIGKILL, on purpose: its cleanup then does
// not expect a clean exit.
func (g *gateway) kill9() {
	g.stopOnce.Do(func() {
		_ = g.cmd.Process.Kill()
		<-g.exited
		g.stopCode = 0
	})
}

// metric reads one counter or gauge from the gateway's /metrics.
func (g *gateway) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + g.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("metric %s not found", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// healthz returns the gateway's /healthz status code and body.
func (g *gateway) healthz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + g.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// journalRequests counts request records whose text starts with prefix.
func journalRequests(t *testing.T, dataDir, prefix string) int {
	t.Helper()
	n := 0
	err := scanJournal(dataDir, func(r *journal.Record) error {
		if r.Event.Type == sluice.EventRequest && strings.HasPrefix(r.Event.Request.Text, prefix) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkResultsNameRequests reads dataDir's journal as written and checks
// that every result names its request's record instead of repeating the
// request: the record at RequestSeq is the request of ID RequestRef, in the
// result's session. It returns the number of results.
func checkResultsNameRequests(t *testing.T, dataDir string) int {
	t.Helper()
	requests := map[uint64]*sluice.Event{}
	n := 0
	err := journal.Scan(filepath.Join(dataDir, "journal"), 1, func(r *journal.Record) error {
		ev := r.Event
		switch ev.Type {
		case sluice.EventRequest:
			requests[r.Seq] = &ev
		case sluice.EventResult:
			n++
			req := requests[ev.RequestSeq]
			if ev.Request != nil || req == nil || req.Request.ID != ev.RequestRef || req.Session != ev.Session ||
				bytes.Contains(r.Payload, []byte(`"text"`)) {
				t.Fatalf("result %d names %q at record %d (a request record: %v), as written: %s",
					r.Seq, ev.RequestRef, ev.RequestSeq, req != nil, r.Payload)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFaultKill9JournalLosesNothing kills sluice with SIGKILL while
// pgbench and pgx clients run through it, restarts it, verifies the
// journal, and checks that every statement a client got a successful
// response for is in the journal: by count for pgbench, and one by one
// for the pgx clients, whose statements are each marked.
func TestFaultKill9JournalLosesNothing(t *testing.T) {
	t.Parallel()
	pg, db := newDatabase(t)
	cfg := appConfig(t, pg, db, pg.SCRAMUser())
	g := startGateway(t, cfg)
	tok := cfg.issue("crash-bench", "agents")
	c := newClient(t, g.pgAddr, "app", tok)
	if r := c.run("", "pgbench", "-i", "-s", "1"); r.code != 0 {
		t.Fatalf("pgbench -i: %d\n%s", r.code, r.stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	bench := exec.CommandContext(ctx, "pgbench", "-S", "-c", "4", "-j", "2", "-T", "120", "-l", "--log-prefix=tx")
	bench.Env = clientEnv(g.pgAddr, "app", tok, "disable")
	bench.Dir = c.dir
	var out strings.Builder
	bench.Stdout, bench.Stderr = &out, &out
	if err := bench.Start(); err != nil {
		t.Fatal(err)
	}
	// Marked statements, each acknowledged or not: worker w sends
	// select 'ack-w-n' for n = 0, 1, ... until the gateway dies, so the
	// first acked[w] statements of w were acknowledged.
	const workers = 4
	acked := make([]atomic.Int64, workers)
	ended := make([]error, workers) // why each worker stopped
	workersDone := make(chan struct{})
	var pending sync.WaitGroup
	for w := range workers {
		conn := connect(t, g.pgAddr, "app", tok)
		pending.Add(1)
		go func() {
			defer pending.Done()
			for n := 0; ; n++ {
				if _, err := conn.Exec(ctx, fmt.Sprintf("select 'ack-%d-%d'", w, n), pgx.QueryExecModeSimpleProtocol); err != nil {
					ended[w] = err
					return
				}
				acked[w].Store(int64(n + 1))
			}
		}()
	}
	go func() { pending.Wait(); close(workersDone) }()

	start := g.metric(t, "sluice_journal_records_total")
	waitUntil(t, 60*time.Second, "pgbench and the pgx clients to run a few thousand statements", func() bool {
		for w := range acked {
			if acked[w].Load() < 100 {
				return false
			}
		}
		return g.metric(t, "sluice_journal_records_total") > start+5000
	})
	g.kill9()
	select {
	case <-workersDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the pgx clients did not notice within 10s that sluice was killed")
	}
	err := bench.Wait()
	if ctx.Err() != nil {
		t.Fatalf("pgbench did not end after sluice was killed:\n%s", out.String())
	}
	if err == nil {
		t.Fatalf("pgbench finished cleanly although sluice was killed under it:\n%s", out.String())
	}

	// pgbench logs one line per completed transaction; each is one SELECT.
	logs, _ := filepath.Glob(filepath.Join(c.dir, "tx*"))
	completed := 0
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		completed += strings.Count(string(b), "\n")
	}
	if completed < 1000 {
		t.Fatalf("only %d transactions completed before the kill:\n%s", completed, out.String())
	}

	// The journal recovers on restart and verifies.
	g2 := startGateway(t, cfg)
	if r := cfg.run("audit", "verify"); r.code != 0 {
		t.Fatalf("audit verify after kill -9: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := journalRequests(t, cfg.dataDir, "SELECT abalance FROM pgbench_accounts")
	t.Logf("pgbench completed %d transactions; the journal holds %d of its statements", completed, got)
	if got < completed {
		t.Fatalf("the journal holds %d pgbench statements, but pgbench completed %d: records were lost", got, completed)
	}
	// Each acknowledged marked statement is in the journal, once.
	marked := map[string]int{}
	err = scanJournal(cfg.dataDir, func(r *journal.Record) error {
		if r.Event.Type == sluice.EventRequest && strings.HasPrefix(r.Event.Request.Text, "select 'ack-") {
			marked[r.Event.Request.Text]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for w := range acked {
		n := int(acked[w].Load())
		t.Logf("worker %d: %d statements acknowledged, then %v", w, n, ended[w])
		total += n
		for i := range n {
			if text := fmt.Sprintf("select 'ack-%d-%d'", w, i); marked[text] != 1 {
				t.Fatalf("%s was acknowledged to its client, and the journal holds it %d times", text, marked[text])
			}
		}
	}
	t.Logf("the pgx clients had %d statements acknowledged; each is in the journal once (%d marked requests journaled)", total, len(marked))
	// And the gateway serves again.
	conn := connect(t, g2.pgAddr, "app", tok)
	var n int
	if err := conn.QueryRow(context.Background(), "select count(*) from pgbench_branches").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: %d %v", n, err)
	}
}

// TestFaultJournalDiskFull fills the journal's file system while clients
// run: statements are refused with the cause, none reaches PostgreSQL
// unrecorded (checked in PostgreSQL's own statement log), /healthz says
// so, service resumes when space returns, and no goroutine is left behind.
func TestFaultJournalDiskFull(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgres(t, testkit.WithSetting("log_statement", "all"))
	ctx := context.Background()
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	cfg := appConfig(t, pg, db, pg.SCRAMUser())
	jdir := filepath.Join(cfg.dataDir, "journal")
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", jdir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v): the journal's own tests cover a full disk with an injected file", err)
	}
	t.Cleanup(func() { syscall.Unmount(jdir, syscall.MNT_DETACH) })

	g := startGateway(t, cfg)
	ctx = faultContext(t, time.Minute)
	tok := cfg.issue("filler", "agents")
	leaks := g.leakCheck(t)
	conn := connect(t, g.pgAddr, "app", tok)
	marker := func(s string) error {
		_, err := conn.Exec(ctx, "select 'marker-"+s+"'", pgx.QueryExecModeSimpleProtocol)
		return err
	}
	if err := marker("before"); err != nil {
		t.Fatal(err)
	}

	// Fill the file system.
	filler := filepath.Join(jdir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	// The last free bytes of the segment's page may still take a small
	// record (a failed write rolls the journal back to its last durable
	// record, which can leave room for a smaller one): what matters is that
	// refusals happen and that nothing reaches PostgreSQL unrecorded,
	// checked below.
	refused := 0
	for i := range 10 {
		err := marker(fmt.Sprintf("full-%d", i))
		if err == nil {
			continue
		}
		pe := pgError(t, err)
		if pe.Code != "58030" || !strings.Contains(pe.Detail, "no space left on device") {
			t.Fatalf("refusal: %s %q detail %q", pe.Code, pe.Message, pe.Detail)
		}
		refused++
	}
	if refused < 3 {
		t.Fatalf("only %d of 10 statements were refused on a full disk", refused)
	}
	if code, body := g.healthz(t); code != 503 || !strings.Contains(body, "no space left") {
		t.Fatalf("/healthz on a full disk: %d %q", code, body)
	}

	// Space returns: service resumes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "statements to be accepted again", func() bool { return marker("after") == nil })
	if code, _ := g.healthz(t); code != 200 {
		t.Fatalf("/healthz after space returned: %d", code)
	}
	conn.Close(ctx)
	g.waitIdle()
	leaks()
	g.stopClean()

	// Every marker PostgreSQL ran is in the journal; no refused one ran.
	pglog, err := os.ReadFile(pg.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	ran := regexp.MustCompile(`statement: select 'marker-([a-z0-9-]+)'`).FindAllStringSubmatch(string(pglog), -1)
	if len(ran) == 0 {
		t.Fatal("no marker in PostgreSQL's statement log: log_statement is not working")
	}
	for _, m := range ran {
		if n := journalRequests(t, cfg.dataDir, "select 'marker-"+m[1]+"'"); n != 1 {
			t.Errorf("PostgreSQL ran marker %s, which the journal holds %d times", m[1], n)
		}
	}
	if r := cfg.run("audit", "verify"); r.code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
