package authn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
)

// t0 is the fixed start of every test clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a manual clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memStore is an in-memory TokenStore with the semantics of store.Store.
type memStore struct {
	mu      sync.Mutex
	tokens  map[string]sluice.ServiceToken
	failGet error // returned by GetToken when set
}

func newMemStore() *memStore { return &memStore{tokens: map[string]sluice.ServiceToken{}} }

func (m *memStore) CreateToken(_ context.Context, t *sluice.ServiceToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.tokens[t.ID]; dup {
		return fmt.Errorf("token %s exists", t.ID)
	}
	c := *t
	c.Groups = slices.Clone(t.Groups)
	m.tokens[t.ID] = c
	return nil
}

func (m *memStore) GetToken(_ context.Context, id string) (*sluice.ServiceToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failGet != nil {
		return nil, m.failGet
	}
	t, ok := m.tokens[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &t, nil
}

func (m *memStore) ListTokens(context.Context) ([]*sluice.ServiceToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*sluice.ServiceToken
	for _, t := range m.tokens {
		out = append(out, &t)
	}
	slices.SortFunc(out, func(a, b *sluice.ServiceToken) int { return b.IssuedAt.Compare(a.IssuedAt) })
	return out, nil
}

func (m *memStore) RevokeToken(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return store.ErrNotFound
	}
	if t.RevokedAt.IsZero() {
		t.RevokedAt = at
		m.tokens[id] = t
	}
	return nil
}

func (m *memStore) setFailGet(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failGet = err
}

var _ authn.TokenStore = (*memStore)(nil)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// leakWatch captures every log line and every error of a test, and the
// tokens and secrets it used, and checks that no token or secret shows up
// in the logs or the errors.
type leakWatch struct {
	logs syncBuffer

	mu      sync.Mutex
	tokens  []string
	errs    []string
	secrets []string
}

// logger returns a logger writing everything, down to Debug, to the watch.
func (w *leakWatch) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// token records a token that must not leak and returns it.
func (w *leakWatch) token(tok string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tokens = append(w.tokens, tok)
	return tok
}

// secret records key material that must not leak.
func (w *leakWatch) secret(s ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets = append(w.secrets, s...)
}

// err records every rendering of err that could reach a log or a caller.
func (w *leakWatch) err(err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err))
	var e *sluice.Error
	if errors.As(err, &e) {
		w.errs = append(w.errs, e.Message, e.Detail, e.Hint)
	}
}

// check fails t if a token, a token's signature or a secret appears in the
// captured logs or errors. It also fails when nothing was watched, so that
// a broken harness cannot pass silently.
func (w *leakWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.tokens) == 0 || len(w.errs) == 0 {
		t.Fatalf("leak watch saw %d tokens and %d errors; the test should exercise both", len(w.tokens), len(w.errs))
	}
	haystacks := append([]string{w.logs.String()}, w.errs...)
	var needles []string
	for _, tok := range w.tokens {
		if len(tok) >= 16 {
			needles = append(needles, tok)
		}
		if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 16 {
			needles = append(needles, tok[i+1:]) // the signature alone
		}
	}
	for _, s := range w.secrets {
		needles = append(needles, s)
		if lines := strings.Split(s, "\n"); len(lines) > 2 {
			needles = append(needles, lines[1]) // one line of a PEM body
		}
	}
	for _, n := range needles {
		for _, h := range haystacks {
			if strings.Contains(h, n) {
				t.Errorf("leak: %.40q... appears in %.200q", n, h)
			}
		}
	}
}

// wantErr checks that err is a *sluice.Error with the code and message.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var e *sluice.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *sluice.Error", err, err)
	}
	if e.Code != code || e.Message != msg {
		t.Fatalf("got %s %q (cause: %v), want %s %q", e.Code, e.Message, e.Cause, code, msg)
	}
}

// oidcSetup is an authenticator trusting one test issuer, on a manual clock.
type oidcSetup struct {
	clock *clock
	iss   *issuer.Issuer
	auth  *authn.Authenticator
	watch *leakWatch
}

// newOIDCSetup starts an issuer and an opened authenticator trusting it.
// edit may change the issuer config before New.
func newOIDCSetup(t *testing.T, edit func(*authn.Issuer)) *oidcSetup {
	t.Helper()
	s := &oidcSetup{clock: newClock(), iss: issuer.Start(t), watch: &leakWatch{}}
	s.iss.Now = s.clock.Now
	cfg := authn.Issuer{URL: s.iss.URL(), Audiences: []string{"sluice"}}
	if edit != nil {
		edit(&cfg)
	}
	auth, err := authn.New(authn.Config{Issuers: []authn.Issuer{cfg}, Logger: s.watch.logger(), Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.auth = auth
	s.watch.secret(s.iss.Secrets()...)
	return s
}

// authenticate runs Authenticate, recording the token and error for the
// leak check.
func (s *oidcSetup) authenticate(t *testing.T, tok string) (*sluice.Identity, error) {
	t.Helper()
	s.watch.token(tok)
	id, err := s.auth.Authenticate(t.Context(), tok)
	s.watch.err(err)
	return id, err
}
