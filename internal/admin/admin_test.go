package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/admin"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// fixture is an admin API over a real journal and SQLite index holding one
// session with two statements.
type fixture struct {
	srv     *httptest.Server
	tokens  *authn.ServiceTokens
	session string
}

func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	jdir := filepath.Join(dir, "journal")
	j, err := journal.Open(ctx, journal.Options{Dir: jdir})
	if err != nil {
		t.Fatal(err)
	}
	ix := store.NewIndexer(st, nil, 0)
	ix.Start()
	trail := audit.NewTrail(j, ix, nil)
	t0 := time.Now().UTC()
	id := &sluice.Identity{Subject: "bot", Groups: []string{"agents"}}
	sid := "20261127T120000-000000000001"
	evs := []*sluice.Event{
		{Time: t0, Type: sluice.EventSessionStart, Session: sid, Identity: id, Connection: "app", Protocol: sluice.ProtoPostgres},
	}
	reqs := []*sluice.Request{
		{ID: sid + "/1", Seq: 1, SessionID: sid, Text: "select secret_sauce from recipes", Time: t0, Subject: "bot", Connection: "app"},
		{ID: sid + "/2", Seq: 2, SessionID: sid, Text: "delete from recipes", Time: t0.Add(time.Second), Subject: "bot", Connection: "app"},
	}
	evs = append(evs,
		&sluice.Event{Time: t0, Type: sluice.EventRequest, Session: sid, Request: reqs[0], Decision: &sluice.Decision{Action: sluice.ActionAllow, Policy: "p", Rule: "1"}},
		&sluice.Event{Time: t0, Type: sluice.EventResult, Session: sid, Request: reqs[0], Result: &sluice.Result{Rows: 1, Status: sluice.StatusOK,
			Capture: &sluice.Capture{Columns: []sluice.Column{{Name: "secret_sauce"}}, Rows: [][]*string{{ptr("ketchup")}}}}},
		&sluice.Event{Time: t0.Add(time.Second), Type: sluice.EventRequest, Session: sid, Request: reqs[1], Decision: &sluice.Decision{Action: sluice.ActionDeny, Policy: "p", Rule: "2", Message: "no"}},
		&sluice.Event{Time: t0.Add(2 * time.Second), Type: sluice.EventSessionEnd, Session: sid, Reason: sluice.EndClient},
	)
	for _, ev := range evs {
		if err := trail.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	vkey := j.VerifierKey()
	j.Close()

	tokens := authn.NewServiceTokens(dir, st)
	auth, err := authn.New(authn.Config{ServiceTokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := policy.ParseSubject("group:security")
	api := &admin.Server{Authn: auth, Store: st, JournalDir: jdir, Auditors: []policy.Subject{sec}, VerifierKey: vkey}
	mux := http.NewServeMux()
	api.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, tokens: tokens, session: sid}
}

func ptr(s string) *string { return &s }

func (f *fixture) get(t *testing.T, path, token string, into any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func (f *fixture) token(t *testing.T, groups ...string) string {
	tok, _, err := f.tokens.Issue(context.Background(), "someone", groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuditAPI(t *testing.T) {
	f := newFixture(t)
	auditor, agent := f.token(t, "security"), f.token(t, "agents")

	var e map[string]string
	if code := f.get(t, "/api/v1/audit/statements", "", &e); code != 401 || !strings.Contains(e["error"], "Bearer") {
		t.Fatalf("no token: %d %v", code, e)
	}
	if code := f.get(t, "/api/v1/audit/statements", "garbage", &e); code != 401 {
		t.Fatalf("bad token: %d %v", code, e)
	}
	if code := f.get(t, "/api/v1/audit/statements", agent, &e); code != 403 {
		t.Fatalf("agent token: %d %v", code, e)
	}

	var res struct{ Statements []*sluice.StatementRecord }
	if code := f.get(t, "/api/v1/audit/statements?decision=deny", auditor, &res); code != 200 || len(res.Statements) != 1 ||
		res.Statements[0].Text != "delete from recipes" || res.Statements[0].RequestSeq != 4 {
		t.Fatalf("denied statements: %d %+v", code, res.Statements)
	}
	if code := f.get(t, "/api/v1/audit/statements?text="+url.QueryEscape("SECRET_sauce"), auditor, &res); code != 200 || len(res.Statements) != 1 || res.Statements[0].ResultSeq != 3 {
		t.Fatalf("text search: %d %+v", code, res.Statements)
	}
	if code := f.get(t, "/api/v1/audit/statements?limit=x", auditor, &e); code != 400 {
		t.Fatalf("bad limit: %d", code)
	}

	var replay struct {
		Session *sluice.Session
		Events  []*sluice.Event
	}
	if code := f.get(t, "/api/v1/audit/sessions/"+f.session, auditor, &replay); code != 200 || len(replay.Events) != 5 {
		t.Fatalf("replay: %d %d events", code, len(replay.Events))
	}
	if c := replay.Events[2].Result.Capture; c == nil || *c.Rows[0][0] != "ketchup" {
		t.Fatalf("captured rows not replayed: %+v", replay.Events[2].Result)
	}
	if code := f.get(t, "/api/v1/audit/sessions/nope", auditor, &e); code != 404 {
		t.Fatalf("unknown session: %d", code)
	}
	var sessions struct{ Sessions []*sluice.Session }
	if code := f.get(t, "/api/v1/audit/sessions?has_denied=true", auditor, &sessions); code != 200 || len(sessions.Sessions) != 1 {
		t.Fatalf("sessions with denials: %d %+v", code, sessions.Sessions)
	}

	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/audit/key", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("key: %v %v", resp, err)
	}
	resp.Body.Close()
}
