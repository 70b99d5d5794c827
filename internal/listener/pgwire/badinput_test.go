package pgwire_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/internal/testkit"
)

// leakCheck fails the test if goroutines started during it outlive it. Call
// it first: its cleanup then runs after every other cleanup.
func leakCheck(t *testing.T) {
	testkit.Shared(t) // the shared server's goroutines outlive every test
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// rawConn is a hand-driven client for sending what real clients never send.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	fe   *pgproto3.Frontend
}

func (e *env) dialRaw() *rawConn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	e.t.Cleanup(func() { c.Close() })
	return &rawConn{t: e.t, conn: c, fe: pgproto3.NewFrontend(c, c)}
}

// login runs the startup phase in plaintext with token and waits for
// ReadyForQuery.
func (r *rawConn) login(token string) {
	r.t.Helper()
	r.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "agent", "database": "app"}})
	if err := r.fe.Flush(); err != nil {
		r.t.Fatal(err)
	}
	for {
		msg, err := r.fe.Receive()
		if err != nil {
			r.t.Fatalf("login: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.AuthenticationCleartextPassword:
			r.fe.Send(&pgproto3.PasswordMessage{Password: token})
			r.fe.Flush()
		case *pgproto3.ErrorResponse:
			r.t.Fatalf("login refused: %s %s", m.Code, m.Message)
		case *pgproto3.ReadyForQuery:
			return
		}
	}
}

// expectError reads until an ErrorResponse and returns it; then it expects
// the server to close the connection.
func (r *rawConn) expectFatal() *pgproto3.ErrorResponse {
	r.t.Helper()
	for {
		msg, err := r.fe.Receive()
		if err != nil {
			r.t.Fatalf("expected an ErrorResponse, got %v", err)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			if _, err := r.fe.Receive(); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				r.t.Fatalf("after FATAL the connection stays open: %v", err)
			}
			return e
		}
	}
}

// checkServing proves the gateway still serves a normal client.
func (e *env) checkServing() {
	e.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.dsn("app", e.token("healthy", "agents"), "require"))
	if err != nil {
		e.t.Fatalf("gateway stopped serving: %v", err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "select 1 + 1").Scan(&n); err != nil || n != 2 {
		e.t.Fatalf("gateway stopped serving: %d %v", n, err)
	}
}

func TestGarbageBeforeStartup(t *testing.T) {
	leakCheck(t)
	e := newEnv(t)
	r := e.dialRaw()
	r.conn.Write([]byte("GET / HTTP/1.1\r\nHost: sluice\r\n\r\n"))
	// The reply is a bare ErrorResponse (no startup happened).
	fe := r.expectFatal()
	if fe.Code != "08P01" || !strings.Contains(fe.Message, "invalid length of startup packet") {
		t.Fatalf("got %s %q", fe.Code, fe.Message)
	}
	e.checkServing()
}

func TestOversizedStartupAndMessages(t *testing.T) {
	leakCheck(t)
	e := newEnv(t, withMaxMessage(1<<20))
	// A startup packet claiming 1 GiB.
	r := e.dialRaw()
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], 1<<30)
	binary.BigEndian.PutUint32(b[4:], 196608)
	r.conn.Write(b[:])
	if fe := r.expectFatal(); fe.Code != "08P01" {
		t.Fatalf("startup 1 GiB: %s %q", fe.Code, fe.Message)
	}

	// A Query claiming 1 GiB after login: refused before any of it is read.
	r = e.dialRaw()
	r.login(e.token("big", "agents"))
	hdr := []byte{'Q', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[1:], 1<<30)
	r.conn.Write(hdr)
	fe := r.expectFatal()
	if fe.Code != "54000" || !strings.Contains(fe.Message, "over the limit") {
		t.Fatalf("1 GiB query: %s %q", fe.Code, fe.Message)
	}
	e.checkServing()
}

func TestTruncatedAndMalformedMessages(t *testing.T) {
	leakCheck(t)
	e := newEnv(t)
	cases := []struct {
		name string
		send []byte
		code string // expected FATAL code; "" means the server just closes
	}{
		{"truncated query then hang-up", []byte{'Q', 0, 0, 0, 100, 's', 'e', 'l'}, ""},
		{"negative length", []byte{'Q', 0xff, 0xff, 0xff, 0xf0}, "08P01"},
		{"length below 4", []byte{'Q', 0, 0, 0, 2}, "08P01"},
		{"unknown message type", []byte{'!', 0, 0, 0, 4}, "08P01"},
		{"query without terminator", []byte{'Q', 0, 0, 0, 7, 'a', 'b', 'c'}, "08P01"},
		{"bind with bad counts", []byte{'B', 0, 0, 0, 8, 0, 0, 0xff, 0xff}, "08P01"},
		{"password after login", []byte{'p', 0, 0, 0, 5, 0}, "08P01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.dialRaw()
			r.login(e.token("fuzzy", "agents"))
			r.conn.Write(tc.send)
			if tc.code == "" {
				r.conn.(*net.TCPConn).CloseWrite()
				if _, err := io.ReadAll(r.conn); err != nil {
					t.Fatalf("server did not close cleanly: %v", err)
				}
				return
			}
			if fe := r.expectFatal(); fe.Code != tc.code {
				t.Fatalf("got %s %q, want %s", fe.Code, fe.Message, tc.code)
			}
		})
	}
	// A truncated startup packet.
	r := e.dialRaw()
	r.conn.Write([]byte{0, 0, 0, 40, 0, 3, 0, 0, 'u', 's'})
	r.conn.(*net.TCPConn).CloseWrite()
	io.ReadAll(r.conn)
	e.checkServing()
}

