// Package gate is the one pipeline every front door calls. A listener
// translates its wire format into a sluice.Request and asks the gate: the
// gate checks the grant, decides with the policy, records the request before
// it may be forwarded (fail closed), and records the result afterwards.
package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
)

// Recorder persists audit events in order. Record must not return before an
// EventRequest is durable enough to be relied on (the journal's write-ahead
// guarantee): the gate forwards nothing whose record failed. Implementations
// are safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, ev *sluice.Event) error
}

// Gate decides and records every request. It is safe for concurrent use.
type Gate struct {
	policy *policy.Engine
	conns  map[string]sluice.ConnType
	rec    Recorder
	log    *slog.Logger
	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
}

// New returns a gate over the given policies, connections (name to type) and
// recorder. It does no I/O.
func New(p *policy.Engine, conns map[string]sluice.ConnType, rec Recorder, log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{policy: p, conns: conns, rec: rec, log: log, Now: time.Now}
}

// SessionInfo describes a session a front door wants to open.
type SessionInfo struct {
	Identity   *sluice.Identity
	Connection string
	Protocol   sluice.Protocol
	ClientAddr netip.AddrPort
}

// Session is a granted session. Begin and Done may be called from different
// goroutines; requests must be begun in the order they were received.
type Session struct {
	gate   *Gate
	rec    sluice.Session
	policy *policy.Policy
	ctype  sluice.ConnType

	mu     sync.Mutex
	seq    int64
	closed bool
}

// journalError is what the caller sees when the audit record cannot be
// written: the request was not forwarded, and the journal's own error (a
// file name and an errno, never request data) says why.
func journalError(err error) *sluice.Error {
	return &sluice.Error{Code: sluice.EUnavailable, SQLStateCode: "58030", // io_error
		Message: "sluice cannot record this request in its audit journal, so it was not forwarded; try again later",
		Detail:  err.Error(), Cause: err}
}

// OpenSession checks that info's identity may use the connection from its
// address and records the session's start. Errors are *sluice.Error values
// safe to show the caller: ENotFound for an unknown connection, EForbidden
// without a grant, EUnavailable when the start cannot be recorded.
func (g *Gate) OpenSession(ctx context.Context, info SessionInfo) (*Session, error) {
	ctype, ok := g.conns[info.Connection]
	if !ok {
		g.AuthFailure(ctx, info, "unknown connection")
		return nil, sluice.Errorf(sluice.ENotFound, "connection %q does not exist", info.Connection)
	}
	p := g.policy.Grant(info.Identity, info.Connection, info.ClientAddr.Addr())
	if p == nil {
		g.AuthFailure(ctx, info, "no grant")
		return nil, sluice.Errorf(sluice.EForbidden, "%q has no grant for connection %q from %s",
			info.Identity.Subject, info.Connection, info.ClientAddr.Addr())
	}
	now := g.Now()
	s := &Session{
		gate:   g,
		policy: p,
		ctype:  ctype,
		rec: sluice.Session{
			ID:         newSessionID(now),
			Identity:   *info.Identity,
			Connection: info.Connection,
			Protocol:   info.Protocol,
			ClientAddr: info.ClientAddr.String(),
			StartedAt:  now,
		},
	}
	ev := &sluice.Event{Time: now, Type: sluice.EventSessionStart, Session: s.rec.ID,
		Identity: info.Identity, Connection: info.Connection, Protocol: info.Protocol,
		ClientAddr: s.rec.ClientAddr}
	if err := g.rec.Record(ctx, ev); err != nil {
		g.log.Error("record session start", "session", s.rec.ID, "err", err)
		return nil, journalError(err)
	}
	return s, nil
}

// AuthFailure records a failed attempt to authenticate or to open a session.
// reason must not contain the presented credential.
func (g *Gate) AuthFailure(ctx context.Context, info SessionInfo, reason string) {
	ev := &sluice.Event{Time: g.Now(), Type: sluice.EventAuthFailure, Identity: info.Identity,
		Connection: info.Connection, Protocol: info.Protocol, ClientAddr: info.ClientAddr.String(),
		Reason: reason}
	if err := g.rec.Record(ctx, ev); err != nil {
		g.log.Error("record auth failure", "err", err)
	}
}

// Info returns the session's record (its start; EndedAt is not tracked here).
func (s *Session) Info() *sluice.Session { return &s.rec }

// ID returns the session id.
func (s *Session) ID() string { return s.rec.ID }

// Begin numbers req, decides on it and records it. When the returned error
// is nil the decision is Allow and the caller may forward the request; it
// must later call Done. Otherwise the error, a *sluice.Error, is what the
// caller sees: the decision's message for a denial, or EUnavailable when the
// request could not be recorded.
func (s *Session) Begin(ctx context.Context, req *sluice.Request) (sluice.Decision, error) {
	s.mu.Lock()
	s.seq++
	req.Seq = s.seq
	s.mu.Unlock()
	req.SessionID = s.rec.ID
	req.ID = s.rec.ID + "/" + strconv.FormatInt(req.Seq, 10)
	req.Time = s.gate.Now()
	req.Subject, req.Groups = s.rec.Identity.Subject, s.rec.Identity.Groups
	req.Connection, req.ClientAddr = s.rec.Connection, s.rec.ClientAddr

	d := s.gate.policy.Decide(s.policy, req)
	ev := &sluice.Event{Time: req.Time, Type: sluice.EventRequest, Session: s.rec.ID, Request: req, Decision: &d}
	if err := s.gate.rec.Record(ctx, ev); err != nil {
		s.gate.log.Error("record request", "request", req.ID, "err", err)
		return d, journalError(err)
	}
	switch d.Action {
	case sluice.ActionAllow:
		return d, nil
	default:
		msg := d.Message
		if msg == "" {
			msg = "denied by policy " + d.Policy
		}
		return d, &sluice.Error{Code: sluice.EForbidden, Message: msg}
	}
}

// Done records the result of a request that Begin allowed.
func (s *Session) Done(ctx context.Context, req *sluice.Request, res *sluice.Result) {
	ev := &sluice.Event{Time: s.gate.Now(), Type: sluice.EventResult, Session: s.rec.ID, Request: req, Result: res}
	if err := s.gate.rec.Record(ctx, ev); err != nil {
		s.gate.log.Error("record result", "request", req.ID, "err", err)
	}
}

// Close records the session's end. Only the first call has an effect.
func (s *Session) Close(ctx context.Context, reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	ev := &sluice.Event{Time: s.gate.Now(), Type: sluice.EventSessionEnd, Session: s.rec.ID, Reason: reason}
	if err := s.gate.rec.Record(ctx, ev); err != nil {
		s.gate.log.Error("record session end", "session", s.rec.ID, "err", err)
	}
}

// newSessionID returns a sortable, unique id: the UTC start time and 48
// random bits.
func newSessionID(t time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}
