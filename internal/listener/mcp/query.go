package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
)

// QueryInput is the input of query.
type QueryInput struct {
	Connection string `json:"connection" jsonschema:"the connection name, from list_connections"`
	SQL        string `json:"sql" jsonschema:"the SQL to run (PostgreSQL); several statements separated by ; run as one request"`
	MaxRows    int    `json:"max_rows,omitempty" jsonschema:"how many rows to return: default 100, at most 1000"`
}

// DescribeInput is the input of describe.
type DescribeInput struct {
	Connection string `json:"connection" jsonschema:"the connection name, from list_connections"`
	Schema     string `json:"schema,omitempty" jsonschema:"only this schema"`
	Table      string `json:"table,omitempty" jsonschema:"one table, view or schema.table: its columns in detail"`
}

// ResultOutput is the result of query and describe.
type ResultOutput struct {
	Status     string       `json:"status" jsonschema:"ok, or pending_review when a rule holds the statement for approval"`
	Connection string       `json:"connection"`
	Tag        string       `json:"tag,omitempty" jsonschema:"the command tag, like SELECT 3 or UPDATE 1"`
	Columns    []ColumnInfo `json:"columns,omitempty"`
	Rows       [][]*string  `json:"rows,omitempty" jsonschema:"values as text, null for NULL"`
	RowCount   int64        `json:"row_count" jsonschema:"how many rows the statement returned"`
	Truncated  bool         `json:"truncated" jsonschema:"rows or values were left out (max_rows or size limits)"`
	DurationMS int64        `json:"duration_ms"`
	Review     *ReviewInfo  `json:"review,omitempty" jsonschema:"the review that holds the statement (status pending_review)"`
	Next       string       `json:"next,omitempty" jsonschema:"what to do next"`
}

// ColumnInfo is one result column.
type ColumnInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result statuses of query and describe.
const (
	StatusOK            = "ok"
	StatusPendingReview = "pending_review"
)

func (s *Server) query(ctx context.Context, req *sdk.CallToolRequest, in QueryInput) (*sdk.CallToolResult, ResultOutput, error) {
	switch {
	case in.MaxRows < 0:
		return nil, ResultOutput{}, errors.New("max_rows must be between 1 and 1000 (default 100)")
	case in.MaxRows == 0:
		in.MaxRows = DefaultMaxRows
	}
	in.MaxRows = min(in.MaxRows, MaxRows)
	if strings.TrimSpace(in.SQL) == "" {
		return nil, ResultOutput{}, errors.New("sql is empty: pass the SQL statement to run")
	}
	if strings.ContainsRune(in.SQL, 0) {
		return nil, ResultOutput{}, errors.New("sql must not contain NUL characters")
	}
	return s.run(ctx, req, in.Connection, in.SQL, in.MaxRows, "")
}

func (s *Server) describe(ctx context.Context, req *sdk.CallToolRequest, in DescribeInput) (*sdk.CallToolResult, ResultOutput, error) {
	sql, err := describeSQL(in.Schema, in.Table)
	if err != nil {
		return nil, ResultOutput{}, err
	}
	title := fmt.Sprintf("Tables of connection %s", in.Connection)
	switch {
	case in.Table != "":
		title = fmt.Sprintf("Columns of %s on connection %s", in.Table, in.Connection)
	case in.Schema != "":
		title = fmt.Sprintf("Tables of schema %s on connection %s", in.Schema, in.Connection)
	}
	res, out, err := s.run(ctx, req, in.Connection, sql, MaxRows, title)
	if err == nil && out.Status == StatusOK && out.RowCount == 0 {
		if in.Table != "" {
			return nil, out, fmt.Errorf("no table or view %q on connection %s that sluice's database user can see; "+
				"call describe without table to list them", in.Table, in.Connection)
		}
		res = textResult(fmt.Sprintf("%s: none that sluice's database user can see.", title))
	}
	return res, out, err
}

