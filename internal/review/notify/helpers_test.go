package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Secrets used by the tests. Each is distinctive so that the leak test can
// look for it in any error or log output.
const (
	testSlackToken     = "xoxb-SLACKTOKEN-0000-secret"
	testSlackSigning   = "slack-SIGNING-secret-1111"
	testGitHubToken    = "ghp_GITHUBTOKEN_2222_secret"
	testGitHubHook     = "github-HOOK-secret-3333"
	testJiraToken      = "jira-APITOKEN-4444-secret"
	testJiraHook       = "jira-HOOK-secret-5555"
	testWebhookSecret  = "webhook-HMAC-secret-6666"
	testWebhookURLPart = "URLTOKEN7777secret"
	testJiraEmail      = "bot@example.com"
)

// fastHTTP keeps retries quick in tests.
var fastHTTP = HTTPOptions{Timeout: 2 * time.Second, Attempts: 3, Backoff: time.Millisecond}

// seen is one request a fake service received.
type seen struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map, failing the test if it is not
// a JSON object.
func (s seen) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s.Body, &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %s", s.Method, s.Path, err, s.Body)
	}
	return m
}

// fake is a local stand-in for Slack, GitHub, Jira or a webhook receiver.
// Every request goes through check (common assertions: method, auth,
// content type, signature), is recorded, and is answered by the route for
// "METHOD /path"; a request for any other route fails the test.
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	check  func(t *testing.T, s seen)
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	reqs   []seen
	got    chan seen
}

func newFake(t *testing.T, check func(t *testing.T, s seen)) *fake {
	f := &fake{t: t, check: check, routes: map[string]http.HandlerFunc{}, got: make(chan seen, 64)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("fake: read body: %v", err)
	}
	s := seen{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	if f.check != nil {
		f.check(f.t, s)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	f.got <- s
	if h == nil {
		f.t.Errorf("fake: unexpected request %s %s", r.Method, r.URL.Path)
		http.Error(w, "no such route", http.StatusNotFound)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h(w, r)
}

// on sets the answer for a route.
func (f *fake) on(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = h
}

// requests returns what the fake received so far.
func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// next waits for the next request.
func (f *fake) next(t *testing.T) seen {
	t.Helper()
	select {
	case s := <-f.got:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("fake: no request arrived")
		return seen{}
	}
}

func (f *fake) url() string { return f.srv.URL }

// jsonAnswer answers with status and v as JSON.
func jsonAnswer(status int, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
}

// decideCall is one call of fakeDecider.Decide.
type decideCall struct {
	ReviewID, Subject string
	Approve           bool
	Reason, Via       string
}

// fakeDecider records decisions and answers with a fixed review or error.
type fakeDecider struct {
	mu     sync.Mutex
	calls  []decideCall
	got    chan decideCall
	err    error
	status sluice.ReviewStatus // of the review returned; default approved
}

func newDecider() *fakeDecider { return &fakeDecider{got: make(chan decideCall, 16)} }

func (d *fakeDecider) Decide(ctx context.Context, reviewID, subject string, approve bool, reason, via string) (*sluice.Review, error) {
	c := decideCall{reviewID, subject, approve, reason, via}
	d.mu.Lock()
	d.calls = append(d.calls, c)
	err, status := d.err, d.status
	d.mu.Unlock()
	d.got <- c
	if err != nil {
		return nil, err
	}
	r := sampleReview()
	r.Status = orDefaultStatus(status, sluice.ReviewApproved)
	r.Decisions = []sluice.ReviewDecision{{By: subject, Approve: approve, Reason: reason, Via: via, At: time.Now()}}
	return r, nil
}

func orDefaultStatus(s, def sluice.ReviewStatus) sluice.ReviewStatus {
	if s == "" {
		return def
	}
	return s
}

func (d *fakeDecider) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// lookupDecider is a fakeDecider that also implements ReviewLookup.
type lookupDecider struct {
	*fakeDecider
	tickets map[string]string
}

func (d *lookupDecider) Get(ctx context.Context, id string) (*sluice.Review, error) {
	if id != "rv_42" {
		return nil, sluice.Errorf(sluice.ENotFound, "no review %s", id)
	}
	r := sampleReview()
	r.Tickets = d.tickets
	return r, nil
}

// sampleReview is a pending review of a DELETE without WHERE.
func sampleReview() *sluice.Review {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &sluice.Review{
		ID:     "rv_42",
		Status: sluice.ReviewPending,
		Request: sluice.Request{
			ID: "req_1", Kind: sluice.KindSQL, Text: "DELETE FROM orders",
			Class: sluice.ClassWrite | sluice.ClassDestructive, Tables: []string{"public.orders"},
			Subject: "agent-7", Groups: []string{"ai-agents"}, Connection: "orders",
		},
		Reasons:       []string{"DELETE without WHERE"},
		Policy:        "agents-orders",
		Rule:          "2",
		Approvers:     []string{"group:dba"},
		MinApprovals:  1,
		EstimatedRows: 1200,
		CreatedAt:     now,
		WaitUntil:     now.Add(2 * time.Minute),
		ValidUntil:    now.Add(time.Hour),
	}
}

// decided returns the sample review ended with status and one vote.
func decided(status sluice.ReviewStatus, approve bool) *sluice.Review {
	r := sampleReview()
	r.Status = status
	r.DecidedAt = time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)
	r.Decisions = []sluice.ReviewDecision{{By: "alice", Approve: approve, Reason: "looks fine", Via: "slack", At: r.DecidedAt}}
	return r
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newTestLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// post sends a request to an inbound handler and returns the recorded
// answer.
func post(h http.Handler, header http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/hooks/x", bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantHeader fails the test unless s carries header k with value v.
func wantHeader(t *testing.T, s seen, k, v string) {
	t.Helper()
	if got := s.Header.Get(k); got != v {
		t.Errorf("%s %s: header %s = %q, want %q", s.Method, s.Path, k, got, v)
	}
}

// wantContentTypeJSON fails the test unless s has a JSON content type.
func wantContentTypeJSON(t *testing.T, s seen) {
	t.Helper()
	if ct := s.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type = %q, want application/json", s.Method, s.Path, ct)
	}
}

// noDecision fails the test if d was called.
func noDecision(t *testing.T, d *fakeDecider) {
	t.Helper()
	if n := d.count(); n != 0 {
		t.Errorf("Decide called %d times, want none", n)
	}
}

// waitDecision waits for one Decide call.
func waitDecision(t *testing.T, d *fakeDecider) decideCall {
	t.Helper()
	select {
	case c := <-d.got:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("Decide was not called")
		return decideCall{}
	}
}

// path walks a decoded JSON value by keys and indexes ("blocks", 0, "type").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
