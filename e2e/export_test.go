package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluicehq/sluice/internal/export/siem"
	"github.com/sluicehq/sluice/internal/testkit/rsyslog"
)

// receiver is a fake SIEM endpoint (Splunk HEC or a webhook) that checks
// what it gets, keeps every sequence number it accepted and can be taken
// down (503).
type receiver struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	seqs []uint64
	bad  []string
}

func (r *receiver) fail(format string, args ...any) {
	r.mu.Lock()
	r.bad = append(r.bad, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *receiver) got() ([]uint64, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs), slices.Clone(r.bad)
}

// newHEC is a Splunk HTTP Event Collector that checks the token, the path
// and each event's envelope and OCSF fields.
func newHEC(t *testing.T, token string) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			w.WriteHeader(503)
			fmt.Fprint(w, `{"text":"Server is busy","code":9}`)
			return
		}
		if req.URL.Path != "/services/collector/event" || req.Header.Get("Authorization") != "Splunk "+token {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"text":"Invalid token","code":4}`)
			r.fail("bad path or token: %s %q", req.URL.Path, req.Header.Get("Authorization"))
			return
		}
		dec := json.NewDecoder(req.Body)
		var seqs []uint64
		for {
			var ev struct {
				Time   float64           `json:"time"`
				Index  string            `json:"index"`
				Event  map[string]any    `json:"event"`
				Fields map[string]string `json:"fields"`
			}
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil {
				r.fail("bad body: %v", err)
				w.WriteHeader(400)
				return
			}
			seq, _ := strconv.ParseUint(ev.Fields["sluice_seq"], 10, 64)
			meta, _ := ev.Event["metadata"].(map[string]any)
			if seq == 0 || ev.Index != "security" || ev.Time == 0 || ev.Event["class_uid"] == nil || meta == nil ||
				uint64(meta["sequence"].(float64)) != seq {
				r.fail("bad event: %+v", ev)
			}
			// A statement's result stands alone: it carries the statement,
			// joined from the request's record.
			if meta != nil && meta["event_code"] == "result" {
				q, _ := ev.Event["query_info"].(map[string]any)
				if ev.Event["class_uid"] != float64(6005) || q == nil || q["query_string"] == "" || q["query_string"] == nil || ev.Event["actor"] == nil {
					r.fail("result without its statement: %+v", ev.Event)
				}
			}
			seqs = append(seqs, seq)
		}
		r.mu.Lock()
		r.seqs = append(r.seqs, seqs...)
		r.mu.Unlock()
		fmt.Fprint(w, `{"text":"Success","code":0}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// newWebhook is a webhook receiver that checks every signature.
