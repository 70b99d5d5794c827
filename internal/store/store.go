// Package store defines the gateway's state store: sessions, statements and
// service tokens. Backends live in subpackages (sqlite, the embedded default,
// and postgres, for several replicas sharing state); storetest holds the
// conformance suite every backend must pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/sluicehq/sluice"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// Store is the gateway's persistent state. Implementations are safe for
// concurrent use by many goroutines and by several processes sharing the same
// backing database (a `sluice token issue` beside a running `sluice serve`).
type Store interface {
	// CreateSession records a new session. The ID must be unique.
	CreateSession(ctx context.Context, s *sluice.Session) error
	// EndSession sets the end time and reason of an open session. Ending a
	// session twice keeps the first end. It returns ErrNotFound for an
	// unknown id.
	EndSession(ctx context.Context, id string, at time.Time, reason string) error
	// GetSession returns one session or ErrNotFound.
	GetSession(ctx context.Context, id string) (*sluice.Session, error)
	// ListSessions returns sessions matching f, newest first.
	ListSessions(ctx context.Context, f SessionFilter) ([]*sluice.Session, error)

	// AddStatements records statements in one transaction, in order: all of
	// them or none. A statement whose session does not exist fails the batch
	// with an error that wraps ErrNotFound.
	AddStatements(ctx context.Context, stmts []*sluice.StatementRecord) error
	// ListStatements returns a session's statements ordered by Seq, those
	// with equal Seq in the order they were added. It returns ErrNotFound
	// for an unknown session.
	ListStatements(ctx context.Context, sessionID string) ([]*sluice.StatementRecord, error)

	// CreateToken records a newly issued service token. The ID must be unique.
	CreateToken(ctx context.Context, t *sluice.ServiceToken) error
	// GetToken returns one service token or ErrNotFound.
	GetToken(ctx context.Context, id string) (*sluice.ServiceToken, error)
	// ListTokens returns all service tokens, newest first.
	ListTokens(ctx context.Context) ([]*sluice.ServiceToken, error)
	// RevokeToken marks a token revoked at the given time. Revoking twice
	// keeps the first time. It returns ErrNotFound for an unknown id.
	RevokeToken(ctx context.Context, id string, at time.Time) error

	// Close releases the store. It is idempotent.
	Close() error
}

// SessionFilter selects sessions. Zero fields match everything.
type SessionFilter struct {
	Subject    string
	Connection string
	Since      time.Time // started at or after
	Until      time.Time // started before
	OpenOnly   bool      // only sessions that have not ended
	Limit      int       // 0 means 100; negative is an error
}
