// Command bench measures what sluice costs on the hot path: it starts a
// throwaway PostgreSQL and the sluice binary, runs the same pgbench load
// directly and through sluice, measures session setup time, and prints a
// Markdown report. Run it with `make bench-core` (or `go run ./bench`).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit"
)

func main() {
	var o options
	flag.DurationVar(&o.duration, "T", 10*time.Second, "time each target runs pgbench at each point of the matrix")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds each point's time is split into, the targets taking turns in each")
	flag.StringVar(&o.clients, "clients", "1,8,32", "pgbench client counts")
	flag.IntVar(&o.scale, "s", 10, "pgbench scale")
	flag.IntVar(&o.connects, "connects", 200, "sessions to open for the setup-time measurement")
	flag.IntVar(&o.idle, "idle", 1000, "idle sessions to hold open for the memory measurement")
	flag.IntVar(&o.bigMB, "big", 1024, "size in MB of the large result streamed through sluice")
	flag.StringVar(&o.workloads, "workloads", "select-only,mixed", "pgbench workloads to run: select-only, mixed")
	flag.BoolVar(&o.pin, "pin", false, "pin PostgreSQL and pgbench to CPU 0 and the gateways to CPU 1 (a gateway with a core of its own)")
	flag.BoolVar(&o.variants, "variants", false, "also measure gateways without rules and without masking, and the 100,000-row result")
	flag.StringVar(&o.abEnv, "ab", "", "also run the full gateway with this KEY=VALUE in its environment, as one more target of the same run (an A/B comparison)")
	flag.BoolVar(&o.pgState, "pgstate", false, "also measure the full gateway with its state (sessions, search index) in PostgreSQL, a database on the benchmark's server")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	duration                     time.Duration
	clients, workloads           string
	scale, connects, idle, bigMB int
	rounds                       int
	variants, pin, pgState       bool
	abEnv                        string
}

// workload is one pgbench load.
type workload struct {
	name string
	args []string
}

var workloads = []workload{
	{"select-only", []string{"-S"}},
	// Four read transactions to one read/write one (pgbench's simple-update:
	// an UPDATE, a SELECT and an INSERT).
	{"mixed 80/20", []string{"-b", "select-only@4", "-b", "simple-update@1"}},
}

