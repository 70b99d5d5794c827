package pgwire

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/mask"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// session relays one client's protocol to its upstream connection. The
// client loop (client -> upstream) runs in its own goroutine and owns cr, uw
// and the statement maps; the upstream loop (upstream -> client) owns ur and
// cw. The queue of outstanding requests links them.
type session struct {
	srv    *Server
	conn   *clientConn
	client net.Conn // the client connection, TLS when negotiated
	gs     *gate.Session
	up     *pgup.Conn
	pid    uint32
	secret []byte

	cr *msgReader
	uw *msgWriter
	ur *msgReader
	cw *msgWriter

	// Client loop state.
	stmts    map[string]*prepared // prepared statement name -> statement
	portals  map[string]*portal   // portal name -> bound statement
	skipping bool                 // discarding until Sync after a refusal

	// Upstream loop state.
	capRows  int          // rows captured per result
	capBytes int          // bytes captured per result
	mask     *mask.Engine // masks results; nil when nothing is masked
	exempt   bool         // the identity sees clear values
	copyOut  copyState    // a COPY TO STDOUT in progress
	cur      *pending     // the request now receiving results
	batchErr bool         // an ErrorResponse was relayed since the last ReadyForQuery
	sawFatal bool         // the upstream sent a FATAL or PANIC error
	txStatus byte

	q          queue
	clientGone atomic.Bool                        // the client loop ended first
	holding    atomic.Pointer[context.CancelFunc] // ends the review hold in progress
	ended      atomic.Pointer[sluice.Error]       // why terminate ended the session
	endOnce    sync.Once
	reason     string // why the session ends; first cause wins
	done       chan struct{}

	// writingSince is when the client loop's current write upstream began
	// (UnixNano), 0 between writes; watchStuckWrite reads it.
	writingSince atomic.Int64
}

// prepared is a statement the client parsed. The client loop creates it;
// cols is set by the upstream loop when a Describe of it is answered, and
// only the upstream loop reads it.
type prepared struct {
	name string
	text string
	cols []colDesc
}

// portal is a bound statement.
type portal struct {
	stmt    *prepared
	params  []*string
	pformat []int16   // parameter format codes from Bind, one per parameter; nil when all text
	formats []int16   // result format codes from Bind
	cols    []colDesc // from a Describe of the portal (upstream loop only)
}

func newSession(srv *Server, c *clientConn, st *startup, gs *gate.Session, up *pgup.Conn) *session {
	m, exempt := gs.Masking()
	return &session{
		srv: srv, conn: c, client: st.conn, gs: gs, up: up,
		cr:       &msgReader{br: st.r, max: srv.MaxMessageBytes},
		uw:       newMsgWriter(up),
		ur:       newMsgReader(up, 64<<10, maxUpstreamMessage),
		capRows:  srv.CaptureRows,
		capBytes: srv.CaptureBytes,
		mask:     m,
		exempt:   exempt,
		cw:       newMsgWriter(st.conn),
		stmts:    map[string]*prepared{},
		portals:  map[string]*portal{},
		txStatus: up.TxStatus,
		done:     make(chan struct{}),
	}
}

// maxUpstreamMessage is the largest message accepted from the upstream
// server; PostgreSQL's own limit for a field is 1 GiB.
const maxUpstreamMessage = 1<<30 + 1<<20

// streamAbove is the size past which messages that need no inspection are
// streamed to the client instead of being held in memory.
const streamAbove = 256 << 10

// run sends the client the end of the startup phase and relays until either
// side ends. It returns the end reason.
func (s *session) run() string {
	ctx := context.Background()
	s.cw.send(&pgproto3.AuthenticationOk{})
	for k, v := range s.up.Params {
		s.cw.send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	s.cw.send(&pgproto3.BackendKeyData{ProcessID: s.pid, SecretKey: s.secret})
	s.cw.send(&pgproto3.ReadyForQuery{TxStatus: s.up.TxStatus})
	if err := s.cw.flush(); err != nil {
		s.end(sluice.EndClient)
		s.up.Close()
		s.gs.Close(ctx, sluice.EndClient)
		return sluice.EndClient
	}

	var clientErr error
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		clientErr = s.clientLoop(ctx)
		if errors.Is(clientErr, errWriteUpstream) {
			// The database side failed: the client is still there and
			// is told so once the upstream loop has stopped.
			s.end(sluice.EndUpstream)
			s.up.Close()
			return
		}
		s.clientGone.Store(true)
		s.end(clientReason(clientErr))
		if s.q.busy() {
			// PostgreSQL notices a vanished client only when it next
			// writes to it; cancel what runs so it stops now.
			cctx, cancel := context.WithTimeout(ctx, cancelTimeout)
			if err := s.up.Cancel(cctx); err != nil {
				s.srv.Log.Warn("cancel upstream query of a closed session", "session", s.gs.ID(), "err", err)
			}
			cancel()
		}
		s.up.Close() // stops the upstream loop
	}()
	upReason, upErr := s.upstreamLoop(ctx)
	s.end(upReason)
	if !s.clientGone.Load() {
		// The upstream side stopped first (the database went away, the
		// gateway is shutting down, or writing to the client failed): tell
		// the client why, unless it is the client that is gone, then stop
		// the client loop.
		if upReason != sluice.EndClient {
			s.finishFatal()
		}
		s.client.Close()
	}
	<-clientDone
	if e := protocolError(clientErr); e != nil && s.reason == sluice.EndProtocol {
		s.cw.buf = s.cw.buf[:0]
		s.cw.send(errorResponse("FATAL", e))
		s.client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		s.cw.flush()
	}
	s.client.Close()
	s.q.abortAll(func(p *pending) { s.finish(ctx, p, sluice.StatusAborted) })
	s.gs.Close(ctx, s.reason)
	if upErr != nil && s.reason == sluice.EndUpstream {
		s.srv.Log.Warn("upstream connection ended", "session", s.gs.ID(), "err", upErr)
	}
	return s.reason
}