// run runs sql as one request of c's gate session on connection conn: the
// gate decides and records it, holds it for review when a rule says so,
// and it is executed, masked and recorded. title heads the text result;
// empty uses the command tag.
func (s *Server) run(ctx context.Context, req *sdk.CallToolRequest, conn, sql string, maxRows int, title string) (*sdk.CallToolResult, ResultOutput, error) {
	c, err := callerOf(req.Extra)
	if err != nil {
		return nil, ResultOutput{}, toolError(err)
	}
	if conn == "" {
		return nil, ResultOutput{}, errors.New("connection is required; list_connections shows the ones you may use")
	}
	if s.Connections[conn] == sluice.ConnHTTP {
		return nil, ResultOutput{}, fmt.Errorf("%q is an HTTP API connection: use the http_request tool", conn)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	uc, release, err := s.acquire(ctx, req.Session, c, conn)
	if err != nil {
		return nil, ResultOutput{}, toolError(err)
	}
	defer release()
	ctx, stop := mergeCancel(ctx, uc.ctx)
	defer stop()

	r := &sluice.Request{Kind: sluice.KindSQL, Text: sql}
	d, err := uc.gs.Begin(ctx, r)
	if err != nil {
		return nil, ResultOutput{}, toolError(err)
	}
	if d.Action == sluice.ActionReview {
		pending, err := s.hold(ctx, req, uc, r, d, c)
		if err != nil {
			return nil, ResultOutput{}, toolError(err)
		}
		if pending != nil {
			return textResult(pendingText(pending)), *pending, nil
		}
	}
	// The gate masks the request's copy for the journal; the database
	// gets the statement as the agent wrote it.
	rs, err := s.execute(ctx, uc, r, sql, maxRows)
	if err != nil {
		return nil, ResultOutput{}, err
	}
	out := rs.output(conn)
	return textResult(rs.text(title, conn)), out, nil
}

// mergeCancel returns ctx, canceled also when other ends.
func mergeCancel(ctx, other context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return ctx, func() { stop(); cancel() }
}

// execute runs an admitted request's sql on the upstream connection, masks
// what comes back and records the result. The error is the tool error when the
// statement failed.
func (s *Server) execute(ctx context.Context, uc *upConn, r *sluice.Request, sql string, maxRows int) (*resultSet, error) {
	start := time.Now()
	rs := &resultSet{maxRows: maxRows}
	var tags []string
	var dataRows int64
	var execErr error
	mrr := uc.pc.Exec(ctx, sql)
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		var cur *resultSet
		if fields := rr.FieldDescriptions(); len(fields) > 0 {
			cur = &resultSet{maxRows: maxRows}
			if err := cur.begin(ctx, s, uc, fields); err != nil {
				execErr = err
			}
		}
		for rr.NextRow() {
			dataRows++
			if cur != nil && execErr == nil {
				if err := cur.add(rr.Values()); err != nil {
					execErr = err
				}
			}
		}
		tag, err := rr.Close()
		if err != nil {
			break // the multi-result reader reports it
		}
		tags = append(tags, tag.String())
		if cur != nil {
			rs = cur // the last result set with columns is the one shown
		}
	}
	err := mrr.Close()
	rs.tag = strings.Join(tags, "; ")
	rs.duration = time.Since(start)

	res := &sluice.Result{Tag: rs.tag, Rows: dataRows, Duration: rs.duration, Status: sluice.StatusOK}
	var toolErr error
	switch {
	case err != nil:
		res.Status = sluice.StatusError
		res.Error, toolErr = s.upstreamError(ctx, uc, err)
		if uc.pc.IsClosed() {
			res.Status = sluice.StatusAborted
		}
	case execErr != nil:
		// Masking failed: the agent sees nothing of the result.
		s.Log.Error("masking failed; result withheld", "session", uc.gs.ID(), "request", r.ID, "err", execErr)
		res.Status, res.Error = sluice.StatusError, "result withheld: masking failed"
		toolErr = errors.New("sluice could not mask this result, so it withheld it; ask an operator to check the gateway log")
	default:
		res.Capture = rs.capture(s.CaptureRows, s.CaptureBytes)
	}
	if c, ok := rs.masker.(interface{ Counts() map[string]uint64 }); ok {
		res.Masked = c.Counts()
	}
	if ex, ok := rs.masker.(interface{ Exempt() bool }); ok && ex.Exempt() {
		res.Unmasked = true
	}
	uc.gs.Done(context.WithoutCancel(ctx), r, res)
	return rs, toolErr
}
