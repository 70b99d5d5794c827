package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/testkit"
)

// gateway is the sluice under test.
type gateway struct {
	cmd              *exec.Cmd
	pgAddr, httpAddr string
	agent, approver  string // tokens
}

const soakConfig = `data_dir: %[1]s/data
listen: {postgres: 127.0.0.1:0, http: 127.0.0.1:0}
tls: {allow_plaintext_loopback: true}
auth: {service_tokens: true}
connections:
  - {name: soak, address: %[2]q, database: soak, user: %[3]s, password: %[4]q, sslmode: disable}
policies:
  - name: agents
    subjects: ["group:agents"]
    connections: [soak]
    mask: [pii, secrets]
    rules:
      - {when: "privileged || unknown", action: deny}
      - {when: read, action: allow}
      - {when: "destructive || where_missing", action: review, approvers: ["group:dba"], wait: 1m}
      - {when: "write || ddl", action: allow}
masking:
  key: soak-mask-key-0123456789abcdef0123
log: {level: warn}
`

// startGateway writes the config and starts sluice.
func startGateway(bin, work string, pg *testkit.Postgres) (*gateway, error) {
	role := pg.SCRAMUser()
	cfg := filepath.Join(work, "sluice.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, soakConfig, work, pg.Addr(), role.Name, role.Password), 0o600); err != nil {
		return nil, err
	}
	issue := func(subject, group string) (string, error) {
		out, err := exec.Command(bin, "token", "issue", "--config", cfg, "--subject", subject, "--group", group, "--ttl", "4h").Output()
		return strings.TrimSpace(string(out)), err
	}
	g := &gateway{}
	var err error
	if g.agent, err = issue("soak-agent", "agents"); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if g.approver, err = issue("soak-approver", "dba"); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	g.cmd = exec.Command(bin, "serve", "--config", cfg)
	g.cmd.Stderr = os.Stderr
	stdout, _ := g.cmd.StdoutPipe()
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "postgres: "); ok {
			g.pgAddr = v
		}
		if v, ok := strings.CutPrefix(line, "http: "); ok {
			g.httpAddr = strings.TrimSpace(v)
		}
		if g.pgAddr != "" && g.httpAddr != "" {
			go io.Copy(io.Discard, stdout)
			return g, nil
		}
	}
	g.stop()
	return nil, fmt.Errorf("sluice exited before listening")
}

func (g *gateway) stop() { g.cmd.Process.Signal(os.Interrupt); g.cmd.Wait() }

// dsn is the agent's connection string.
func (g *gateway) dsn() string {
	host, port, _ := strings.Cut(g.pgAddr, ":")
	return fmt.Sprintf("host=%s port=%s user=agent password='%s' dbname=soak sslmode=disable", host, port, g.agent)
}

// prepare creates the tables the load uses.
func prepare(ctx context.Context, g *gateway) error {
	c, err := pgx.Connect(ctx, g.dsn())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `create table accounts(id int primary key, owner text, email text, balance int);
		insert into accounts select g, 'owner ' || g, 'user' || g || '@example.com', 1000 from generate_series(1, 10000) g;
		create table events(id bigserial primary key, account int, note text, at timestamptz default now());
		create table scratch(id int)`)
	return err
}

// goroutines reads go_goroutines from the gateway's metrics.
func (g *gateway) goroutines() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := testkit.Gauge(ctx, "http://"+g.httpAddr+"/metrics", "go_goroutines")
	return int(f), err
}

// rssMB reads the gateway's resident memory.
func (g *gateway) rssMB() (float64, error) {
	kb, err := testkit.ProcStatusKiB(g.cmd.Process.Pid, "VmRSS")
	return float64(kb) / 1024, err
}
