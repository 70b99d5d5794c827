package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/testkit"
)

// Deadlines for the waits of the harness.
const (
	startDeadline = 30 * time.Second // serve prints its addresses
	stopDeadline  = 15 * time.Second // serve exits after SIGTERM (its grace is 30s)
	cliDeadline   = 60 * time.Second // one CLI, psql or pgbench run
)

// agentUser is the PostgreSQL user name agents send; sluice ignores it.
const agentUser = "agent_name_ignored"

// connSpec is one entry of the config's connections.
type connSpec struct {
	Name           string `yaml:"name"`
	Type           string `yaml:"type"`
	Address        string `yaml:"address"`
	Database       string `yaml:"database"`
	User           string `yaml:"user"`
	Password       string `yaml:"password,omitempty"`
	SSLMode        string `yaml:"sslmode"`
	ConnectTimeout string `yaml:"connect_timeout,omitempty"`
	Sandbox        bool   `yaml:"sandbox,omitempty"`
}

// policySpec is one entry of the config's policies.
type policySpec struct {
	Name        string     `yaml:"name"`
	Subjects    []string   `yaml:"subjects"`
	Connections []string   `yaml:"connections"`
	Sources     []string   `yaml:"sources,omitempty"`
	Rules       []ruleSpec `yaml:"rules,omitempty"`
	Mask        []string   `yaml:"mask,omitempty"`
	Unmasked    []string   `yaml:"unmasked,omitempty"`
}

// ruleSpec is one rule of a policy.
type ruleSpec struct {
	When         string   `yaml:"when"`
	Action       string   `yaml:"action"`
	Message      string   `yaml:"message,omitempty"`
	Approvers    []string `yaml:"approvers,omitempty"`
	MinApprovals int      `yaml:"min_approvals,omitempty"`
	Wait         string   `yaml:"wait,omitempty"`
}

// fileConfig is the part of sluice's YAML schema the tests write.
type fileConfig struct {
	DataDir string `yaml:"data_dir"`
	Listen  struct {
		Postgres string `yaml:"postgres"`
		HTTP     string `yaml:"http"`
	} `yaml:"listen"`
	TLS struct {
		AllowPlaintextLoopback bool `yaml:"allow_plaintext_loopback"`
	} `yaml:"tls"`
	State struct {
		Driver string `yaml:"driver"`
	} `yaml:"state"`
	Auth struct {
		ServiceTokens bool             `yaml:"service_tokens"`
		OIDC          []map[string]any `yaml:"oidc,omitempty"`
	} `yaml:"auth"`
	Console     map[string]any `yaml:"console,omitempty"`
	Connections []connSpec     `yaml:"connections"`
	Policies    []policySpec   `yaml:"policies"`
	Reviews     struct {
		Validity string              `yaml:"validity,omitempty"`
		Groups   map[string][]string `yaml:"groups,omitempty"`
		Notify   []map[string]any    `yaml:"notify,omitempty"`
	} `yaml:"reviews"`
	MCP struct {
		ReviewWait     string   `yaml:"review_wait,omitempty"`
		SessionIdle    string   `yaml:"session_idle,omitempty"`
		AllowedOrigins []string `yaml:"allowed_origins,omitempty"`
	} `yaml:"mcp,omitempty"`
	Masking map[string]any `yaml:"masking,omitempty"`
	Audit   map[string]any `yaml:"audit,omitempty"`
	Log     struct {
		Level string `yaml:"level"`
	} `yaml:"log"`
}

// sluiceConfig is a config file written for one test, with its data_dir.
type sluiceConfig struct {
	t       *testing.T
	path    string
	dataDir string
}

// newConfig writes a config with listeners on port 0, plaintext allowed
// from loopback, service tokens, SQLite state in a fresh data_dir and debug
// logs, plus the given connections and policies.
func newConfig(t *testing.T, conns []connSpec, pols []policySpec, edit ...func(*fileConfig)) *sluiceConfig {
	t.Helper()
	dir := t.TempDir()
	var fc fileConfig
	fc.DataDir = filepath.Join(dir, "data")
	fc.Listen.Postgres = "127.0.0.1:0"
	fc.Listen.HTTP = "127.0.0.1:0"
	fc.TLS.AllowPlaintextLoopback = true
	fc.State.Driver = "sqlite"
	fc.Auth.ServiceTokens = true
	fc.Log.Level = "debug"
	for i := range conns {
		if conns[i].Type == "" {
			conns[i].Type = "postgres"
		}
		if conns[i].SSLMode == "" {
			conns[i].SSLMode = "disable"
		}
	}
	fc.Connections = conns
	fc.Policies = pols
	for _, f := range edit {
		f(&fc)
	}
	data, err := yaml.Marshal(&fc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return &sluiceConfig{t: t, path: path, dataDir: fc.DataDir}
}

// appConfig is the common setup: connection "app" to database db on pg as
// role, granted to group "agents".
func appConfig(t *testing.T, pg *testkit.Postgres, db string, role testkit.Role) *sluiceConfig {
	t.Helper()
	return newConfig(t,
		[]connSpec{{Name: "app", Address: pg.Addr(), Database: db, User: role.Name, Password: role.Password}},
		[]policySpec{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}}})
}

