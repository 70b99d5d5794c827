package mcp

import (
	"context"

	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/mask"
)

// EngineMasker is the Masker of the gateway: each session masks with its
// policy's mask engine, as the PostgreSQL front door does. It is safe for
// concurrent use.
type EngineMasker struct {
	// Tables names the tables behind result columns, for table.column
	// rules; nil matches column names only.
	Tables gate.TableNamer
}

var _ Masker = EngineMasker{}

// Result prepares the masking of one result set.
func (m EngineMasker) Result(ctx context.Context, s *gate.Session, cols []Column) (RowMasker, error) {
	eng, exempt := s.Masking()
	if eng == nil {
		return nil, nil
	}
	r := &engineRows{exempt: exempt, maskers: make([]*mask.ColumnMasker, len(cols)), cols: cols}
	for i, c := range cols {
		cm, err := gate.ColumnMasker(ctx, m.Tables, eng, s.Info().Connection, c.TableOID, c.Name)
		if err != nil {
			return nil, err // the tool result is withheld
		}
		r.maskers[i] = cm
	}
	return r, nil
}

// Text masks an error's text fields for the agent.
func (m EngineMasker) Text(_ context.Context, s *gate.Session, text string) (string, error) {
	eng, exempt := s.Masking()
	if eng == nil || exempt {
		return text, nil
	}
	return eng.String(text), nil
}

// engineRows masks one result set's rows.
type engineRows struct {
	maskers []*mask.ColumnMasker
	cols    []Column
	counts  mask.Counts
	exempt  bool
}

// MaskRow masks the values in place. A value the engine cannot mask is
// withheld (NULL).
func (r *engineRows) MaskRow(values [][]byte) ([][]byte, error) {
	for i, v := range values {
		if v == nil || i >= len(r.maskers) || r.maskers[i] == nil {
			continue
		}
		out, err := r.maskers[i].Value(nil, r.cols[i].TypeOID, 0, v, &r.counts)
		if err != nil {
			r.counts.Add("withheld", 1)
			values[i] = nil
			continue
		}
		values[i] = out
	}
	return values, nil
}

// Exempt reports that the agent sees clear values; only the audit copy is
// masked.
func (r *engineRows) Exempt() bool { return r.exempt }

// Counts returns the masked values by detector or rule.
func (r *engineRows) Counts() map[string]uint64 {
	if r.counts.Total() == 0 {
		return nil
	}
	return r.counts.Map()
}
