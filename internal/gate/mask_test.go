package gate

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/mask"
)

// tablesFunc is a TableNamer from a function.
type tablesFunc func(oid uint32) (string, error)

func (f tablesFunc) TableName(_ context.Context, _ string, oid uint32) (string, error) { return f(oid) }

// TestColumnMasker checks how a result column finds its masker: by table
// and column, by column alone for expressions, and failing closed when the
// table cannot be named.
func TestColumnMasker(t *testing.T) {
	m, err := mask.New(mask.Config{Columns: []mask.ColumnRule{{Pattern: "crm.people.notes", Strategy: "redact"}}})
	if err != nil {
		t.Fatal(err)
	}
	lookupErr := errors.New("catalog unreachable")
	tables := tablesFunc(func(oid uint32) (string, error) {
		switch oid {
		case 1:
			return "crm.people", nil
		case 2:
			return "crm.orders", nil
		}
		return "", lookupErr
	})
	ctx := context.Background()
	for _, tc := range []struct {
		oid     uint32
		tables  TableNamer
		masked  bool
		wantErr error
	}{
		{1, tables, true, nil},       // the rule's table
		{2, tables, false, nil},      // another table
		{0, tables, false, nil},      // an expression
		{3, tables, true, lookupErr}, // unknown table: fail closed
		{1, nil, false, nil},         // no catalog: column-name rules only
	} {
		cm, err := ColumnMasker(ctx, tc.tables, m, "app", tc.oid, "notes")
		if (cm != nil) != tc.masked || !errors.Is(err, tc.wantErr) {
			t.Errorf("oid %d: masker %v, err %v; want masked %v, err %v", tc.oid, cm, err, tc.masked, tc.wantErr)
		}
	}
}
