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
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit"
)

func main() {
	var (
		duration = flag.Duration("T", 20*time.Second, "duration of each pgbench run")
		clients  = flag.Int("c", 8, "pgbench clients")
		scale    = flag.Int("s", 10, "pgbench scale")
		connects = flag.Int("connects", 300, "sessions to open for the setup-time measurement")
	)
	flag.Parse()
	if err := run(*duration, *clients, *scale, *connects); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, clients, scale, connects int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "sluice-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Fprintln(os.Stderr, "starting PostgreSQL...")
	pg, err := testkit.Start(ctx, testkit.Options{})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := pg.CreateDatabase(ctx, "bench"); err != nil {
		return err
	}
	role := pg.SCRAMUser()

	fmt.Fprintln(os.Stderr, "building and starting sluice...")
	bin := filepath.Join(work, "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sluice").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	// Two gateways: the grant alone decides (no rules), and a policy with
	// rules that classify and decide every statement.
	plain, err := startSluice(bin, filepath.Join(work, "plain"), pg.Addr(), role, "")
	if err != nil {
		return err
	}
	defer plain.stop()
	ruled, err := startSluice(bin, filepath.Join(work, "ruled"), pg.Addr(), role, benchRules)
	if err != nil {
		return err
	}
	defer ruled.stop()
	masked, err := startSluice(bin, filepath.Join(work, "masked"), pg.Addr(), role, benchMask)
	if err != nil {
		return err
	}
	defer masked.stop()
	direct := target{name: "direct", addr: pg.Addr(), user: role.Name, password: role.Password}
	through := target{name: "sluice (no rules)", addr: plain.addr, user: "bench", password: plain.token}
	throughRules := target{name: "sluice (rules)", addr: ruled.addr, user: "bench", password: ruled.token}
	throughMask := target{name: "sluice (rules + masking)", addr: masked.addr, user: "bench", password: masked.token}
	targets := []target{direct}
	if addr, stop, err := startPgBouncer(pg.Addr(), role.Name, role.Password); err != nil {
		fmt.Fprintln(os.Stderr, "skipping PgBouncer:", err)
	} else {
		defer stop()
		targets = append(targets, target{name: "pgbouncer", addr: addr, user: "bench", password: ""})
	}
	targets = append(targets, through, throughRules, throughMask)

	fmt.Fprintln(os.Stderr, "pgbench -i...")
	if out, err := direct.pgbench(work, "-i", "-q", "-s", strconv.Itoa(scale)); err != nil {
		return fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}

	var rows []string
	for _, mode := range []string{"simple", "extended"} {
		for _, t := range targets {
			fmt.Fprintf(os.Stderr, "pgbench -S -M %s -c %d -T %s %s...\n", mode, clients, duration, t.name)
			r, err := t.select1(work, mode, clients, duration)
			if err != nil {
				return err
			}
			rows = append(rows, r.row(t.name, mode))
		}
	}
	fmt.Fprintln(os.Stderr, "100,000-row result...")
	if err := makeBigTable(ctx, direct); err != nil {
		return err
	}
	var big []string
	bigTargets := []target{direct, through, throughRules, throughMask}
	medians, err := bigResults(ctx, bigTargets, 21)
	if err != nil {
		return err
	}
	for i, t := range bigTargets {
		d := medians[i]
		big = append(big, fmt.Sprintf("| %s | %s | %.0f |", t.name, d.Round(100*time.Microsecond), float64(bigRows)/d.Seconds()))
	}
	fmt.Fprintln(os.Stderr, "session setup...")
	dSetup, err := direct.setup(ctx, connects)
	if err != nil {
		return err
	}
	sSetup, err := through.setup(ctx, connects)
	if err != nil {
		return err
	}

	host, _ := os.Hostname()
	fmt.Printf("Machine: %s, %d CPUs (%s), %s, PostgreSQL on the same host.\n", host, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Printf("Command: go run ./bench -T %s -c %d -s %d -connects %d\n\n", duration, clients, scale, connects)
	fmt.Println("| target | protocol | TPS | latency p50 | latency p99 |")
	fmt.Println("|---|---|---:|---:|---:|")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Println()
	fmt.Printf("| %d-row result (5 text columns, pgx, median of 21, targets in turn) | time | rows/s |\n", bigRows)
	fmt.Println("|---|---:|---:|")
	for _, r := range big {
		fmt.Println(r)
	}
	fmt.Println()
	fmt.Println("| session setup | p50 | p99 |")
	fmt.Println("|---|---:|---:|")
	fmt.Printf("| direct (SCRAM) | %s | %s |\n", dSetup.p(50), dSetup.p(99))
	fmt.Printf("| through sluice (token check + upstream SCRAM) | %s | %s |\n", sSetup.p(50), sSetup.p(99))
	return nil
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

// startSluice writes a config in dir and starts `sluice serve` with it.
func startSluice(bin, dir, upstream string, role testkit.Role, rules string) (*gateway, error) {
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
`, dir, upstream, role.Name, role.Password, rules)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	tokOut, err := exec.Command(bin, "token", "issue", "--config", cfgPath, "--subject", "bench", "--group", "bench", "--ttl", "2h").Output()
	if err != nil {
		return nil, fmt.Errorf("token issue: %w", err)
	}
	srv := exec.Command(bin, "serve", "--config", cfgPath)
	srv.Env = os.Environ() // SLUICE_CPUPROFILE passes through
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

type target struct{ name, addr, user, password string }

func (t target) args() []string {
	host, port, _ := strings.Cut(t.addr, ":")
	return []string{"-h", host, "-p", port, "-U", t.user}
}

func (t target) pgbench(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("pgbench", append(append(args, t.args()...), "bench")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PGPASSWORD="+t.password, "PGSSLMODE=disable")
	return cmd.CombinedOutput()
}

type result struct {
	tps      float64
	p50, p99 time.Duration
}

func (r result) row(name, mode string) string {
	return fmt.Sprintf("| %s | %s | %.0f | %s | %s |", name, mode, r.tps, r.p50, r.p99)
}

// select1 runs pgbench -S with per-transaction logging and reads TPS and
// latency percentiles.
func (t target) select1(work, mode string, clients int, d time.Duration) (result, error) {
	dir, err := os.MkdirTemp(work, "log-*")
	if err != nil {
		return result{}, err
	}
	out, err := t.pgbench(dir, "-S", "-M", mode, "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(int(d.Seconds())), "-l", "--log-prefix=tx")
	if err != nil {
		return result{}, fmt.Errorf("pgbench %s: %v\n%s", t.name, err, out)
	}
	var r result
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "tps = "); ok {
			f, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			r.tps = f
		}
		if strings.Contains(line, "failed transactions: ") && !strings.Contains(line, ": 0 ") {
			return r, fmt.Errorf("pgbench %s: %s", t.name, line)
		}
	}
	lat, err := readLatencies(dir)
	if err != nil {
		return r, err
	}
	r.p50, r.p99 = lat.p(50), lat.p(99)
	return r, nil
}

type durations []time.Duration

func (ds durations) p(q int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := (len(ds) - 1) * q / 100
	return ds[i].Round(time.Microsecond)
}

// readLatencies reads pgbench's per-transaction logs (latency in µs is the
// third field).
func readLatencies(dir string) (durations, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "tx*"))
	var ds durations
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 {
				continue
			}
			us, err := strconv.Atoi(fs[2])
			if err == nil {
				ds = append(ds, time.Duration(us)*time.Microsecond)
			}
		}
		fh.Close()
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) == 0 {
		return nil, fmt.Errorf("no pgbench latency logs in %s", dir)
	}
	return ds, nil
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