// end records the first reason the session ends.
func (s *session) end(reason string) {
	s.endOnce.Do(func() { s.reason = reason; close(s.done) })
}

// shutdown ends the session because the gateway is stopping.
func (s *session) shutdown() {
	s.end(sluice.EndShutdown)
	s.up.Close()
}

// terminate ends the session for reason, telling the client e.
func (s *session) terminate(reason string, e *sluice.Error) {
	s.ended.CompareAndSwap(nil, e)
	s.end(reason)
	s.up.Close()
}

// cancelTimeout bounds delivering a cancel request upstream.
const cancelTimeout = 5 * time.Second

// cancel ends a review hold in progress or, when none is, forwards a
// client's cancel request upstream and watches for a write upstream that
// the database no longer takes.
func (s *session) cancel() {
	if c := s.holding.Load(); c != nil {
		(*c)()
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
		defer cancel()
		if err := s.up.Cancel(ctx); err != nil {
			s.srv.Log.Warn("forward cancel request", "session", s.gs.ID(), "err", err)
		}
	}()
	go s.watchStuckWrite()
}

// errStuckUpstream is what a client whose cancel request met a stuck
// upstream write is told.
var errStuckUpstream = errStartup(sluice.EUnavailable, "08006",
	"the database stopped taking data and did not act on the cancel request within %s; the session is over, reconnect to continue", cancelTimeout)

// watchStuckWrite ends the session when a write upstream that is in
// progress at the end of cancelTimeout has been blocked for cancelTimeout.
// While the client loop is blocked writing to a database that stopped
// reading (a COPY or a long pipeline, and a network that stalls), it does
// not read the client, so neither a client that gives up and hangs up nor
// its cancel, which cannot reach the database either, would end the
// session. The watch ends with the session or once no write is blocked.
func (s *session) watchStuckWrite() {
	wait := cancelTimeout
	for {
		t := time.NewTimer(wait)
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
		since := s.writingSince.Load()
		if since == 0 {
			return
		}
		blocked := time.Since(time.Unix(0, since))
		if blocked >= cancelTimeout {
			s.srv.Log.Warn("ending session: the upstream took no data for the cancel timeout after a cancel request",
				"session", s.gs.ID(), "blocked", blocked.Round(time.Millisecond))
			s.terminate(sluice.EndUpstream, errStuckUpstream)
			return
		}
		wait = cancelTimeout - blocked
	}
}

// finishFatal tells the client why its session is over when the upstream
// side ended it without saying so itself.
func (s *session) finishFatal() {
	if !s.sawFatal {
		e := errStartup(sluice.EUnavailable, "08006",
			"the connection to the database was lost; the session is over, reconnect to continue")
		switch {
		case s.reason == sluice.EndShutdown:
			e = errStartup(sluice.EUnavailable, "57P01", "terminating connection because sluice is shutting down")
		case s.ended.Load() != nil:
			e = s.ended.Load()
		}
		s.cw.send(errorResponse("FATAL", e))
	}
	s.client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.cw.flush()
}

func clientReason(err error) string {
	if protocolError(err) != nil {
		return sluice.EndProtocol
	}
	return sluice.EndClient
}

// protocolError returns the error to report to a client that broke the
// protocol, or nil when the client simply went away.
func protocolError(err error) *sluice.Error {
	var e *sluice.Error
	if errors.As(err, &e) && (e.Code == sluice.EProtocol || e.Code == sluice.ETooLarge) {
		return e
	}
	return nil
}

// result builds the Result of a finished request.
func (s *session) result(p *pending, status string) *sluice.Result {
	r := &sluice.Result{Rows: p.rows, Duration: time.Since(p.start), Status: status, Tag: p.tag, Error: p.errText,
		Unmasked: s.exempt}
	if p.res != nil {
		r.Capture = p.res.cap.result()
		if p.res.counts.Total() > 0 {
			r.Masked = p.res.counts.Map()
		}
	}
	if status == sluice.StatusOK && p.errText != "" {
		r.Status = sluice.StatusError
	}
	return r
}
