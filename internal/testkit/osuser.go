package testkit

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the system user that runs initdb and postgres.
type runAs struct {
	uid, gid int
	// cred switches the child process to uid/gid; nil when the child runs as
	// the current user.
	cred *syscall.Credential
}

// lookupRunAs returns the current user, or osUser when the process runs as
// root, because PostgreSQL refuses to run as root.
func lookupRunAs(osUser string) (*runAs, error) {
	if os.Geteuid() != 0 {
		return &runAs{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(osUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as system user %q, which was not found "+
			"(install Debian's postgresql package, which creates it): %w", osUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", osUser, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", osUser, u.Gid, err)
	}
	return &runAs{
		uid:  uid,
		gid:  gid,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
	}, nil
}

// chown gives path to the run-as user; it does nothing when the children run
// as the current user.
func (r *runAs) chown(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Chown(path, r.uid, r.gid)
}

// makeBaseDir creates the server's temporary directory, mode 0755, under
// parent (default os.TempDir()). When the children run as another user, every
// ancestor must be traversable by others; /tmp is the fallback.
func makeBaseDir(parent string, r *runAs) (string, error) {
	if parent == "" {
		parent = os.TempDir()
		if r.cred != nil && !othersCanTraverse(parent) && othersCanTraverse("/tmp") {
			parent = "/tmp"
		}
	}
	if r.cred != nil && !othersCanTraverse(parent) {
		return "", fmt.Errorf("temporary directory %s is not traversable by the postgres user; set Options.BaseDir", parent)
	}
	dir, err := os.MkdirTemp(parent, "sluice-pg-*")
	if err != nil {
		return "", fmt.Errorf("create temporary directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create temporary directory: %w", err)
	}
	return dir, nil
}

// othersCanTraverse reports whether dir and all its ancestors have the
// execute bit for others.
func othersCanTraverse(dir string) bool {
	p, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(p)
		if parent == p {
			return true
		}
		p = parent
	}
}
