package testkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ErrStopped is returned by lifecycle methods called after Stop.
var ErrStopped = errors.New("testkit: postgres was stopped")

// Postgres is a PostgreSQL server running from a temporary directory it
// owns. Its methods are safe for concurrent use; the lifecycle methods
// (Shutdown, Kill, Restart, Stop) are serialized. Host, port, data
// directory and passwords never change after Start returns.
type Postgres struct {
	opts    Options
	binDir  string
	runAs   *runAs
	baseDir string // the temporary directory; removed by Stop
	dataDir string
	logFile string
	tls     tlsFiles
	port    int

	super, scram, md5, plain Role

	mu      sync.Mutex // guards the fields below
	proc    *process   // nil while not running
	stopped bool
}

// StartPostgres starts a server for tb and registers a cleanup that stops it
// and removes its files, logging the tail of its log if the test failed. It
// fails tb (never skips) when the server cannot start, including when
// PostgreSQL is not installed.
func StartPostgres(tb testing.TB, opts ...Option) *Postgres {
	tb.Helper()
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	s, err := Start(tb.Context(), o)
	if err != nil {
		tb.Fatalf("testkit: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("testkit: %s", s.logTail())
		}
		if err := s.Stop(); err != nil {
			tb.Errorf("testkit: %v", err)
		}
	})
	return s
}

// Start creates a cluster in a new temporary directory, starts it on a free
// port of 127.0.0.1 and returns once it accepts connections and the fixed
// roles exist. The caller owns the server and must call Stop. ctx bounds the
// whole start, and Options.StartTimeout each of its steps; a failed start
// leaves nothing behind (its error carries the tail of the server log).
func Start(ctx context.Context, opts Options) (_ *Postgres, err error) {
	o := opts.withDefaults()
	binDir, err := findBinDir(o.BinDir)
	if err != nil {
		return nil, err
	}
	r, err := lookupRunAs(o.OSUser)
	if err != nil {
		return nil, err
	}
	base, err := makeBaseDir(o.BaseDir, r)
	if err != nil {
		return nil, err
	}
	s := &Postgres{
		opts:    o,
		binDir:  binDir,
		runAs:   r,
		baseDir: base,
		dataDir: filepath.Join(base, "data"),
		logFile: filepath.Join(base, "postgres.log"),
		super:   Role{Name: superuserName, Password: randomPassword(), Method: AuthSCRAM},
		scram:   Role{Name: scramUserName, Password: randomPassword(), Method: AuthSCRAM},
		md5:     Role{Name: md5UserName, Password: randomPassword(), Method: AuthMD5},
		plain:   Role{Name: plainUserName, Password: randomPassword(), Method: AuthPassword},
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("start postgres: %w", err)
			if stopErr := s.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
	}()
	if err := os.Mkdir(s.dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := r.chown(s.dataDir); err != nil {
		return nil, err
	}
	if s.tls, err = writeTLS(base, r); err != nil {
		return nil, err
	}
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	if err := writeConfig(s.dataDir, serverSettings(o, s.tls)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	err = s.startLocked(ctx, true)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if err := s.setupRoles(setupCtx); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, s.logTail())
	}
	return s, nil
}

// initdb runs initdb, bounded by StartTimeout.
func (s *Postgres) initdb(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	return runInitdb(ctx, s.binDir, s.baseDir, s.dataDir, s.super.Name, s.super.Password, s.runAs)
}

// Host returns "127.0.0.1", the only address the server listens on.
func (s *Postgres) Host() string { return "127.0.0.1" }

// Port returns the server's TCP port. It stays the same across Restart.
func (s *Postgres) Port() int { return s.port }

// Addr returns "127.0.0.1:PORT".
func (s *Postgres) Addr() string { return net.JoinHostPort(s.Host(), strconv.Itoa(s.port)) }

// DataDir returns the data directory. It is owned by the postgres system
// user when the tests run as root.
func (s *Postgres) DataDir() string { return s.dataDir }

// LogFile returns the path of the server's log (its stderr), which survives
// Restart and is removed by Stop.
func (s *Postgres) LogFile() string { return s.logFile }

// CAFile returns the PEM file of the CA that signed the server certificate,
// for sslmode=verify-full (sslrootcert). The certificate names localhost,
// 127.0.0.1 and ::1.
func (s *Postgres) CAFile() string { return s.tls.caFile }

// ClientTLSConfig returns a new TLS client configuration that trusts only
// the server's CA and verifies the name serverName ("localhost" or
// "127.0.0.1").
func (s *Postgres) ClientTLSConfig(serverName string) *tls.Config {
	return clientTLSConfig(s.tls.caPEM, serverName)
}

// DSN returns a URL-form connection string for user and password to
// database db on 127.0.0.1. An empty sslmode means "disable". For
// "verify-ca" and "verify-full" the URL also carries sslrootcert=CAFile().
func (s *Postgres) DSN(user, password, db, sslmode string) string {
	if sslmode == "" {
		sslmode = "disable"
	}
	q := url.Values{"sslmode": {sslmode}}
	if sslmode == "verify-ca" || sslmode == "verify-full" {
		q.Set("sslrootcert", s.tls.caFile)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     s.Addr(),
		Path:     "/" + db,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// SuperuserDSN returns the DSN of the superuser sluice_super for database
// db, over TCP without TLS.
func (s *Postgres) SuperuserDSN(db string) string {
	return s.DSN(s.super.Name, s.super.Password, db, "disable")
}

// Connect opens a new connection as the superuser to database db. The
// caller owns the connection and must close it.
func (s *Postgres) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.SuperuserDSN(db))
	if err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", db, s.super.Name, err)
	}
	return conn, nil
}

// Exec runs sql with args as the superuser in database "postgres", on a
// connection of its own. Without args, sql may hold several statements.
func (s *Postgres) Exec(ctx context.Context, sql string, args ...any) error {
	return s.execIn(ctx, "postgres", sql, args...)
}

func (s *Postgres) execIn(ctx context.Context, db, sql string, args ...any) error {
	conn, err := s.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return err
	}
	return nil
}

// CreateDatabase creates database name, owned by the superuser. Every test
// role (the fixed ones and those from CreateRole) can connect to it and has
// ALL on its schema public.
func (s *Postgres) CreateDatabase(ctx context.Context, name string) error {
	if err := s.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
