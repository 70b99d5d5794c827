package pgwire_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/listener/pgwire"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/testkit"
	"github.com/sluicehq/sluice/internal/testkit/issuer"
	"github.com/sluicehq/sluice/internal/tlscert"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

func TestMain(m *testing.M) { testkit.RunMain(m) }

// env is a sluice PostgreSQL listener running in the test process in front
// of a real PostgreSQL database, with service tokens, a SQLite state store
// and every byte sent to clients and every log line captured.
type env struct {
	t       *testing.T
	pg      *testkit.Postgres
	db      string // upstream database name
	role    testkit.Role
	dataDir string
	st      *sqlite.DB
	index   *store.Indexer
	rec     *switchRecorder
	tokens  *authn.ServiceTokens
	auth    *authn.Authenticator
	srv     *pgwire.Server
	addr    string
	logs    *syncBuffer
	sent    *syncBuffer
}

// envOptions adjust an env before it starts.
type envOptions struct {
	targets  func(e *env) pgup.Targets
	policies []config.Policy
	noTLS    bool
	loopback bool // AllowPlaintextLoopback
	maxMsg   int
	role     *testkit.Role
	issuer   *issuer.Issuer
	capRows  int
	capBytes int
	masking  config.Masking
	// catalog, when set, gives the table catalog its own targets and
	// lookup timeout instead of the upstream targets.
	catalog func(e *env) (pgup.Targets, time.Duration)
}

type envOption func(*envOptions)

func withCatalog(f func(e *env) (pgup.Targets, time.Duration)) envOption {
	return func(o *envOptions) { o.catalog = f }
}

func withTargets(f func(e *env) pgup.Targets) envOption {
	return func(o *envOptions) { o.targets = f }
}
func withPolicies(p ...config.Policy) envOption { return func(o *envOptions) { o.policies = p } }
func withoutPlaintextLoopback() envOption       { return func(o *envOptions) { o.loopback = false } }
func withMaxMessage(n int) envOption            { return func(o *envOptions) { o.maxMsg = n } }
func withRole(r testkit.Role) envOption         { return func(o *envOptions) { o.role = &r } }

// withMasking sets the masking section (policies name their sets).
func withMasking(m config.Masking) envOption { return func(o *envOptions) { o.masking = m } }

// withCapture sets the result capture budget.
func withCapture(rows, bytes int) envOption {
	return func(o *envOptions) { o.capRows, o.capBytes = rows, bytes }
}

// withIssuer trusts iss's access tokens (audience "sluice", groups claim
// "groups") with a key set refetch limit short enough for rotation tests.
func withIssuer(iss *issuer.Issuer) envOption { return func(o *envOptions) { o.issuer = iss } }

// newEnv starts a listener whose connection "app" reaches a fresh database
// as a SCRAM role, granted to group "agents".
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	o := envOptions{loopback: true, maxMsg: 64 << 20, capRows: 100, capBytes: 65536,
		policies: []config.Policy{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}}}}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	pg := testkit.Shared(t)
	e := &env{t: t, pg: pg, db: testkit.UniqueName(t), role: pg.SCRAMUser(), dataDir: t.TempDir(),
		logs: &syncBuffer{}, sent: &syncBuffer{}}
	if o.role != nil {
		e.role = *o.role
	}
	if err := pg.CreateDatabase(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, e.dataDir+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.tokens = authn.NewServiceTokens(e.dataDir, st)
	ac := authn.Config{ServiceTokens: e.tokens, Logger: log}
	if o.issuer != nil {
		ac.Issuers = []authn.Issuer{{URL: o.issuer.URL(), Audiences: []string{"sluice"}, MinRefresh: time.Millisecond}}
	}
	auth, err := authn.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	e.auth = auth
	if err := auth.Open(ctx); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New(o.policies, o.masking)
	if err != nil {
		t.Fatal(err)
	}
	e.index = store.NewIndexer(st, log, 1024)
	e.index.Start()
	e.rec = &switchRecorder{next: e.index}
	targets := pgup.Targets{"app": e.target(e.db, e.role)}
	if o.targets != nil {
		targets = o.targets(e)
	}
	conns := map[string]sluice.ConnType{}
	for name := range targets {
		conns[name] = sluice.ConnPostgres
	}
	var tlsCfg *tls.Config
	if !o.noTLS {
		tlsCfg, _, err = tlscert.Load("", "", e.dataDir)
		if err != nil {
			t.Fatal(err)
		}
	}
	catalog := pgup.NewCatalog(targets, time.Minute)
	if o.catalog != nil {
		var tg pgup.Targets
		tg, timeout := o.catalog(e)
		catalog = pgup.NewCatalog(tg, time.Minute)
		catalog.Timeout = timeout
	}
	t.Cleanup(catalog.Close)
	g := gate.New(pol, conns, e.rec, log)
	if g.StatementMask, err = policy.StatementMask(o.masking); err != nil {
		t.Fatal(err)
	}
	e.srv = &pgwire.Server{
		Gate: g, Authn: auth, Upstream: targets, Tables: catalog,
		TLS: tlsCfg, AllowPlaintextLoopback: o.loopback, MaxMessageBytes: o.maxMsg,
		StartupTimeout: 10 * time.Second, Log: log, CaptureRows: o.capRows, CaptureBytes: o.capBytes,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(&teeListener{Listener: ln, sent: e.sent}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, pgwire.ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
		e.index.Close()
		e.st.Close()
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.logs.String())
		}
	})
	return e
}

