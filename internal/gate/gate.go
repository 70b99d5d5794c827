// Package gate is the one pipeline every front door calls. A listener
// translates its wire format into a sluice.Request and asks the gate: the
// gate checks the grant, classifies the request, decides with the policy,
// records the request before it may be forwarded (fail closed), holds it
// for approval when a rule says so, and records the result afterwards.
package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/httpclass"
	"github.com/sluicehq/sluice/internal/mask"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/sqlclass"
)

// Recorder persists audit events in order. Record must not return before an
// EventRequest is durable enough to be relied on (the journal's write-ahead
// guarantee): the gate forwards nothing whose record failed. Implementations
// are safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, ev *sluice.Event) error
}

// Reviews is the subset of the review flow the gate uses.
type Reviews interface {
	// Hold returns the review that holds req (an existing one or a new
	// one), calling record with its id before a new review is stored or
	// journaled; if record fails, Hold returns its error.
	Hold(ctx context.Context, req *sluice.Request, hash string, d sluice.Decision, reasons []string,
		record func(reviewID string) error) (*sluice.Review, error)
	Wait(ctx context.Context, id string, until time.Time) (*sluice.Review, error)
	Claim(ctx context.Context, id string) (*sluice.Review, error)
}

// Gate decides and records every request. Set Reviews before use if any
// rule can ask for a review. It is safe for concurrent use.
type Gate struct {
	policy  *policy.Engine
	conns   map[string]sluice.ConnType
	rec     Recorder
	log     *slog.Logger
	sqlc    *sqlclass.Cache
	Reviews Reviews
	// StatementMask masks secrets in the audit trail's copy of statements
	// and parameters (nil: none); the request forwarded is never changed.
	StatementMask *mask.Engine
	// HTTP classifies the requests of each HTTP connection, by name.
	HTTP map[string]*httpclass.Classifier
	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
}

// New returns a gate over the given policies, connections (name to type) and
// recorder. It does no I/O.
func New(p *policy.Engine, conns map[string]sluice.ConnType, rec Recorder, log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{policy: p, conns: conns, rec: rec, log: log, Now: time.Now,
		sqlc: sqlclass.NewCache(sqlclass.DefaultCacheEntries)}
}

// SessionInfo describes a session a front door wants to open.
type SessionInfo struct {
	Identity   *sluice.Identity
	Connection string
	Protocol   sluice.Protocol
	ClientAddr netip.AddrPort
}

// Session is a granted session. Begin and Await are called from the goroutine
// that reads the client, in the order requests arrive; Done may be called
// from another goroutine.
type Session struct {
	gate   *Gate
	rec    sluice.Session
	policy *policy.Policy
	ctype  sluice.ConnType
	sql    *sqlclass.Session // client loop only

	mu       sync.Mutex
	seq      int64
	closed   bool
	analyses map[*sluice.Request]*sqlclass.Analysis // requests begun and not done
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
		gate:     g,
		policy:   p,
		ctype:    ctype,
		sql:      &sqlclass.Session{Cache: g.sqlc, DefaultReadOnly: p.ReadOnly},
		analyses: map[*sluice.Request]*sqlclass.Analysis{},
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

// Masking returns the engine that masks this session's results, or nil
// when nothing is masked, and whether the session's identity is exempt: it
// sees clear values, while the audit trail's copy of what it saw is still
// masked and marked unmasked.
func (s *Session) Masking() (m *mask.Engine, exempt bool) {
	if s.policy.Mask == nil {
		return nil, false
	}
	return s.policy.Mask, s.policy.SeesClear(&s.rec.Identity)
}

// ReadOnly reports whether the session's upstream connection must be opened
// read-only (its policy only ever lets reads through).
func (s *Session) ReadOnly() bool { return s.policy.ReadOnly }

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
