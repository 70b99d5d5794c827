package pgwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// fuzzAuth accepts exactly one token.
type fuzzAuth struct{}

func (fuzzAuth) Authenticate(_ context.Context, tok string) (*sluice.Identity, error) {
	if tok == "good-token" {
		return &sluice.Identity{Subject: "fuzzer", Groups: []string{"agents"}}, nil
	}
	return nil, sluice.Errorf(sluice.EUnauthenticated, "token is not valid")
}

// fuzzDialer has no upstream: sessions end with a connection failure.
type fuzzDialer struct{}

func (fuzzDialer) Dial(context.Context, string, map[string]string) (*pgup.Conn, error) {
	return nil, errors.New("no upstream in fuzzing")
}

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, *sluice.Event) error { return nil }

func fuzzServer(t testing.TB) *Server {
	pol, err := policy.New([]config.Policy{{Name: "p", Subjects: []string{"group:agents"}, Connections: []string{"app"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{
		Gate:  gate.New(pol, map[string]sluice.ConnType{"app": sluice.ConnPostgres}, nopRecorder{}, nil),
		Authn: fuzzAuth{}, Upstream: fuzzDialer{}, AllowPlaintextLoopback: true,
		StartupTimeout: 2 * time.Second, MaxMessageBytes: 1 << 16,
	}
	srv.init()
	return srv
}

// startupPacket encodes a startup-phase packet.
func startupPacket(code uint32, body []byte) []byte {
	b := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	binary.BigEndian.PutUint32(b[4:], code)
	return append(b, body...)
}

func params(kv ...string) []byte {
	var b bytes.Buffer
	for _, s := range kv {
		b.WriteString(s)
		b.WriteByte(0)
	}
	b.WriteByte(0)
	return b.Bytes()
}

// scriptConn is a client connection that sends a fixed script, then EOF,
// and records what the server writes. Its address is on loopback, so
// plaintext startup is allowed.
type scriptConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5433}
}
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzStartup feeds arbitrary bytes to the startup and authentication path.
// The server must never panic, must finish within its startup timeout, and
// must answer only with well-formed protocol messages.
func FuzzStartup(f *testing.F) {
	pw := func(s string) []byte {
		b, _ := (&pgproto3.PasswordMessage{Password: s}).Encode(nil)
		return b
	}
	start := startupPacket(196608, params("user", "agent", "database", "app"))
	f.Add(start)
	f.Add(append(append([]byte{}, start...), pw("good-token")...))
	f.Add(append(append([]byte{}, start...), pw("bad")...))
	f.Add(append(startupPacket(80877103, nil), start...))                               // SSLRequest then startup
	f.Add(append(startupPacket(80877104, nil), start...))                               // GSSENCRequest then startup
	f.Add(startupPacket(80877102, []byte{0, 0, 0, 1, 1, 2, 3, 4}))                      // CancelRequest
	f.Add(startupPacket(196610, params("user", "a", "database", "app", "_pq_.x", "1"))) // protocol 3.2 + option
	f.Add(startupPacket(196608, params("user", "a", "replication", "database")))
	f.Add(startupPacket(131072, nil)) // protocol 2
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0, 0, 0, 8})
	f.Add(append(append([]byte{}, start...), 'p', 0, 0, 0, 4))
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := fuzzServer(t)
		c := &scriptConn{in: bytes.NewReader(in)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.handle(&clientConn{raw: c})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("handler did not return")
		}
		checkBackendStream(t, c.out.Bytes())
	})
}

// checkBackendStream checks that out is a sequence of well-formed backend
// messages, allowing the single-byte answers to SSL and GSS requests.
func checkBackendStream(t *testing.T, out []byte) {
	for len(out) > 0 {
		if out[0] == 'N' && (len(out) == 1 || out[1] != 0) || out[0] == 'S' && len(out) == 1 {
			out = out[1:]
			continue
		}
		if len(out) < 5 {
			t.Fatalf("truncated message %q", out)
		}
		n := int(binary.BigEndian.Uint32(out[1:5]))
		if n < 4 || len(out) < 1+n {
			t.Fatalf("bad message length %d in %q", n, out)
		}
		switch out[0] {
		case 'R', 'E', 'v', 'N', 'S', 'K', 'Z':
		default:
			t.Fatalf("unexpected message type %q", out[0])
		}
		if out[0] == 'E' {
			var e pgproto3.ErrorResponse
			if err := e.Decode(out[5 : 1+n]); err != nil || e.Code == "" || e.Severity != "FATAL" {
				t.Fatalf("bad error response %+v %v", e, err)
			}
		}
		out = out[1+n:]
	}
}