// target is an upstream target for database db as role r.
func (e *env) target(db string, r testkit.Role) pgup.Target {
	return pgup.Target{Host: e.pg.Host(), Port: uint16(e.pg.Port()), Database: db, User: r.Name,
		Password: r.Password, SSLMode: "disable", ConnectTimeout: 10 * time.Second}
}

// token issues a service token.
func (e *env) token(subject string, groups ...string) string {
	e.t.Helper()
	tok, _, err := e.tokens.Issue(context.Background(), subject, groups, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// dsn is a libpq keyword/value connection string to connection conn.
func (e *env) dsn(conn, token, sslmode string) string {
	host, port, _ := net.SplitHostPort(e.addr)
	return fmt.Sprintf("host=%s port=%s dbname=%s user=agent password='%s' sslmode=%s connect_timeout=10",
		host, port, conn, token, sslmode)
}

// connect opens a pgx connection as an agent with a fresh token.
func (e *env) connect(ctx context.Context) *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(ctx, e.dsn("app", e.token("bot", "agents"), "require"))
	if err != nil {
		e.t.Fatalf("connect through sluice: %v", err)
	}
	e.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// psql runs psql through sluice with the given arguments and stdin.
func (e *env) psql(token, stdin string, args ...string) (string, error) {
	e.t.Helper()
	host, port, _ := net.SplitHostPort(e.addr)
	full := append([]string{"-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "agent", "-d", "app"}, args...)
	cmd := exec.Command("psql", full...)
	cmd.Env = append(cmd.Environ(), "PGPASSWORD="+token, "PGSSLMODE=require", "PGCONNECT_TIMEOUT=10")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// superExec runs SQL on the test database as the superuser, directly.
func (e *env) superExec(sql string, args ...any) {
	e.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.pg.SuperuserDSN(e.db))
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		e.t.Fatal(err)
	}
}

// waitStatements waits until the session of subject has ended and its
// statements are in the store, and returns them.
func (e *env) waitSession(subject string) (*sluice.Session, []*sluice.StatementRecord) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ss, err := e.st.ListSessions(context.Background(), store.SessionFilter{Subject: subject})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(ss) > 0 && !ss[0].EndedAt.IsZero() {
			stmts, err := e.st.ListStatements(context.Background(), ss[0].ID)
			if err != nil {
				e.t.Fatal(err)
			}
			return ss[0], stmts
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("session of %s not recorded as ended within 10s (found %d)", subject, len(ss))
		}
		time.Sleep(10 * time.Millisecond) // polling the store for a condition
	}
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// switchRecorder passes events on, or fails every Record while failing is
// set. It keeps the results it sees, by request text.
type switchRecorder struct {
	next    gate.Recorder
	failing atomic.Bool

	mu      sync.Mutex
	results map[string]*sluice.Result
}

func (r *switchRecorder) Record(ctx context.Context, ev *sluice.Event) error {
	if r.failing.Load() {
		return errors.New("journal disk full (test)")
	}
	if ev.Type == sluice.EventResult {
		r.mu.Lock()
		if r.results == nil {
			r.results = map[string]*sluice.Result{}
		}
		r.results[ev.Request.Text] = ev.Result
		r.mu.Unlock()
	}
	return r.next.Record(ctx, ev)
}

// result returns the last result recorded for a request text.
func (r *switchRecorder) result(text string) *sluice.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[text]
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
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

// teeListener copies every byte the server writes to its clients into sent
// (TLS records are captured encrypted, so tests that check client bytes use
// plaintext sessions).
type teeListener struct {
	net.Listener
	sent *syncBuffer
}

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &teeConn{Conn: c, sent: l.sent}, nil
}

type teeConn struct {
	net.Conn
	sent *syncBuffer
}

func (c *teeConn) Write(p []byte) (int, error) {
	c.sent.Write(p)
	return c.Conn.Write(p)
}

// configPolicy grants subject the connection "app" from source.
func configPolicy(name, subject, source string) config.Policy {
	return config.Policy{Name: name, Subjects: []string{subject}, Connections: []string{"app"}, Sources: []string{source}}
}
