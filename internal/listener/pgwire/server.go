// Package pgwire is sluice's PostgreSQL front door. It speaks the
// PostgreSQL v3 wire protocol to clients (psql, drivers, pgbench), takes the
// agent's token from the password message, opens a gated session and an
// upstream connection with the credential sluice holds, and relays messages
// in both directions, asking the gate about every statement.
package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// Authenticator turns a token into an identity (the subset of authn used here).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*sluice.Identity, error)
}

// Dialer opens an authenticated upstream connection for a named connection.
type Dialer interface {
	Dial(ctx context.Context, connection string, params map[string]string) (*pgup.Conn, error)
}

// Server accepts PostgreSQL clients. Set its fields before Serve; it is safe
// for concurrent use afterwards.
type Server struct {
	Gate     *gate.Gate
	Authn    Authenticator
	Upstream Dialer
	// TLS is the listener's certificate configuration. Without it, clients
	// can connect only in plaintext from loopback, and only when
	// AllowPlaintextLoopback is set.
	TLS                    *tls.Config
	AllowPlaintextLoopback bool
	// MaxMessageBytes caps one client message (default 16 MiB).
	MaxMessageBytes int
	// StartupTimeout bounds TLS, startup and authentication (default 15s).
	StartupTimeout time.Duration
	// MaxSessions caps concurrent client connections (default 10000).
	MaxSessions int
	// CaptureRows and CaptureBytes bound the rows of each result kept for
	// the audit record; zero captures nothing.
	CaptureRows  int
	CaptureBytes int
	// Tables names the tables behind result columns, for masking rules
	// written as table.column. Without it only column names match.
	Tables gate.TableNamer
	Log    *slog.Logger

	once     sync.Once
	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*clientConn]struct{}
	sessions map[uint32]*session // by the process id sluice issued
	closing  bool
	slots    chan struct{}
	wg       sync.WaitGroup
}

// clientConn is one accepted connection; sess is set once its session runs.
type clientConn struct {
	raw  net.Conn
	sess atomic.Pointer[session]
}

func (srv *Server) init() {
	srv.once.Do(func() {
		if srv.MaxMessageBytes <= 0 {
			srv.MaxMessageBytes = 16 << 20
		}
		if srv.StartupTimeout <= 0 {
			srv.StartupTimeout = 15 * time.Second
		}
		if srv.MaxSessions <= 0 {
			srv.MaxSessions = 10000
		}
		if srv.Log == nil {
			srv.Log = slog.New(slog.DiscardHandler)
		}
		srv.lns = map[net.Listener]struct{}{}
		srv.conns = map[*clientConn]struct{}{}
		srv.sessions = map[uint32]*session{}
		srv.slots = make(chan struct{}, srv.MaxSessions)
	})
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("pgwire: server closed")

// Serve accepts connections on ln until Shutdown. Each connection is handled
// in its own goroutine; a failure in one never affects the others.
func (srv *Server) Serve(ln net.Listener) error {
	srv.init()
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	srv.lns[ln] = struct{}{}
	srv.mu.Unlock()
	var delay time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if srv.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(delay*2, 5*time.Millisecond), time.Second)
			srv.Log.Warn("accept failed; retrying", "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := &clientConn{raw: raw}
		if !srv.track(c) {
			raw.Close()
			return ErrServerClosed
		}
		go func() {
			defer srv.wg.Done()
			defer srv.untrack(c)
			defer raw.Close()
			srv.handle(c)
		}()
	}
}

func (srv *Server) isClosing() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

// track registers c; it fails once Shutdown has begun.
func (srv *Server) track(c *clientConn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		return false
	}
	srv.conns[c] = struct{}{}
	srv.wg.Add(1)
	return true
}

func (srv *Server) untrack(c *clientConn) {
	srv.mu.Lock()
	delete(srv.conns, c)
	srv.mu.Unlock()
}

// Shutdown stops accepting, tells every client in a session that the
// gateway is shutting down, closes connections still starting up, and waits
// for all handlers to finish or ctx to end (then it closes what is left).
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.init()
	srv.mu.Lock()
	srv.closing = true
	for ln := range srv.lns {
		ln.Close()
	}
	conns := make([]*clientConn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	for _, c := range conns {
		if s := c.sess.Load(); s != nil {
			s.shutdown()
		} else {
			c.raw.Close()
		}
	}
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.mu.Lock()
		for c := range srv.conns {
			c.raw.Close()
		}
		srv.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Sessions reports how many client sessions are relaying now.
func (srv *Server) Sessions() int {
	srv.init()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// Sweep ends every session whose identity check says it must end (a
// revoked or expired credential): the client is told why, the upstream
// connection closes, and the session is recorded as ended with the reason
// check returns. check must be safe for concurrent use; it is called
// without locks held.
func (srv *Server) Sweep(ctx context.Context, check func(ctx context.Context, id *sluice.Identity) (reason string, e *sluice.Error)) int {
	srv.init()
	srv.mu.Lock()
	sessions := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	n := 0
	for _, s := range sessions {
		id := s.gs.Info().Identity
		if reason, e := check(ctx, &id); e != nil {
			srv.Log.Info("ending session", "session", s.gs.ID(), "subject", id.Subject, "reason", reason)
			s.terminate(reason, e)
			n++
		}
	}
	return n
}
