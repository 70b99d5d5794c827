package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExportCursor returns how far the sink named key has shipped, 0 when none.
func (d *DB) ExportCursor(ctx context.Context, key string) (uint64, error) {
	var seq int64
	err := d.queryRow(ctx, `SELECT seq FROM export_cursors WHERE key = $1`, key).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("export cursor %q: %w", key, err)
	}
	return uint64(seq), nil
}

// SetExportCursor moves the cursor of key forward to seq.
func (d *DB) SetExportCursor(ctx context.Context, key string, seq uint64) error {
	_, err := d.exec(ctx, `INSERT INTO export_cursors (key, seq) VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET seq = greatest(export_cursors.seq, excluded.seq)`, key, int64(seq))
	if err != nil {
		return fmt.Errorf("set export cursor %q: %w", key, err)
	}
	return nil
}
