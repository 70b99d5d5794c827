// Package testkit starts real PostgreSQL servers for tests, benchmarks and
// demos.
//
// Every server lives in its own temporary directory (data directory, TLS
// files, log file), listens on 127.0.0.1 only, on a free TCP port, and is
// tuned for throwaway use: small shared memory, fsync off, no Unix socket. The
// server is started from the binaries of the installed PostgreSQL (Debian's
// postgresql package on CI); when they are missing the start fails with a
// message saying what to install. Tests never skip for lack of PostgreSQL.
//
// When the test process runs as root, initdb and postgres run as the
// "postgres" system user (PostgreSQL refuses to run as root); otherwise they
// run as the current user.
//
// A test that needs a server of its own, for example to kill it:
//
//	pg := testkit.StartPostgres(t)
//	conn, err := pgx.Connect(ctx, pg.SuperuserDSN("postgres"))
//
// A package whose tests can share one server starts it lazily and stops it
// when the test binary ends:
//
//	func TestMain(m *testing.M) { testkit.RunMain(m) }
//
//	func TestSomething(t *testing.T) {
//		pg := testkit.Shared(t)
//		db := testkit.UniqueName(t)
//		if err := pg.CreateDatabase(ctx, db); err != nil {
//			t.Fatal(err)
//		}
//		dsn := pg.DSN(pg.SCRAMUser().Name, pg.SCRAMUser().Password, db, "disable")
//		...
//	}
//
// Login roles and authentication: see Role and CreateRole.
package testkit
