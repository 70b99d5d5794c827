package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// fixture is a console over a real SQLite store, journal and review flow,
// holding one recorded session (a read with captured rows, a denied
// delete), served on a loopback httptest server.
type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	console *Server
	reviews *review.Service
	store   store.Store
	trail   *audit.Trail
	index   *store.Indexer
	jdir    string
	session string
	clock   *clock
}

// clock is a settable clock, safe for concurrent use.
type clock struct{ off time.Duration }

func (c *clock) now() time.Time { return time.Now().Add(c.off) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func subjects(t *testing.T, list ...string) []policy.Subject {
	var out []policy.Subject
	for _, s := range list {
		p, err := policy.ParseSubject(s)
		must(t, err)
		out = append(out, p)
	}
	return out
}

func newFixture(t *testing.T, opts ...func(*Server)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	jdir := filepath.Join(dir, "journal")
	j, err := journal.Open(ctx, journal.Options{Dir: jdir, CheckpointInterval: 10 * time.Millisecond})
	must(t, err)
	ix := store.NewIndexer(st, nil, 0)
	ix.Start()
	trail := audit.NewTrail(j, ix, nil)
	t.Cleanup(func() { ix.Close(); j.Close() })

	f := &fixture{t: t, store: st, trail: trail, index: ix, jdir: jdir, clock: &clock{}}
	f.reviews = &review.Service{Store: st, Recorder: trail, Validity: time.Hour, Now: f.clock.now, Poll: 20 * time.Millisecond}
	f.session = f.recordSession()

	f.console = &Server{Store: st, Reviews: f.reviews, JournalDir: jdir, VerifierKey: j.VerifierKey(),
		Auditors: subjects(t, "group:security"), Approvers: subjects(t, "group:dba", "subject:carol"),
		DevLogin: true, DataDir: dir, Poll: 20 * time.Millisecond, Now: f.clock.now,
		Sinks: func() []SinkStatus { return []SinkStatus{{Name: "siem", Lag: 7, Cursor: 3, Health: "siem lags"}} }}
	for _, o := range opts {
		o(f.console)
	}
	must(t, f.console.Open(ctx))
	t.Cleanup(f.console.Close)
	mux := http.NewServeMux()
	f.console.Routes(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func ptr(s string) *string { return &s }

// recordSession journals and indexes a session of bot: a select whose
// result was captured, and a denied delete.
func (f *fixture) recordSession() string {
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Minute)
	id := &sluice.Identity{Subject: "bot", Groups: []string{"agents"}, Method: sluice.AuthServiceToken}
	sid := "20260101T120000-000000000001"
	reqs := []*sluice.Request{
		{ID: sid + "/1", Seq: 1, SessionID: sid, Kind: sluice.KindSQL, Text: "select name, email from customers where id = 42",
			Time: t0, Subject: "bot", Connection: "shop", Class: sluice.ClassRead, Tables: []string{"customers"}},
		{ID: sid + "/2", Seq: 2, SessionID: sid, Kind: sluice.KindSQL, Text: "delete from customers", Time: t0.Add(time.Second),
			Subject: "bot", Connection: "shop", Class: sluice.ClassWrite | sluice.ClassDestructive},
	}
	evs := []*sluice.Event{
		{Time: t0, Type: sluice.EventSessionStart, Session: sid, Identity: id, Connection: "shop", Protocol: sluice.ProtoPostgres, ClientAddr: "127.0.0.1:5000"},
		{Time: t0, Type: sluice.EventRequest, Session: sid, Request: reqs[0], Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "agents", Rule: "rule 1"}},
		{Time: t0.Add(3 * time.Millisecond), Type: sluice.EventResult, Session: sid, RequestRef: reqs[0].ID, RequestSeq: 2, Result: &sluice.Result{Rows: 1, Tag: "SELECT 1",
			Status: sluice.StatusOK, Duration: 3 * time.Millisecond, Masked: map[string]uint64{"email": 1},
			Capture: &sluice.Capture{Columns: []sluice.Column{{Name: "name"}, {Name: "email"}}, Rows: [][]*string{{ptr("Ketchup <b>Ltd</b>"), ptr("k***@example.com")}, {nil, ptr("x")}}}}},
		{Time: t0.Add(time.Second), Type: sluice.EventRequest, Session: sid, Request: reqs[1], Decision: &sluice.Decision{Action: sluice.ActionDeny, Policy: "agents", Rule: "rule 3", Message: "no deletes"}},
		{Time: t0.Add(2 * time.Second), Type: sluice.EventSessionEnd, Session: sid, Reason: sluice.EndClient},
	}
	for _, ev := range evs {
		must(f.t, f.trail.Record(ctx, ev))
	}
	must(f.t, f.index.Flush(ctx))
	return sid
}

// openReview holds a statement of requester for the approvers.
func (f *fixture) openReview(requester, text string, approvers ...string) *sluice.Review {
	f.t.Helper()
	req := &sluice.Request{ID: "s9/" + text[:min(len(text), 8)], Seq: 1, SessionID: "s9", Kind: sluice.KindSQL, Text: text,
		Time: time.Now(), Subject: requester, Connection: "shop", Class: sluice.ClassWrite}
	rv, err := f.reviews.Hold(context.Background(), req, req.Hash(), sluice.Decision{Action: sluice.ActionReview, Policy: "agents",
		Rule: "rule 2", Approvers: approvers, MinApprovals: 1, Wait: time.Minute}, []string{"UPDATE without WHERE"}, nil)
	must(f.t, err)
	return rv
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, as a test looks at each step.
type browser struct {
	t      *testing.T
	f      *fixture
	client *http.Client
	base   string
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: f.t, f: f, base: f.srv.URL, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	must(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(b.t, err)
	return &page{Response: resp, Body: string(body)}
}

func (b *browser) get(path string) *page {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.abs(path), nil)
	must(b.t, err)
	return b.do(req)
}

// post submits a form as a browser on the same site does.
func (b *browser) post(path string, form url.Values, hdr ...string) *page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.abs(path), strings.NewReader(form.Encode()))
	must(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.base)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return b.do(req)
}

func (b *browser) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.base + path
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form on page p.
func (b *browser) csrf(p *page) string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no csrf field on the page:\n%s", p.Body)
	}
	return m[1]
}

// devLogin logs in with the development login.
func (b *browser) devLogin(subject, groups string) {
	b.t.Helper()
	lp := b.get("/console/login")
	if lp.StatusCode != 200 {
		b.t.Fatalf("login page: %d", lp.StatusCode)
	}
	p := b.post("/console/login/dev", url.Values{"csrf": {b.csrf(lp)}, "subject": {subject}, "groups": {groups}, "next": {"/console/reviews"}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/reviews" {
		b.t.Fatalf("dev login: %d %s\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
	}
}

func contains(t *testing.T, p *page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("page lacks %q:\n%s", w, p.Body)
		}
	}
}

func lacks(t *testing.T, p *page, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(p.Body, w) {
			t.Fatalf("page has %q:\n%s", w, p.Body)
		}
	}
}
