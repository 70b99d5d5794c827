package mcp

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
)

// Session end reasons of this front door, besides sluice's own.
const (
	// EndIdle: the MCP session saw no request for SessionIdle.
	EndIdle = "idle_timeout"
	// EndIdentityChanged: the session's caller came back with a token
	// of other groups, so the session opened under the old ones ended.
	EndIdentityChanged = "identity_changed"
	// EndUpstreamUnavailable: the upstream connection could not be opened.
	EndUpstreamUnavailable = "upstream_unavailable"
)

// mcpSession is one stateful MCP session: the upstream connections its
// calls opened, one per database connection, each with its gate session.
type mcpSession struct {
	ss   *sdk.ServerSession
	user string // the caller the SDK binds the session to

	mu     sync.Mutex // held while a connection is opened
	reason string     // why the session ends, once known
	closed bool
	conns  map[string]*upConn
}

func (ms *mcpSession) setReason(reason string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.reason == "" {
		ms.reason = reason
	}
}

// upConn is a gate session and its upstream connection. One call uses it at
// a time (sem); closing cancels that call's context first.
type upConn struct {
	name   string
	who    string // caller identity the gate session was opened for
	gs     *gate.Session
	pc     *pgconn.PgConn
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// session returns the state of a stateful MCP session, creating it (and
// the watcher that ends its connections when it ends) on first use. It
// returns nil for stateless calls and once the server is closed.
func (s *Server) session(ss *sdk.ServerSession, user string) *mcpSession {
	if ss == nil || ss.ID() == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if ms := s.sessions[ss.ID()]; ms != nil {
		return ms
	}
	ms := &mcpSession{ss: ss, user: user, conns: map[string]*upConn{}}
	s.sessions[ss.ID()] = ms
	s.watchers.Go(func() {
		ss.Wait()
		s.sessionEnded(ss.ID())
	})
	return ms
}

// ending notes why session id is about to end, when c is its caller.
func (s *Server) ending(id string, c *caller, reason string) {
	s.mu.Lock()
	ms := s.sessions[id]
	s.mu.Unlock()
	if ms != nil && (ms.user == "" || ms.user == c.user()) {
		ms.setReason(reason)
	}
}

// sessionEnded closes the connections of an MCP session that ended. A
// session that ends for no reason noted before was closed by the SDK for
// being idle.
func (s *Server) sessionEnded(id string) {
	s.mu.Lock()
	ms := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if ms == nil {
		return
	}
	ms.mu.Lock()
	ms.closed = true
	if ms.reason == "" {
		ms.reason = EndIdle
	}
	reason := ms.reason
	conns := make([]*upConn, 0, len(ms.conns))
	for _, uc := range ms.conns {
		conns = append(conns, uc)
	}
	ms.mu.Unlock()
	for _, uc := range conns {
		s.closeConn(uc, reason)
	}
	s.Log.Debug("MCP session ended", "mcp_session", id, "reason", reason, "connections", len(conns))
}

// errSessionEnded is what a call sees when its session ends under it.
var errSessionEnded = sluice.Errorf(sluice.ECanceled, "the MCP session ended; reconnect and call again")

// acquire returns the upstream connection of c's call to connection name,
// opened on first use in an MCP session (or for this call alone in a
// stateless one), and holds it for the call until release.
func (s *Server) acquire(ctx context.Context, ss *sdk.ServerSession, c *caller, name string) (uc *upConn, release func(), err error) {
	ms := s.session(ss, c.user())
	if ms == nil {
		if ss != nil && ss.ID() != "" {
			return nil, nil, sluice.Errorf(sluice.EUnavailable, "sluice is shutting down")
		}
		// Stateless: the call has the connection to itself.
		if uc, err = s.open(ctx, c, name); err != nil {
			return nil, nil, err
		}
		uc.sem <- struct{}{}
		return uc, func() { <-uc.sem; s.closeConn(uc, sluice.EndClient) }, nil
	}

	for attempt := 0; ; attempt++ {
		if uc, err = s.sessionConn(ctx, ms, c, name); err != nil {
			return nil, nil, err
		}
		select {
		case uc.sem <- struct{}{}:
		case <-uc.ctx.Done():
			return nil, nil, errSessionEnded
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		switch {
		case uc.ctx.Err() != nil:
			<-uc.sem
			return nil, nil, errSessionEnded
		case uc.pc.IsClosed() && attempt == 0:
			// The database closed the connection since the last call
			// (or the last call broke it): start over once.
			<-uc.sem
			s.dropConn(ms, uc, sluice.EndUpstream)
			continue
		}
		return uc, func() { <-uc.sem }, nil
	}
}

// sessionConn returns the MCP session's connection to name, opening it when
// there is none yet or when it was opened for other groups of the caller.
func (s *Server) sessionConn(ctx context.Context, ms *mcpSession, c *caller, name string) (*upConn, error) {
	ms.mu.Lock()
	if ms.closed {
		ms.mu.Unlock()
		return nil, errSessionEnded
	}
	uc := ms.conns[name]
	var stale *upConn
	if uc != nil && uc.who != identityKey(c.id) {
		stale, uc = uc, nil
		delete(ms.conns, name)
	}
	if uc != nil && s.Policies.Grant(c.id, name, c.addr.Addr()) == nil {
		// The gate checked the grant when it opened the session; a call
		// from an address the grant does not cover is refused the same way.
		ms.mu.Unlock()
		info := gate.SessionInfo{Identity: c.id, Connection: name, Protocol: sluice.ProtoMCP, ClientAddr: c.addr}
		s.Gate.AuthFailure(ctx, info, "no grant")
		return nil, sluice.Errorf(sluice.EForbidden, "%q has no grant for connection %q from %s",
			c.id.Subject, name, c.addr.Addr())
	}
	var err error
	if uc == nil {
		if uc, err = s.open(ctx, c, name); err == nil {
			ms.conns[name] = uc
		}
	}
	ms.mu.Unlock()
	if stale != nil {
		s.closeConn(stale, EndIdentityChanged)
	}
	return uc, err
}

// dropConn removes uc from its MCP session and closes it.
func (s *Server) dropConn(ms *mcpSession, uc *upConn, reason string) {
	ms.mu.Lock()
	if ms.conns[uc.name] == uc {
		delete(ms.conns, uc.name)
	}
	ms.mu.Unlock()
	s.closeConn(uc, reason)
}

// identityKey says which identity a gate session was opened for: a caller
// who comes back with a token of the same subject and groups (a refreshed
// token) goes on in the same session.
func identityKey(id *sluice.Identity) string {
	groups := slices.Clone(id.Groups)
	slices.Sort(groups)
	return id.Issuer + "\x00" + id.Subject + "\x00" + strings.Join(groups, "\x00")
}

// open opens a gate session for c on connection name, which checks the
// grant and records the start, and then the upstream connection.
func (s *Server) open(ctx context.Context, c *caller, name string) (*upConn, error) {
	ctype, ok := s.Connections[name]
	if !ok {
		return nil, sluice.Errorf(sluice.ENotFound, "connection %q does not exist; list_connections shows the ones you may use", name)
	}
	if ctype != sluice.ConnPostgres {
		return nil, sluice.Errorf(sluice.EInvalid, "connection %q is of type %s; describe and query work on postgres connections", name, ctype)
	}
	gs, err := s.Gate.OpenSession(ctx, gate.SessionInfo{Identity: c.id, Connection: name, Protocol: sluice.ProtoMCP, ClientAddr: c.addr})
	if err != nil {
		return nil, err
	}
	pc, err := s.Upstream.Connect(ctx, name, upstreamParams(gs.ReadOnly()))
	if err != nil {
		s.Log.Error("upstream connect failed", "session", gs.ID(), "connection", name, "err", err)
		gs.Close(context.WithoutCancel(ctx), EndUpstreamUnavailable)
		return nil, sluice.Errorf(sluice.EUnavailable,
			"sluice could not connect to the database behind connection %q; try again later, or ask an operator to check the gateway log", name)
	}
	uc := &upConn{name: name, who: identityKey(c.id), gs: gs, pc: pc, sem: make(chan struct{}, 1)}
	uc.ctx, uc.cancel = context.WithCancel(s.ctx)
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.conns[uc] = struct{}{}
	}
	s.mu.Unlock()
	if closed {
		s.closeConn(uc, sluice.EndShutdown)
		return nil, sluice.Errorf(sluice.EUnavailable, "sluice is shutting down")
	}
	s.Log.Info("MCP session started", "session", gs.ID(), "subject", c.id.Subject, "connection", name, "client", c.addr)
	return uc, nil
}

// closeConn ends a connection's call in progress, closes the upstream
// connection and records the gate session's end. Only the first call acts.
func (s *Server) closeConn(uc *upConn, reason string) {
	uc.once.Do(func() {
		uc.cancel()
		uc.sem <- struct{}{} // the call in progress, if any, has returned
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		uc.pc.Close(ctx)
		uc.gs.Close(ctx, reason)
		s.mu.Lock()
		delete(s.conns, uc)
		s.mu.Unlock()
		s.Log.Info("MCP session ended", "session", uc.gs.ID(), "reason", reason)
	})
}

// upstreamParams are the startup parameters of an upstream connection: the
// settings the classifier relies on (text is UTF-8, backslashes in strings
// are literal), and read-only mode when the session's policy only lets
// reads through.
func upstreamParams(readOnly bool) map[string]string {
	p := map[string]string{
		"application_name":            "sluice mcp",
		"client_encoding":             "UTF8",
		"standard_conforming_strings": "on",
	}
	if readOnly {
		p["default_transaction_read_only"] = "on"
	}
	return p
}