func run(o options) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "sluice-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	clients, err := parseInts(o.clients)
	if err != nil {
		return err
	}
	if o.rounds < 1 || o.duration < time.Second {
		return fmt.Errorf("-rounds must be 1 or more and -T a second or more")
	}
	if o.pin {
		if runtime.NumCPU() < 2 {
			return fmt.Errorf("-pin needs two CPUs or more")
		}
		pin = pinning{db: "0", gateway: "1"}
		if n := runtime.NumCPU(); n > 2 {
			pin.gateway = "1-" + strconv.Itoa(n-1)
		}
	}

	fmt.Fprintln(os.Stderr, "starting PostgreSQL...")
	pg, err := testkit.Start(ctx, testkit.Options{MaxConnections: o.idle + 200})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if o.pin {
		pid, err := postmasterPID(pg.DataDir())
		if err != nil {
			return err
		}
		if err := pinTree(pid, pin.db); err != nil {
			return err
		}
	}
	if err := pg.CreateDatabase(ctx, "bench"); err != nil {
		return err
	}
	role := pg.SCRAMUser()

	fmt.Fprintln(os.Stderr, "building and starting sluice...")
	bin := filepath.Join(work, "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sluice").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	// The gateway as deployed: journal in batch mode, policy rules that
	// classify and decide every statement, and masking.
	full, err := startSluice(bin, filepath.Join(work, "full"), pg.Addr(), role, benchMask, "")
	if err != nil {
		return err
	}
	defer full.stop()
	direct := target{name: "direct", addr: pg.Addr(), user: role.Name, password: role.Password}
	sluiceAll := full.target("sluice (journal, rules, masking)")
	targets := []target{direct}
	if addr, pid, stop, err := startPgBouncer(pg.Addr(), role.Name, role.Password); err != nil {
		fmt.Fprintln(os.Stderr, "skipping PgBouncer:", err)
	} else {
		defer stop()
		targets = append(targets, target{name: "pgbouncer (session)", addr: addr, user: "bench", password: "", pid: pid})
	}
	targets = append(targets, sluiceAll)
	if o.abEnv != "" {
		if !strings.Contains(o.abEnv, "=") {
			return fmt.Errorf("-ab wants KEY=VALUE, not %q", o.abEnv)
		}
		g, err := startSluice(bin, filepath.Join(work, "ab"), pg.Addr(), role, benchMask, "", o.abEnv)
		if err != nil {
			return err
		}
		defer g.stop()
		targets = append(targets, g.target("sluice (journal, rules, masking; "+o.abEnv+")"))
	}
	if o.pgState {
		if err := pg.CreateDatabase(ctx, "sluice_state"); err != nil {
			return err
		}
		state := fmt.Sprintf("state: {driver: postgres, dsn: %q}", pg.DSN(role.Name, role.Password, "sluice_state", "disable"))
		g, err := startSluice(bin, filepath.Join(work, "pgstate"), pg.Addr(), role, benchMask, state)
		if err != nil {
			return err
		}
		defer g.stop()
		targets = append(targets, g.target("sluice (journal, rules, masking; state in PostgreSQL)"))
	}
	var variants []target
	if o.variants {
		plain, err := startSluice(bin, filepath.Join(work, "plain"), pg.Addr(), role, "", "")
		if err != nil {
			return err
		}
		defer plain.stop()
		ruled, err := startSluice(bin, filepath.Join(work, "ruled"), pg.Addr(), role, benchRules, "")
		if err != nil {
			return err
		}
		defer ruled.stop()
		variants = []target{plain.target("sluice (journal only)"), ruled.target("sluice (journal, rules)")}
		targets = append(targets, variants...)
	}

	fmt.Fprintln(os.Stderr, "pgbench -i...")
	if out, err := direct.pgbench(work, "-i", "-q", "-s", strconv.Itoa(o.scale)); err != nil {
		return fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	rep := &report{}
	for _, w := range workloads {
		if !slices.Contains(strings.Split(o.workloads, ","), strings.Fields(w.name)[0]) {
			continue
		}
		for _, c := range clients {
			results, err := point(work, targets, w, c, o.duration, o.rounds)
			if err != nil {
				return err
			}
			for i, t := range targets {
				rep.rows = append(rep.rows, results[i].row(t.name, w.name, c, results[0]))
			}
		}
	}

	fmt.Fprintf(os.Stderr, "%d MB result...\n", o.bigMB)
	stream, err := bigStream(ctx, bin, work, pg, role, direct, o.bigMB)
	if err != nil {
		return err
	}
	rep.stream = stream

	fmt.Fprintf(os.Stderr, "%d idle sessions...\n", o.idle)
	idle, err := idleSessions(ctx, bin, work, pg, role, o.idle)
	if err != nil {
		return err
	}
	rep.idle = idle

	if o.variants {
		fmt.Fprintln(os.Stderr, "100,000-row result...")
		if err := makeBigTable(ctx, direct); err != nil {
			return err
		}
		bigTargets := append([]target{direct, sluiceAll}, variants...)
		medians, err := bigResults(ctx, bigTargets, 21)
		if err != nil {
			return err
		}
		for i, t := range bigTargets {
			d := medians[i]
			rep.big = append(rep.big, fmt.Sprintf("| %s | %s | %.0f |", t.name, d.Round(100*time.Microsecond), float64(bigRows)/d.Seconds()))
		}
	}

	fmt.Fprintln(os.Stderr, "session setup...")
	if rep.setupDirect, err = direct.setup(ctx, o.connects); err != nil {
		return err
	}
	if rep.setupSluice, err = sluiceAll.setup(ctx, o.connects); err != nil {
		return err
	}
	rep.print(o)
	return nil
}