// newDatabase creates a database of this test's own on the shared server.
func newDatabase(t *testing.T) (*testkit.Postgres, string) {
	t.Helper()
	pg := testkit.Shared(t)
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return pg, db
}

// cliResult is the outcome of one command.
type cliResult struct {
	stdout, stderr string
	code           int
}

// run runs the sluice CLI with args and --config.
func (c *sluiceConfig) run(args ...string) cliResult {
	c.t.Helper()
	return runSluice(c.t, nil, append(args, "--config", c.path)...)
}

// runSluice runs the sluice binary with args; env, when not nil, replaces
// the environment.
func runSluice(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sluice %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), cliDeadline, &stdout, &stderr)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(t, err)}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("run command: %v", err)
		return -1
	}
}

// issue mints a 10-minute token with `sluice token issue` and checks that
// stdout holds the token alone.
func (c *sluiceConfig) issue(subject string, groups ...string) string {
	c.t.Helper()
	args := []string{"token", "issue", "--subject", subject, "--ttl", "10m"}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("token issue: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	tok, ok := strings.CutSuffix(r.stdout, "\n")
	if !ok || strings.ContainsAny(tok, "\r\n \t") || !strings.HasPrefix(tok, "sluice_st_") {
		c.t.Fatalf("token issue: stdout must be the token alone on one line, got %q", r.stdout)
	}
	return tok
}

// outBuffer collects a process's output and signals every write. Safe for
// concurrent use.
type outBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	notify chan struct{}
}

func newOutBuffer() *outBuffer { return &outBuffer{notify: make(chan struct{}, 1)} }

func (o *outBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.b.Write(p)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *outBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// gateway is a running `sluice serve`.
type gateway struct {
	*sluiceConfig
	cmd            *exec.Cmd
	stdout, stderr *outBuffer
	pgAddr         string
	httpAddr       string
	exited         chan struct{} // closed when the process has exited
	waitErr        error         // valid after exited is closed

	stopOnce sync.Once
	stopCode int
	stopTook time.Duration

	// upstreamState, when set, says what the upstream database's
	// sessions are doing; a test that finds a query unanswered logs it.
	upstreamState func() string
}

// startGateway starts `sluice serve` with cfg and waits until it prints its
// listener addresses. A cleanup stops it with SIGTERM, requires exit code 0
// and dumps its output if the test failed.
func startGateway(t *testing.T, cfg *sluiceConfig) *gateway {
	t.Helper()
	g := &gateway{sluiceConfig: cfg, stdout: newOutBuffer(), stderr: newOutBuffer(), exited: make(chan struct{})}
	g.cmd = exec.Command(sluiceBin, "serve", "--config", cfg.path)
	g.cmd.Stdout, g.cmd.Stderr = g.stdout, g.stderr
	exited := func(err error) {
		g.waitErr = err
		close(g.exited)
	}
	if err := startWithTests(g.cmd, exited); err != nil {
		t.Fatalf("start sluice serve: %v", err)
	}
	running.add(t, g)
	t.Cleanup(func() {
		running.remove(t, g)
		if code, took := g.stop(); code != 0 {
			t.Errorf("sluice serve exited with code %d when stopped (took %s), want 0 after SIGTERM", code, took.Round(time.Millisecond))
		}
		if strings.Contains(g.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("sluice serve reported a data race (see its stderr below)")
		}
		if t.Failed() {
			g.dump()
		}
	})

	deadline := time.NewTimer(startDeadline)
	defer deadline.Stop()
	for {
		if pg, http, ok := parseAddrs(g.stdout.String()); ok {
			g.pgAddr, g.httpAddr = pg, http
			return g
		}
		select {
		case <-g.stdout.notify:
		case <-g.exited:
			if pg, http, ok := parseAddrs(g.stdout.String()); ok {
				g.pgAddr, g.httpAddr = pg, http
				return g
			}
			t.Fatalf("sluice serve exited before serving: %v", g.waitErr)
		case <-deadline.C:
			t.Fatalf("sluice serve printed no listener addresses within %s", startDeadline)
		}
	}
}

// parseAddrs finds the addresses serve prints after "sluice ... serving".
func parseAddrs(out string) (pg, http string, ok bool) {
	serving := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "sluice ") && strings.HasSuffix(line, " serving") {
			serving = true
			continue
		}
		if !serving {
			continue
		}
		// Only complete lines count: the scanner returns a partial last line.
		if !strings.Contains(out, line+"\n") {
			break
		}
		key, val, found := strings.Cut(strings.TrimSpace(line), ":")
		if !found {
			continue
		}
		switch key {
		case "postgres":
			pg = strings.TrimSpace(val)
		case "http":
			http = strings.TrimSpace(val)
		}
	}
	return pg, http, pg != "" && http != ""
}

