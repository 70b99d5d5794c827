package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// startPgBouncer runs PgBouncer in session mode in front of the upstream,
// for comparison, and returns its address, its process id and a stop
// function. It runs as
// the postgres user when started as root (PgBouncer refuses root).
func startPgBouncer(upstream, role, password string) (string, int, func(), error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
		if err != nil {
			return "", 0, nil, fmt.Errorf("pgbouncer not installed (apt-get install pgbouncer)")
		}
	}
	// Its own directory: the postgres user cannot enter the 0700 work dir.
	dir, err := os.MkdirTemp("", "sluice-bench-pgbouncer-*")
	if err != nil {
		return "", 0, nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", 0, nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", 0, nil, err
	}
	host, upPort, _ := net.SplitHostPort(upstream)
	ini := fmt.Sprintf(`[databases]
bench = host=%s port=%s dbname=bench user=%s password=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s/users.txt
pool_mode = session
max_client_conn = 500
default_pool_size = 100
logfile = %s/pgbouncer.log
`, host, upPort, role, password, port, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return "", 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(`"bench" ""`+"\n"), 0o644); err != nil {
		return "", 0, nil, err
	}
	cmd := pin.command(pin.gateway, bin, filepath.Join(dir, "pgbouncer.ini"))
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", 0, nil, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", 0, nil, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return "", 0, nil, fmt.Errorf("pgbouncer did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener
	}
	return addr, cmd.Process.Pid, func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait(); os.RemoveAll(dir) }, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
