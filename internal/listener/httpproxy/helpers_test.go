package httpproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/httpclass"
	"github.com/sluicehq/sluice/internal/listener/httpproxy"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	httpup "github.com/sluicehq/sluice/internal/upstream/http"
)

// Secrets of the tests: what the agent presents, and what sluice holds.
const (
	agentToken    = "agent-token-7f3a9c"
	upstreamToken = "upstream-secret-51b2e8d0"
)

var agent = &sluice.Identity{Subject: "bot", Groups: []string{"agents"}, Issuer: "sluice", TokenID: "t1"}

// memRecorder keeps the gate's events.
type memRecorder struct {
	mu     sync.Mutex
	events []*sluice.Event
}

func (r *memRecorder) Record(_ context.Context, ev *sluice.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

// of returns the events of type typ.
func (r *memRecorder) of(typ sluice.EventType) []*sluice.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*sluice.Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// tokens authenticates the agent's token only.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, tok string) (*sluice.Identity, error) {
	if tok == agentToken {
		return agent, nil
	}
	return nil, sluice.Errorf(sluice.EUnauthenticated, "token is not valid")
}

// seen is one request the fake upstream received.
type seen struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// upstream is a fake API that records what it receives.
type upstream struct {
	mu   sync.Mutex
	reqs []seen
	srv  *httptest.Server
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

// setup is a proxy in front of one upstream, connection "api".
type setup struct {
	proxy *httpproxy.Server
	url   string // the proxy's base URL
	rec   *memRecorder
	up    *upstream
	usage *usageStore
}

// options of newSetup.
type options struct {
	rules     []config.Rule
	mask      []string
	masking   config.Masking
	unmasked  []string
	anthropic bool
	budgets   []httpproxy.Budget
	reviews   gate.Reviews
	cred      httpup.Credential
	usage     *usageStore // shared by two setups, as by two replicas; nil: a store of its own
}

func newSetup(t testing.TB, h http.HandlerFunc, o options) *setup {
	t.Helper()
	up := newUpstream(t, h)
	if o.cred == (httpup.Credential{}) {
		o.cred = httpup.Credential{Bearer: upstreamToken}
	}
	u, err := httpup.New(httpup.Config{Name: "api", BaseURL: up.srv.URL, Credential: o.cred})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	pol, err := policy.New([]config.Policy{{Name: "agents", Subjects: []string{"group:agents"},
		Connections: []string{"api"}, Rules: o.rules, Mask: o.mask, Unmasked: o.unmasked}}, o.masking)
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	g := gate.New(pol, map[string]sluice.ConnType{"api": sluice.ConnHTTP}, rec, nil)
	if g.StatementMask, err = policy.StatementMask(o.masking); err != nil {
		t.Fatal(err)
	}
	var patterns []httpclass.Pattern
	for _, set := range []string{"azure", "s3", "kubernetes", "anthropic"} {
		b, _ := httpclass.Builtin(set)
		patterns = append(patterns, b...)
	}
	cl, err := httpclass.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	g.HTTP = map[string]*httpclass.Classifier{"api": cl}
	g.Reviews = o.reviews
	if o.usage == nil {
		o.usage = newUsageStore(t, filepath.Join(t.TempDir(), "state.db"))
	}
	s := &setup{rec: rec, up: up, usage: o.usage}
	s.proxy = &httpproxy.Server{Gate: g, Authn: tokens{}, Usage: s.usage, CaptureBytes: 4096, MaxBodyBytes: 1 << 20,
		Conns: map[string]*httpproxy.Conn{"api": {Name: "api", Upstream: u, Anthropic: o.anthropic, Budgets: o.budgets}}}
	mux := http.NewServeMux()
	s.proxy.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(s.proxy.Close)
	s.url = srv.URL
	return s
}

// do sends a request with the agent's token and returns the status,
// headers and body.
func (s *setup) do(t *testing.T, method, path, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+agentToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// results waits for n result events and returns them.
func (s *setup) results(t *testing.T, n int) []*sluice.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := s.rec.of(sluice.EventResult)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d result events, want %d", len(evs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// usageStore is the state store's token usage on a real SQLite file,
// which a test can make fail, and which remembers the days it counted.
type usageStore struct {
	*sqlite.DB
	fail atomic.Bool
	mu   sync.Mutex
	days map[string]bool
}

// newUsageStore opens a store on path, closed when the test ends.
func newUsageStore(t testing.TB, path string) *usageStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &usageStore{DB: db, days: map[string]bool{}}
}

func (u *usageStore) AddUsage(ctx context.Context, subject, conn, day string, n int64) (int64, error) {
	u.mu.Lock()
	u.days[day] = true
	u.mu.Unlock()
	return u.DB.AddUsage(ctx, subject, conn, day, n)
}

func (u *usageStore) ReserveTokens(ctx context.Context, r store.TokenReservation, limit int64, now time.Time) (int64, int64, bool, error) {
	if u.fail.Load() {
		return 0, 0, false, errors.New("store down")
	}
	return u.DB.ReserveTokens(ctx, r, limit, now)
}

// total returns the tokens the agent used on connection api.
func (u *usageStore) total(t testing.TB) int64 {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	var n int64
	for day := range u.days {
		used, err := u.Usage(context.Background(), "bot", "api", day)
		if err != nil {
			t.Fatal(err)
		}
		n += used
	}
	return n
}
