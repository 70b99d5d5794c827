package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice"
)

// Estimate asks the planner of req's connection how many rows req would
// touch, without running it: EXPLAIN (never ANALYZE) on a connection of its
// own, inside a read-only transaction with a short statement timeout, with
// the request's parameters as text. A statement that cannot be explained
// (DDL, several statements, parameters in binary format) is an error.
func (ts Targets) Estimate(ctx context.Context, req *sluice.Request) (int64, error) {
	t, ok := ts[req.Connection]
	if !ok {
		return -1, fmt.Errorf("no upstream target for connection %q", req.Connection)
	}
	cfg, err := config(t)
	if err != nil {
		return -1, err
	}
	cfg.RuntimeParams["application_name"] = "sluice impact estimate"
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return -1, fmt.Errorf("connect for estimate: %w", scrub(err, t.Password))
	}
	defer pc.Close(context.WithoutCancel(ctx))
	if err := pc.Exec(ctx, "BEGIN READ ONLY; SET LOCAL statement_timeout = '2s'").Close(); err != nil {
		return -1, err
	}
	params := make([][]byte, len(req.Params))
	for i, p := range req.Params {
		if p != nil {
			params[i] = []byte(*p)
		}
	}
	res := pc.ExecParams(ctx, "EXPLAIN (FORMAT JSON) "+req.Text, params, nil, nil, nil).Read()
	pc.Exec(ctx, "ROLLBACK").Close()
	if res.Err != nil {
		return -1, fmt.Errorf("explain: %w", res.Err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return -1, errors.New("explain returned no plan")
	}
	return planRows(res.Rows[0][0])
}

// planRows reads the estimated rows of a JSON plan; for an INSERT, UPDATE,
// DELETE or MERGE it is the rows the modifying node is fed.
func planRows(js []byte) (int64, error) {
	type node struct {
		Type  string  `json:"Node Type"`
		Rows  float64 `json:"Plan Rows"`
		Plans []node  `json:"Plans"`
	}
	var plans []struct{ Plan node }
	if err := json.Unmarshal(js, &plans); err != nil || len(plans) == 0 {
		return -1, fmt.Errorf("unreadable plan: %v", err)
	}
	n := plans[0].Plan
	if n.Type == "ModifyTable" && len(n.Plans) > 0 {
		n = n.Plans[0]
	}
	return int64(n.Rows), nil
}
