package testkit_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluicehq/sluice/internal/testkit"
)

// processGone reports whether pid has exited (a zombie counts as gone).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// waitFor polls cond every 10ms for up to 10s.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// activeQuery reports whether backend pid is running pg_sleep.
func activeQuery(t *testing.T, pg *testkit.Postgres, pid int) bool {
	conn, err := pg.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var active bool
	err = conn.QueryRow(t.Context(),
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", pid).Scan(&active)
	if err != nil {
		t.Fatal(err)
	}
	return active
}

func TestKillRestartKeepsDataAndPort(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgres(t)
	ctx := t.Context()
	port := pg.Port()
	// Several statements in one Exec are one transaction, which would commit
	// after the CHECKPOINT; with synchronous_commit=off that commit could
	// still be in WAL buffers when the server is killed.
	if err := pg.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before kill')"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}

	// A session open across the kill: its backend must die with the postmaster.
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}

	// And a busy one, in the middle of a long query.
	busy, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close(context.Background())
	var busyBackend int
	if err := busy.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&busyBackend); err != nil {
		t.Fatal(err)
	}
	sleeping := make(chan error, 1)
	go func() {
		_, err := busy.Exec(ctx, "SELECT pg_sleep(60)")
		sleeping <- err
	}()
	if err := waitFor(func() bool { return activeQuery(t, pg, busyBackend) }); err != nil {
		t.Fatal("long query never started")
	}

	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{backend, busyBackend} {
		if !processGone(pid) {
			t.Errorf("backend %d survived Kill", pid)
		}
	}
	select {
	case err := <-sleeping:
		if err == nil {
			t.Error("long query succeeded across Kill")
		}
	case <-time.After(10 * time.Second):
		t.Error("long query still running 10s after Kill")
	}
	if !portFree(pg.Addr()) {
		t.Errorf("port %d still held after Kill", port)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("session still answers after Kill")
	}
	conn.Close(ctx)
	if err := pg.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if pg.Port() != port {
		t.Errorf("port changed from %d to %d", port, pg.Port())
	}
	conn, err = pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatalf("data after Kill and Restart: %v", err)
	}
	if v != "before kill" {
		t.Errorf("kept = %q", v)
	}
	log, err := os.ReadFile(pg.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "not properly shut down") {
		t.Error("log does not show crash recovery after Kill")
	}
}

func TestShutdownAndRestart(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgres(t)
	ctx := t.Context()
	if err := pg.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("Exec succeeded on a shut down server")
	}
	if err := pg.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Restart of a running server shuts it down first.
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestRestartWaitsForPortThenFails(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgres(t)
	if err := pg.Shutdown(); err != nil {
		t.Fatal(err)
	}
	squatter, err := net.Listen("tcp", pg.Addr())
	if err != nil {
		t.Fatal(err)
	}
	err = pg.Restart(t.Context())
	squatter.Close()
	if err == nil {
		t.Fatal("Restart succeeded while the port was taken")
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("Restart error does not show the log: %v", err)
	}
	if err := pg.Restart(t.Context()); err != nil {
		t.Fatalf("Restart after the port was freed: %v", err)
	}
}

func TestStopIsIdempotentAndRemovesFiles(t *testing.T) {
	t.Parallel()
	pg, err := testkit.Start(t.Context(), testkit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Dir(pg.DataDir())
	for _, f := range []string{pg.DataDir(), pg.CAFile(), pg.LogFile()} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("before Stop: %v", err)
		}
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s after Stop: %v", base, err)
	}
	if !portFree(pg.Addr()) {
		t.Errorf("port %d still held after Stop", pg.Port())
	}
	if err := pg.Restart(t.Context()); !errors.Is(err, testkit.ErrStopped) {
		t.Errorf("Restart after Stop: %v, want ErrStopped", err)
	}
	if err := pg.Kill(); !errors.Is(err, testkit.ErrStopped) {
		t.Errorf("Kill after Stop: %v, want ErrStopped", err)
	}
}

func TestStopAfterKillRemovesFiles(t *testing.T) {
	t.Parallel()
	pg, err := testkit.Start(t.Context(), testkit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(pg.DataDir())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory after Stop: %v", err)
	}
}

func TestStartFailureReportsLogAndCleansUp(t *testing.T) {
	t.Parallel()
	parent, err := os.MkdirTemp("", "testkit-parent-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = testkit.Start(t.Context(), testkit.Options{
		BaseDir:  parent,
		Settings: map[string]string{"shared_buffers": "lots"},
	})
	if err == nil {
		t.Fatal("Start succeeded with an invalid setting")
	}
	if !strings.Contains(err.Error(), `invalid value for parameter "shared_buffers"`) {
		t.Errorf("error lacks the log tail: %v", err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("failed Start left %d entries in %s", len(left), parent)
	}
}

func TestStartFailsWithoutBinaries(t *testing.T) {
	t.Parallel()
	_, err := testkit.Start(t.Context(), testkit.Options{BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "postgresql package") {
		t.Fatalf("Start without binaries: %v, want advice to install postgresql", err)
	}
}

func TestOptionsApply(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgres(t,
		testkit.WithMaxConnections(50),
		testkit.WithSetting("work_mem", "8MB"),
		testkit.WithStartTimeout(time.Minute))
	conn, err := pgx.Connect(t.Context(), pg.SuperuserDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for setting, want := range map[string]string{"max_connections": "50", "work_mem": "8MB", "fsync": "off"} {
		var got string
		if err := conn.QueryRow(t.Context(), "SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", setting, got, want)
		}
	}
}