// TestClientDisconnectMidQuery checks that a client vanishing mid-query ends
// the upstream query too, and the gateway carries on.
func TestClientDisconnectMidQuery(t *testing.T) {
	leakCheck(t)
	e := newEnv(t)
	r := e.dialRaw()
	r.login(e.token("leaver", "agents"))
	r.fe.Send(&pgproto3.Query{String: "select pg_sleep(60) /* leaver */"})
	r.fe.Flush()
	ctx := context.Background()
	active := func(state string) func() bool {
		return func() bool {
			sc, err := pgx.Connect(ctx, e.pg.SuperuserDSN(e.db))
			if err != nil {
				return false
			}
			defer sc.Close(ctx)
			var n int
			sc.QueryRow(ctx, "select count(*) from pg_stat_activity where query like '%/* leaver */' and state = 'active'").Scan(&n)
			return (state == "running") == (n == 1)
		}
	}
	waitFor(t, 10*time.Second, "the query to run upstream", active("running"))
	r.conn.Close()
	waitFor(t, 10*time.Second, "the upstream query to end", active("gone"))
	_, stmts := e.waitSession("leaver")
	// The query either ended with the cancel sluice sent, or was still
	// outstanding when the upstream connection closed.
	if len(stmts) != 1 || !(stmts[0].Status == "aborted" || strings.HasPrefix(stmts[0].Error, "57014")) {
		t.Fatalf("statements = %d, first %+v", len(stmts), *stmts[0])
	}
	e.checkServing()
}

// TestUpstreamDies checks that a session whose upstream connection dies gets
// a clear error and ends, while another session carries on.
func TestUpstreamDies(t *testing.T) {
	leakCheck(t)
	e := newEnv(t)
	ctx := context.Background()
	victim, other := e.connect(ctx), e.connect(ctx)
	var pid int
	if err := victim.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	e.superExec("select pg_terminate_backend($1)", pid)
	_, err := victim.Exec(ctx, "select 1")
	if err == nil {
		t.Fatal("query on a dead upstream succeeded")
	}
	if code := pgCode(err); code != "57P01" && !strings.Contains(err.Error(), "closed") && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("victim error: %v", err)
	}
	var n int
	if err := other.QueryRow(ctx, "select 5").Scan(&n); err != nil || n != 5 {
		t.Fatalf("other session: %d %v", n, err)
	}
}

// TestShutdownTellsClients checks that a gateway shutdown ends idle
// sessions at once with 57P01 instead of waiting for them.
func TestShutdownTellsClients(t *testing.T) {
	leakCheck(t)
	e := newEnv(t)
	r := e.dialRaw()
	r.login(e.token("idle", "agents"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %s with one idle session", d)
	}
	if fe := r.expectFatal(); fe.Code != "57P01" || !strings.Contains(fe.Message, "shutting down") {
		t.Fatalf("got %s %q", fe.Code, fe.Message)
	}
	sess, _ := e.waitSession("idle")
	if sess.EndReason != "gateway_shutdown" {
		t.Fatalf("end reason %q", sess.EndReason)
	}
}

// TestRevokedTokenEndsSession checks that revoking a service token ends the
// sessions already open with it, and only those.
func TestRevokedTokenEndsSession(t *testing.T) {
	leakCheck(t)
	e := newEnv(t)
	ctx := context.Background()
	tok, rec, err := e.tokens.Issue(ctx, "doomed", []string{"agents"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := e.dialRaw()
	r.login(tok)
	other := e.connect(ctx)
	if n := e.srv.Sweep(ctx, e.auth.Recheck); n != 0 {
		t.Fatalf("swept %d sessions with valid tokens", n)
	}
	if err := e.tokens.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Sweep(ctx, e.auth.Recheck); n != 1 {
		t.Fatalf("swept %d sessions, want the revoked one", n)
	}
	if fe := r.expectFatal(); fe.Code != "28P01" || !strings.Contains(fe.Message, "revoked") {
		t.Fatalf("got %s %q", fe.Code, fe.Message)
	}
	sess, _ := e.waitSession("doomed")
	if sess.EndReason != "credential_revoked" {
		t.Fatalf("end reason %q", sess.EndReason)
	}
	var n int
	if err := other.QueryRow(ctx, "select 3").Scan(&n); err != nil || n != 3 {
		t.Fatalf("other session: %d %v", n, err)
	}
}
