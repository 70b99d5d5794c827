package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice/internal/testkit"
)

// authRequest returns the type of the server's first answer to a startup
// message for user, which names the authentication method it demands.
func authRequest(t *testing.T, addr, user string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{
		ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters:      map[string]string{"user": user, "database": "postgres"},
	})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%T", msg)
}

func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestRolesAuthenticateWithTheirMethod(t *testing.T) {
	t.Parallel()
	pg := testkit.Shared(t)
	ctx := t.Context()
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role testkit.Role
		want string // the server's authentication request
	}{
		{pg.SCRAMUser(), "*pgproto3.AuthenticationSASL"},
		{pg.MD5User(), "*pgproto3.AuthenticationMD5Password"},
		{pg.PlainUser(), "*pgproto3.AuthenticationCleartextPassword"},
		{pg.Superuser(), "*pgproto3.AuthenticationSASL"},
	}
	for _, tt := range tests {
		t.Run(tt.role.Name, func(t *testing.T) {
			if got := authRequest(t, pg.Addr(), tt.role.Name); got != tt.want {
				t.Errorf("server asked %s for %s, want %s", tt.role.Name, got, tt.want)
			}

			conn, err := pgx.Connect(ctx, pg.DSN(tt.role.Name, tt.role.Password, db, "disable"))
			if err != nil {
				t.Fatalf("connect as %s: %v", tt.role.Name, err)
			}
			defer conn.Close(context.Background())
			var user string
			if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
				t.Fatal(err)
			}
			if user != tt.role.Name {
				t.Errorf("current_user = %q, want %q", user, tt.role.Name)
			}
			// CREATE on schema public of a database made by CreateDatabase.
			table := "t_" + tt.role.Name
			if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id int); INSERT INTO "+table+" VALUES (1)"); err != nil {
				t.Fatalf("create table as %s: %v", tt.role.Name, err)
			}

			_, err = pgx.Connect(ctx, pg.DSN(tt.role.Name, tt.role.Password+"x", db, "disable"))
			if code := sqlstate(err); code != "28P01" {
				t.Errorf("wrong password for %s: err %v (SQLSTATE %q), want SQLSTATE 28P01", tt.role.Name, err, code)
			}
		})
	}
}

func TestCreateRole(t *testing.T) {
	t.Parallel()
	pg := testkit.Shared(t)
	ctx := t.Context()
	for _, method := range []testkit.AuthMethod{testkit.AuthSCRAM, testkit.AuthMD5, testkit.AuthPassword} {
		name := testkit.UniqueName(t)
		password := "it's a \\ secret"
		if err := pg.CreateRole(ctx, name, password, method); err != nil {
			t.Fatalf("CreateRole(%s): %v", method, err)
		}
		conn, err := pgx.Connect(ctx, pg.DSN(name, password, "postgres", "disable"))
		if err != nil {
			t.Fatalf("connect as %s role: %v", method, err)
		}
		var stored string
		err = conn.QueryRow(ctx, "SELECT 1").Scan(new(int))
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pg.Connect(ctx, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		err = c.QueryRow(ctx, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = $1", name).Scan(&stored)
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wantMD5 := method == testkit.AuthMD5; (stored == "md5") != wantMD5 {
			t.Errorf("%s role: stored password starts %q", method, stored)
		}
	}
	if err := pg.CreateRole(ctx, "nope", "pw", "trust"); err == nil {
		t.Error("CreateRole accepted method trust")
	}
}

func TestCreateDatabaseTwiceFails(t *testing.T) {
	t.Parallel()
	pg := testkit.Shared(t)
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	err := pg.CreateDatabase(t.Context(), db)
	if code := sqlstate(err); code != "42P04" {
		t.Fatalf("second CreateDatabase: %v (SQLSTATE %q), want 42P04", err, code)
	}
}

func TestSharedIsShared(t *testing.T) {
	t.Parallel()
	a, b := testkit.Shared(t), testkit.Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	conn, err := a.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	want := map[string]string{
		"max_connections": "300", "shared_buffers": "32MB", "fsync": "off",
		"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "ssl": "on",
	}
	for setting, v := range want {
		var got string
		if err := conn.QueryRow(t.Context(), "SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != v {
			t.Errorf("%s = %q, want %q", setting, got, v)
		}
	}
}
