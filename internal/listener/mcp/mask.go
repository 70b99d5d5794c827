package mcp

import (
	"context"

	"github.com/sluicehq/sluice/internal/gate"
)

// Column describes one result column as PostgreSQL reports it in its
// RowDescription, for masking rules by table and column.
type Column struct {
	Name string
	// TableOID and TableAttr name the table column behind the result
	// column; both are 0 for a computed column.
	TableOID  uint32
	TableAttr uint16
	TypeOID   uint32
	// Format is 0 (text): this front door reads every value as text.
	Format int16
}

// Masker masks what the agent receives, with the same rules as the
// PostgreSQL front door: the gateway's mask engine implements it. A Masker
// is safe for concurrent use.
type Masker interface {
	// Result prepares the masking of one result set of session s (its
	// identity, connection and policy say which rules apply) with columns
	// cols. It returns nil when nothing in the result needs masking. An
	// error withholds the whole result from the agent.
	Result(ctx context.Context, s *gate.Session, cols []Column) (RowMasker, error)
	// Text masks free text from the database that the agent receives: the
	// message, detail and hint of an error, which can echo data ("Key
	// (email)=(a@b.example) already exists").
	Text(ctx context.Context, s *gate.Session, text string) (string, error)
}

// RowMasker masks the rows of one result set, in order, from one
// goroutine.
type RowMasker interface {
	// MaskRow returns the values the agent may see for one row: values
	// are text-format values, nil for NULL, and are owned by the caller
	// (MaskRow may return them modified). An error withholds the whole
	// result.
	MaskRow(values [][]byte) ([][]byte, error)
}
