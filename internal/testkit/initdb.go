package testkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// childEnv is the whole environment of initdb and postgres: nothing from the
// test process (PGDATA, PGPORT, locale) leaks into the server.
func childEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
}

// runInitdb creates an empty cluster in dataDir whose bootstrap superuser is
// superuser with the given password. dataDir must exist and be owned by the
// run-as user; cwd is a directory that user can enter.
func runInitdb(ctx context.Context, binDir, cwd, dataDir, superuser, password string, r *runAs) error {
	pwFile := filepath.Join(cwd, "initdb.pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("initdb: write password file: %w", err)
	}
	defer os.Remove(pwFile)
	if err := r.chown(pwFile); err != nil {
		return fmt.Errorf("initdb: chown password file: %w", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"--pgdata="+dataDir,
		"--username="+superuser,
		"--pwfile="+pwFile,
		"--auth=scram-sha-256",
		"--encoding=UTF8",
		"--no-locale",
		"--no-sync",
	)
	cmd.Dir = cwd
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}