func newWebhook(t *testing.T, secret string) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			w.WriteHeader(503)
			return
		}
		body, _ := io.ReadAll(req.Body)
		if err := siem.VerifyWebhook(secret, req, body, time.Minute); err != nil {
			r.fail("signature: %v", err)
			w.WriteHeader(401)
			return
		}
		var b struct {
			Records []struct {
				Seq   uint64          `json:"seq"`
				Event json.RawMessage `json:"event"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			r.fail("body: %v", err)
			w.WriteHeader(400)
			return
		}
		r.mu.Lock()
		for _, rec := range b.Records {
			if rec.Seq == 0 || len(rec.Event) == 0 {
				r.bad = append(r.bad, "raw record without seq or event")
			}
			r.seqs = append(r.seqs, rec.Seq)
		}
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

var syslogSeq = regexp.MustCompile(`seq="(\d+)"`)

// syslogSeqs returns the sequence numbers rsyslog wrote, checking that each
// message carries an OCSF event.
func syslogSeqs(t *testing.T, rs *rsyslog.Rsyslog) []uint64 {
	t.Helper()
	var out []uint64
	for _, m := range rs.Messages() {
		if m.MsgID != "audit" {
			continue // the harness's own probes
		}
		sm := syslogSeq.FindStringSubmatch(m.StructuredData)
		var ev struct {
			ClassUID int `json:"class_uid"`
		}
		if sm == nil || json.Unmarshal([]byte(strings.TrimSpace(m.Msg)), &ev) != nil || ev.ClassUID == 0 || m.AppName != "sluice" {
			t.Errorf("syslog message without seq or OCSF event: %+v", m)
			continue
		}
		n, _ := strconv.ParseUint(sm[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// checkSeqs requires every sequence number 1..n exactly once.
func checkSeqs(t *testing.T, sink string, seqs []uint64, n uint64) {
	t.Helper()
	seen := map[uint64]int{}
	for _, s := range seqs {
		seen[s]++
	}
	var missing, dup []uint64
	for s := uint64(1); s <= n; s++ {
		switch seen[s] {
		case 0:
			missing = append(missing, s)
		case 1:
		default:
			dup = append(dup, s)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(seqs) != int(n) {
		t.Errorf("sink %s: %d records for %d in the journal; missing %v; duplicated %v", sink, len(seqs), n, head(missing), head(dup))
	}
}

func head(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// loadPhase runs queries from several clients until stop closes and
// returns the latency of each.
func loadPhase(t *testing.T, g *gateway, token string, clients int, stop <-chan struct{}) []time.Duration {
	t.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range clients {
		conn := connect(t, g.pgAddr, "app", token)
		wg.Go(func() {
			defer conn.Close(context.Background())
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				var n int
				// A query that gets no answer fails the test rather than
				// hanging it. While it is still waiting, the test's log
				// gets what the database's sessions do and where the
				// gateway waits (its goroutines, as it exits): once the
				// client gives up, its session is gone.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				watch := time.AfterFunc(20*time.Second, func() { g.dumpWaiting(t, "a query has waited 20s for its answer") })
				err := conn.QueryRow(ctx, "select count(*) from generate_series(1, 10)").Scan(&n)
				watch.Stop()
				cancel()
				if err != nil || n != 10 {
					t.Errorf("query: %v %d", err, n)
					return
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat
}

// pgActivity returns what the sessions of the database at dsn are doing,
// one per line, from pg_stat_activity (its own query among them).
func pgActivity(dsn string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "cannot connect: " + err.Error()
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `select pid, coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, ''),
		coalesce(now() - state_change, '0'::interval)::text, left(query, 80)
		from pg_stat_activity where datname = current_database()`)
	if err != nil {
		return "cannot query: " + err.Error()
	}
	var b strings.Builder
	for rows.Next() {
		var pid int32
		var state, waitType, wait, since, query string
		if err := rows.Scan(&pid, &state, &waitType, &wait, &since, &query); err != nil {
			return "cannot scan: " + err.Error()
		}
		fmt.Fprintf(&b, "\n  pid %d %s (wait %s/%s) for %s: %s", pid, state, waitType, wait, since, query)
	}
	if err := rows.Err(); err != nil {
		return "cannot read: " + err.Error()
	}
	return b.String()
}

// runFor runs loadPhase for d.
func runFor(t *testing.T, g *gateway, token string, d time.Duration) []time.Duration {
	stop := make(chan struct{})
	timer := time.AfterFunc(d, func() { close(stop) })
	defer timer.Stop()
	return loadPhase(t, g, token, 4, stop)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// lag returns a sink's export lag.
func (g *gateway) lag(t *testing.T, sink string) float64 {
	return g.metric(t, `sluice_export_lag_records\{sink="`+sink+`"\}`)
}

// TestExportSinks exports under load to every kind of sink, takes every
// sink down mid-run and brings it back, and checks that each holds every
// journal record exactly once, that the object store copies verify on
// their own, and that queries were not slowed while the sinks were down.
func TestExportSinks(t *testing.T) {
	pg, db := newDatabase(t)
	plain := rsyslog.Start(t, rsyslog.Options{})
	secure := rsyslog.Start(t, rsyslog.Options{TLS: true})
	hec := newHEC(t, "hec-token-1f9e2a")
	hook := newWebhook(t, "webhook-secret-0123456789abcdef")
	stores := newObjectStores(t)
	sinks := []map[string]any{
		{"name": "syslog", "type": "syslog", "address": plain.Addr(), "interval": "100ms"},
		{"name": "syslog-tls", "type": "syslog", "address": secure.Addr(), "tls": true, "ca_file": secure.CAFile(), "interval": "100ms"},
		{"name": "splunk", "type": "splunk", "url": hec.srv.URL, "token": "hec-token-1f9e2a", "index": "security", "interval": "100ms"},
		{"name": "webhook", "type": "webhook", "url": hook.srv.URL, "secret": "webhook-secret-0123456789abcdef", "format": "raw", "interval": "100ms"},
	}
	sinks = append(sinks, stores.sinks()...)
	for _, s := range sinks {
		s["lag_warning"] = 100
	}
	cfg := newConfig(t,
		[]connSpec{{Name: "app", Address: pg.Addr(), Database: db, User: pg.SCRAMUser().Name, Password: pg.SCRAMUser().Password}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}}},
		func(fc *fileConfig) {
			fc.Audit = map[string]any{"sinks": sinks, "checkpoint_interval": "100ms"}
		})
	g := startGateway(t, cfg)
	g.upstreamState = func() string { return pgActivity(pg.SuperuserDSN(db)) }
	tok := cfg.issue("loader", "agents")
	names := []string{"syslog", "syslog-tls", "splunk", "webhook"}
	names = append(names, stores.names()...)

	before := runFor(t, g, tok, 2*time.Second)
	if s := g.upstreamState(); strings.HasPrefix(s, "cannot") {
		t.Errorf("the diagnosis of an unanswered query would fail: %s", s)
	}
	waitUntil(t, 30*time.Second, "every sink to catch up", func() bool {
		for _, n := range names {
			if g.lag(t, n) > 0 {
				return false
			}
		}
		return true
	})

	// Every sink down; the gateway keeps serving at the same speed.
	plain.Stop()
	secure.Stop()
	hec.down.Store(true)
	hook.down.Store(true)
	stores.stop()
	during := runFor(t, g, tok, 2*time.Second)
	for _, n := range names {
		if g.lag(t, n) == 0 {
			t.Errorf("sink %s shows no lag while down", n)
		}
	}
	code, body := g.healthz(t)
	for _, n := range names {
		if code != 200 || !strings.HasPrefix(body, "ok\n") || !strings.Contains(body, "warning: export sink "+n+" lags") {
			t.Errorf("healthz while sink %s is down: %d %s", n, code, body)
		}
	}
	mb, md := median(before), median(during)
	t.Logf("query latency p50: %s with sinks up (%d queries), %s with sinks down (%d queries)", mb, len(before), md, len(during))
	if md > 2*mb+2*time.Millisecond {
		t.Errorf("queries slowed while sinks were down: p50 %s before, %s during", mb, md)
	}

	plain.Restart()
	secure.Restart()
	hec.down.Store(false)
	hook.down.Store(false)
	stores.restart()
	runFor(t, g, tok, time.Second)
	g.waitIdle()
	waitUntil(t, 60*time.Second, "every sink to catch up after the outage", func() bool {
		for _, n := range names {
			if g.lag(t, n) > 0 {
				return false
			}
		}
		return true
	})
	n := uint64(g.metric(t, "sluice_journal_records_total"))
	g.stopClean()
	// Records written at shutdown are not shipped by this gateway's run.
	checkSeqs(t, "syslog", syslogSeqs(t, plain), n)
	checkSeqs(t, "syslog-tls", syslogSeqs(t, secure), n)
	for name, r := range map[string]*receiver{"splunk": hec, "webhook": hook} {
		seqs, bad := r.got()
		for _, b := range bad {
			t.Errorf("%s: %s", name, b)
		}
		checkSeqs(t, name, seqs, n)
	}
	stores.verify(t, cfg, n)

	// Re-shipping a range: a SIEM gets it again, an object store holds it
	// already and is not written twice (its copy still verifies).
	if r := cfg.run("audit", "export", "--sink", "webhook", "--from", "5", "--to", "14"); r.code != 0 ||
		!strings.Contains(r.stdout, "sink webhook holds records 5 to 14") {
		t.Errorf("export webhook: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if seqs, _ := hook.got(); len(seqs) != int(n)+10 || seqs[len(seqs)-1] != 14 {
		t.Errorf("re-shipped webhook records: %d in all, last %d", len(seqs), seqs[len(seqs)-1])
	}
	for _, sink := range stores.names() {
		if r := cfg.run("audit", "export", "--sink", sink, "--from", "1"); r.code != 0 || !strings.Contains(r.stdout, "holds records 1 to") {
			t.Errorf("export %s: %d %s %s", sink, r.code, r.stdout, r.stderr)
		}
	}
	stores.verify(t, cfg, n)
	if r := cfg.run("audit", "export", "--sink", "nope"); r.code != 2 {
		t.Errorf("unknown sink: exit %d", r.code)
	}
}