// running lists the gateways of each test, by test name, so that a client
// that hangs (in the test or one of its subtests) can have them dump their
// goroutines.
var running = &gatewayList{byTest: map[string][]*gateway{}}

type gatewayList struct {
	mu     sync.Mutex
	byTest map[string][]*gateway
}

func (l *gatewayList) add(t *testing.T, g *gateway) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byTest[t.Name()] = append(l.byTest[t.Name()], g)
}

func (l *gatewayList) remove(t *testing.T, g *gateway) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gs := l.byTest[t.Name()]
	for i := range gs {
		if gs[i] == g {
			l.byTest[t.Name()] = append(gs[:i], gs[i+1:]...)
			break
		}
	}
	if len(l.byTest[t.Name()]) == 0 {
		delete(l.byTest, t.Name())
	}
}

// dumpStacks makes the gateways of t and of its parent tests print every
// goroutine and exit (SIGQUIT): a client hung, and the stacks, in the log
// dump of the failing test, say where sluice waits.
func (l *gatewayList) dumpStacks(t *testing.T) {
	var gs []*gateway
	l.mu.Lock()
	for name, list := range l.byTest {
		if t.Name() == name || strings.HasPrefix(t.Name(), name+"/") {
			gs = append(gs, list...)
		}
	}
	l.mu.Unlock()
	for _, g := range gs {
		g.signalStop(syscall.SIGQUIT)
	}
}

// stop sends SIGTERM and waits for the exit. It returns the exit code (-1
// when the process had to be killed) and how long the exit took. Only the
// first call acts.
func (g *gateway) stop() (code int, took time.Duration) {
	return g.signalStop(syscall.SIGTERM)
}

// signalStop sends sig and waits for the exit, killing the process after
// stopDeadline. Only the first call acts; later ones return its outcome.
func (g *gateway) signalStop(sig os.Signal) (code int, took time.Duration) {
	g.stopOnce.Do(func() {
		start := time.Now()
		_ = g.cmd.Process.Signal(sig)
		select {
		case <-g.exited:
			g.stopCode = g.cmd.ProcessState.ExitCode()
		case <-time.After(stopDeadline):
			_ = g.cmd.Process.Kill()
			<-g.exited
			g.stopCode = -1
		}
		g.stopTook = time.Since(start)
	})
	return g.stopCode, g.stopTook
}

// stopClean stops the gateway and fails the test unless it exits 0 in time.
func (g *gateway) stopClean() {
	g.t.Helper()
	if code, took := g.stop(); code != 0 {
		g.t.Fatalf("sluice serve: exit code %d %s after SIGTERM, want 0 within %s", code, took.Round(time.Millisecond), stopDeadline)
	}
}

// logs returns everything serve wrote to stdout and stderr so far.
func (g *gateway) logs() string { return g.stdout.String() + g.stderr.String() }

// dumpWaiting logs why, what the database's sessions do (when the test set
// upstreamState) and the test's own goroutines (clients, fault proxies),
// then makes the gateway print its goroutines as it exits (SIGQUIT): where
// everything waits, taken while a request is still unanswered.
func (g *gateway) dumpWaiting(t *testing.T, why string) {
	t.Logf("%s; where it waits:", why)
	if g.upstreamState != nil {
		t.Logf("the database's sessions: %s", g.upstreamState())
	}
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	t.Logf("the test's goroutines:\n%s", b.String())
	g.signalStop(syscall.SIGQUIT)
}

func (g *gateway) dump() {
	g.t.Logf("sluice serve stdout:\n%s", g.stdout.String())
	g.t.Logf("sluice serve stderr:\n%s", g.stderr.String())
}

// dsn is a URL connection string to connection conn at addr.
func dsn(addr, conn, token, sslmode string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(agentUser, token),
		Host:     addr,
		Path:     "/" + conn,
		RawQuery: url.Values{"sslmode": {sslmode}, "connect_timeout": {"10"}}.Encode(),
	}
	return u.String()
}

// pgxConfig is a pgx config whose context cancellation sends a
// CancelRequest (pgx's default only sets a deadline on the socket).
func pgxConfig(t *testing.T, addr, conn, token, sslmode string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn(addr, conn, token, sslmode))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 10 * time.Second}
	}
	return cfg
}

// connect opens a pgx connection through sluice; a cleanup closes it.
func connect(t *testing.T, addr, conn, token string) *pgx.Conn {
	t.Helper()
	c, err := tryConnect(t, addr, conn, token)
	if err != nil {
		t.Fatalf("connect to %q through sluice: %v", conn, err)
	}
	return c
}

