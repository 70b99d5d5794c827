package pgwire

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
)

// handle runs one client connection from startup to the end of its session.
func (srv *Server) handle(c *clientConn) {
	deadline := time.Now().Add(srv.StartupTimeout)
	c.raw.SetDeadline(deadline)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	st := &startup{conn: c.raw, r: bufio.NewReaderSize(c.raw, 4096)}
	if err := srv.readStartup(ctx, st); err != nil {
		srv.startupFailed(st, err)
		return
	}
	if st.cancel != nil {
		srv.cancelRequest(st.cancel)
		return
	}
	select {
	case srv.slots <- struct{}{}:
		defer func() { <-srv.slots }()
	default:
		srv.fatal(st.conn, errStartup(sluice.EUnavailable, "53300", "sorry, too many clients already"))
		return
	}
	addr := clientAddr(c.raw)
	info := gate.SessionInfo{Connection: st.params["database"], Protocol: sluice.ProtoPostgres, ClientAddr: addr}
	if info.Connection == "" {
		info.Connection = st.params["user"]
	}
	if !st.tls && !(srv.AllowPlaintextLoopback && addr.Addr().Unmap().IsLoopback()) {
		srv.fatal(st.conn, errStartup(sluice.EUnauthenticated, "28000",
			"sluice requires an encrypted connection: connect with sslmode=require or verify-full"))
		return
	}
	if v, ok := st.params["replication"]; ok && v != "false" && v != "off" && v != "0" && v != "no" {
		srv.fatal(st.conn, errStartup(sluice.EInvalid, "0A000", "replication connections are not supported through sluice"))
		return
	}
	if st.minor > 0 || len(st.unknown) > 0 {
		w := newMsgWriter(st.conn)
		w.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: st.unknown})
		if w.flush() != nil {
			return
		}
	}
	token, err := readPassword(st)
	if err != nil {
		srv.startupFailed(st, err)
		return
	}
	id, err := srv.Authn.Authenticate(ctx, token)
	if err != nil {
		e := sluice.AsError(err)
		srv.Gate.AuthFailure(ctx, info, e.Message)
		srv.Log.Info("authentication failed", "client", addr, "connection", info.Connection, "err", err)
		srv.fatal(st.conn, &sluice.Error{Code: sluice.EUnauthenticated, SQLStateCode: "28P01",
			Message: "token authentication failed: " + e.Message})
		return
	}
	info.Identity = id
	gs, err := srv.Gate.OpenSession(ctx, info)
	if err != nil {
		srv.Log.Info("session refused", "subject", id.Subject, "client", addr, "connection", info.Connection, "err", err)
		srv.fatal(st.conn, sluice.AsError(err))
		return
	}
	up, err := srv.Upstream.Dial(ctx, info.Connection, upstreamParams(st.params, gs.ReadOnly()))
	if err != nil {
		srv.Log.Error("upstream connect failed", "session", gs.ID(), "connection", info.Connection, "err", err)
		gs.Close(context.Background(), "upstream_unavailable")
		srv.fatal(st.conn, errStartup(sluice.EUnavailable, "08006",
			"sluice could not connect to the database behind connection %q; ask an operator to check the gateway log", info.Connection))
		return
	}
	c.raw.SetDeadline(time.Time{})

	s := newSession(srv, c, st, gs, up)
	if !srv.register(s) {
		up.Close()
		gs.Close(context.Background(), sluice.EndShutdown)
		srv.fatal(st.conn, errStartup(sluice.EUnavailable, "57P01", "terminating connection because sluice is shutting down"))
		return
	}
	defer srv.unregister(s)
	c.sess.Store(s)
	srv.Log.Info("session started", "session", gs.ID(), "subject", id.Subject, "connection", info.Connection, "client", addr)
	reason := s.run()
	srv.Log.Info("session ended", "session", gs.ID(), "reason", reason)
}

// startupFailed reports a startup error to the client when it is one the
// client should see, and logs it.
func (srv *Server) startupFailed(st *startup, err error) {
	var se *sluice.Error
	if errors.As(err, &se) {
		srv.Log.Info("startup rejected", "client", st.conn.RemoteAddr(), "err", err)
		srv.fatal(st.conn, se)
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return // a client that hangs up before authenticating (psql does, to prompt)
	}
	srv.Log.Debug("startup failed", "client", st.conn.RemoteAddr(), "err", err)
}

// fatal sends a FATAL ErrorResponse; the caller closes the connection.
func (srv *Server) fatal(c net.Conn, e *sluice.Error) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	w := newMsgWriter(c)
	w.send(errorResponse("FATAL", e))
	w.flush()
}

// errorResponse builds the ErrorResponse a client sees for e. Only the
// caller-facing fields are used; e.Cause never leaves the gateway.
func errorResponse(severity string, e *sluice.Error) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: severity, SeverityUnlocalized: severity,
		Code: e.SQLState(), Message: e.Message, Detail: e.Detail, Hint: e.Hint}
}

// register gives s a cancel key and makes it reachable for cancel requests
// and shutdown. It fails once Shutdown has begun.
func (srv *Server) register(s *session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		return false
	}
	for {
		var b [8]byte
		rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if _, taken := srv.sessions[pid]; pid == 0 || taken {
			continue
		}
		s.pid, s.secret = pid, b[4:]
		srv.sessions[pid] = s
		return true
	}
}

func (srv *Server) unregister(s *session) {
	srv.mu.Lock()
	delete(srv.sessions, s.pid)
	srv.mu.Unlock()
}

// cancelRequest forwards a client's cancel to the session's upstream when
// the key matches one sluice issued. Like PostgreSQL it answers nothing.
func (srv *Server) cancelRequest(cr *pgproto3.CancelRequest) {
	srv.mu.Lock()
	s := srv.sessions[cr.ProcessID]
	srv.mu.Unlock()
	if s == nil || subtle.ConstantTimeCompare(s.secret, cr.SecretKey) != 1 {
		srv.Log.Info("cancel request with an unknown key ignored")
		return
	}
	s.cancel()
}