// parseInts parses "1,8,32".
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad client count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchRules is a realistic policy: deny the dangerous, allow reads, hold
// destructive writes, allow the rest.
const benchRules = `
    rules:
      - {when: "privileged || unknown", action: deny}
      - {when: read, action: allow}
      - {when: "destructive || where_missing", action: review, approvers: ["group:dba"]}
      - {when: "write", action: allow}
`

// benchMask adds masking to benchRules: the pii and secrets detectors and
// a column rule.
const benchMask = benchRules + `    mask: [pii, secrets]
masking:
  key: bench-mask-key-0123456789abcdef
  rules: [{columns: ["*.ssn"], strategy: partial}]
`

// gateway is a running sluice binary.
type gateway struct {
	addr, token string
	cmd         *exec.Cmd
}

func (g *gateway) stop() { g.cmd.Process.Signal(os.Interrupt); g.cmd.Wait() }

// pid is the gateway's process id.
func (g *gateway) pid() int { return g.cmd.Process.Pid }

// target is the gateway as a pgbench target named name, its process
// measured.
func (g *gateway) target(name string) target {
	return target{name: name, addr: g.addr, user: "bench", password: g.token, pid: g.pid()}
}

// startSluice writes a config in dir and starts `sluice serve` with it,
// with env added to the benchmark's own environment. state, when not
// empty, is the config's state line (the embedded SQLite store by
// default).
func startSluice(bin, dir, upstream string, role testkit.Role, rules, state string, env ...string) (*gateway, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "sluice.yaml")
	cfg := fmt.Sprintf(`data_dir: %s/data
listen: {postgres: 127.0.0.1:0, http: ""}
tls: {allow_plaintext_loopback: true}
auth: {service_tokens: true}
connections:
  - {name: bench, address: %q, database: bench, user: %s, password: %q, sslmode: disable}
policies:
  - name: bench
    subjects: ["group:bench"]
    connections: [bench]%s
log: {level: warn}
%s
`, dir, upstream, role.Name, role.Password, rules, state)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	tokOut, err := exec.Command(bin, "token", "issue", "--config", cfgPath, "--subject", "bench", "--group", "bench", "--ttl", "2h").Output()
	if err != nil {
		return nil, fmt.Errorf("token issue: %w", err)
	}
	srv := pin.command(pin.gateway, bin, "serve", "--config", cfgPath)
	srv.Env = append(os.Environ(), env...) // SLUICE_CPUPROFILE passes through
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return nil, err
	}
	g := &gateway{token: strings.TrimSpace(string(tokOut)), cmd: srv}
	if g.addr, err = readAddr(stdout); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

// readAddr waits for serve's "postgres: ADDR" line.
func readAddr(r interface{ Read([]byte) (int, error) }) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "postgres: "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return addr, nil
		}
	}
	return "", fmt.Errorf("sluice exited before listening")
}

// target is what pgbench connects to; pid is the gateway's process, 0 for
// PostgreSQL itself.
type target struct {
	name, addr, user, password string
	pid                        int
}

func (t target) args() []string {
	host, port, _ := strings.Cut(t.addr, ":")
	return []string{"-h", host, "-p", port, "-U", t.user}
}

func (t target) pgbench(dir string, args ...string) ([]byte, error) {
	cmd := pin.command(pin.db, "pgbench", append(append(args, t.args()...), "bench")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PGPASSWORD="+t.password, "PGSSLMODE=disable")
	return cmd.CombinedOutput()
}

// setup opens n sessions one after another and returns their setup times.
func (t target) setup(ctx context.Context, n int) (durations, error) {
	dsn := fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=bench sslmode=disable",
		strings.Split(t.addr, ":")[0], strings.Split(t.addr, ":")[1], t.user, t.password)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	ds := make(durations, 0, n)
	for range n {
		start := time.Now()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", t.name, err)
		}
		ds = append(ds, time.Since(start))
		c.Close(ctx)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds, nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}