// tryConnect opens a pgx connection through sluice, returning the error.
func tryConnect(t *testing.T, addr, conn, token string) (*pgx.Conn, error) {
	t.Helper()
	return connectConfig(t, pgxConfig(t, addr, conn, token, "disable"))
}

// connectConfig opens a pgx connection with cfg; a cleanup closes it.
func connectConfig(t *testing.T, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c, nil
}

// pgError returns the PostgreSQL error in err, or fails the test.
func pgError(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PostgreSQL error, got %T: %v", err, err)
	}
	return pe
}

// clientEnv is the environment of psql and pgbench: the test's, without
// any PG* variable, plus the connection settings for sluice at addr.
func clientEnv(addr, conn, token, sslmode string) []string {
	host, port, _ := net.SplitHostPort(addr)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "PGHOST="+host, "PGPORT="+port, "PGUSER="+agentUser, "PGDATABASE="+conn,
		"PGPASSWORD="+token, "PGSSLMODE="+sslmode, "PGCONNECT_TIMEOUT=10", "PGAPPNAME=sluice-e2e",
		"LC_ALL=C.UTF-8", "PGCLIENTENCODING=UTF8")
}

// client runs psql or pgbench against sluice at addr.
type client struct {
	t       *testing.T
	addr    string
	conn    string
	token   string
	sslmode string
	dir     string // working directory
}

func newClient(t *testing.T, addr, conn, token string) *client {
	return &client{t: t, addr: addr, conn: conn, token: token, sslmode: "disable", dir: t.TempDir()}
}

// with returns a copy of c that reports to t (a subtest's).
func (c *client) with(t *testing.T) *client {
	cp := *c
	cp.t = t
	return &cp
}

// run runs prog (psql or pgbench) with args and stdin.
func (c *client) run(stdin, prog string, args ...string) cliResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = clientEnv(c.addr, c.conn, c.token, c.sslmode)
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		running.dumpStacks(c.t)
		c.t.Fatalf("%s %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", prog, strings.Join(args, " "), cliDeadline, &stdout, &stderr)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(c.t, err)}
}

// psql runs psql without psqlrc, unaligned and tuples-only, with args.
func (c *client) psql(stdin string, args ...string) cliResult {
	c.t.Helper()
	return c.run(stdin, "psql", append([]string{"-X", "-A", "-t"}, args...)...)
}

// mustPsql runs psql with ON_ERROR_STOP=1 and fails the test on error.
func (c *client) mustPsql(stdin string, args ...string) string {
	c.t.Helper()
	r := c.psql(stdin, append([]string{"-v", "ON_ERROR_STOP=1"}, args...)...)
	if r.code != 0 {
		c.t.Fatalf("psql %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// stateStore opens the state store of a stopped gateway; a cleanup closes it.
func stateStore(t *testing.T, dataDir string) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "state.db"))
	if err != nil {
		t.Fatalf("open state store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sessionsOf returns the sessions of subject, oldest first, each with its
// statements.
func sessionsOf(t *testing.T, st *sqlite.DB, subject string) ([]*sluice.Session, map[string][]*sluice.StatementRecord) {
	t.Helper()
	ss, err := st.ListSessions(t.Context(), store.SessionFilter{Subject: subject, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	stmts := map[string][]*sluice.StatementRecord{}
	for _, s := range ss {
		if stmts[s.ID], err = st.ListStatements(t.Context(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	for i, j := 0, len(ss)-1; i < j; i, j = i+1, j-1 {
		ss[i], ss[j] = ss[j], ss[i]
	}
	return ss, stmts
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronization
	}
}

// activeSessions reads the gateway's sluice_postgres_sessions gauge from
// its /metrics endpoint.
func (g *gateway) activeSessions() (int, error) { return g.gauge("sluice_postgres_sessions") }

// waitIdle waits until no session is relaying, so that every client that
// has exited is recorded as such before the gateway stops.
func (g *gateway) waitIdle() {
	g.t.Helper()
	waitUntil(g.t, 10*time.Second, "the gateway to have no open session (sluice_postgres_sessions 0)", func() bool {
		n, err := g.activeSessions()
		return err == nil && n == 0
	})
}

// scanJournal calls fn with each record of dataDir's journal, in order,
// each result joined to its request as sluice's own readers join it
// (journal.Requests).
func scanJournal(dataDir string, fn func(*journal.Record) error) error {
	dir := filepath.Join(dataDir, "journal")
	reqs := journal.NewRequests(dir)
	return journal.Scan(dir, 1, func(r *journal.Record) error {
		if err := reqs.Join(&r.Event); err != nil {
			return err
		}
		return fn(r)
	})
}
