package testkit_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sluicehq/sluice/internal/testkit"
)

func TestVerifyFull(t *testing.T) {
	t.Parallel()
	pg := testkit.Shared(t)
	ctx := t.Context()
	r := pg.SCRAMUser()

	conn, err := pgx.Connect(ctx, pg.DSN(r.Name, r.Password, "postgres", "verify-full"))
	if err != nil {
		t.Fatalf("verify-full: %v", err)
	}
	defer conn.Close(ctx)
	tc, ok := conn.PgConn().Conn().(*tls.Conn)
	if !ok {
		t.Fatalf("connection is %T, want *tls.Conn", conn.PgConn().Conn())
	}
	if st := tc.ConnectionState(); !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
		t.Errorf("TLS state: handshake %v, %d verified chains", st.HandshakeComplete, len(st.VerifiedChains))
	}
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Error("server says the session is not TLS")
	}

	// Plaintext is accepted too ("host" lines in pg_hba.conf).
	plain, err := pgx.Connect(ctx, pg.DSN(r.Name, r.Password, "postgres", "disable"))
	if err != nil {
		t.Fatalf("sslmode=disable: %v", err)
	}
	defer plain.Close(ctx)
	if _, isTLS := plain.PgConn().Conn().(*tls.Conn); isTLS {
		t.Error("sslmode=disable gave a TLS connection")
	}
}

func TestClientTLSConfigChecksName(t *testing.T) {
	t.Parallel()
	pg := testkit.Shared(t)
	ctx := t.Context()
	r := pg.SCRAMUser()
	for _, tt := range []struct {
		name   string
		wantOK bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"db.example.com", false},
	} {
		cfg, err := pgx.ParseConfig(pg.DSN(r.Name, r.Password, "postgres", "disable"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLSConfig = pg.ClientTLSConfig(tt.name)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if tt.wantOK {
			if err != nil {
				t.Errorf("server name %s: %v", tt.name, err)
				continue
			}
			conn.Close(ctx)
			continue
		}
		if err == nil {
			conn.Close(ctx)
			t.Errorf("server name %s: connected, want a certificate error", tt.name)
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("server name %s: %v, want a certificate error", tt.name, err)
		}
	}
}
