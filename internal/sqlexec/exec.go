// Package sqlexec runs statements the gate admitted on an upstream
// PostgreSQL connection that sluice drives itself (for `sluice run` and
// `sluice audit replay --against`), masks what comes back with the
// session's policy, keeps the first rows for the caller, and records the
// result in the session's audit trail, as the PostgreSQL front door does
// for the rows it relays.
package sqlexec

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/mask"
)

// DefaultKeepRows is how many rows of a result the caller gets by default.
const DefaultKeepRows = 1000

// Executor runs admitted statements. Set its fields before use; it is safe
// for concurrent use afterwards (each Run uses its own connection).
type Executor struct {
	// Tables names the tables behind result columns; nil matches masking
	// rules by column name only.
	Tables gate.TableNamer
	// CaptureRows and CaptureBytes bound what the journal keeps of each
	// result (audit.capture_rows and capture_bytes).
	CaptureRows, CaptureBytes int
	// KeepRows bounds the rows of a result the caller gets. Default
	// DefaultKeepRows.
	KeepRows int
	Log      *slog.Logger
}

// Statement is what to send.
type Statement struct {
	Text string
	// Params are the parameters as text, nil for NULL; ParamFormats say
	// which were sent in binary format and are recorded as \x-prefixed
	// hex (they are sent as the bytes the hex stands for).
	Params       []*string
	ParamFormats []int16
	// ResultFormats are the result format codes to ask for (none: text;
	// one: all columns): binary values come back as \x-prefixed hex, as
	// the journal captures them.
	ResultFormats []int16
	// Extended sends the statement with the extended protocol (one
	// statement, with Params and ResultFormats); otherwise it goes as a
	// simple query, which may hold several statements.
	Extended bool
}

// Outcome is what a statement returned, as its caller may see it.
type Outcome struct {
	// Result is what was recorded in the journal.
	Result *sluice.Result
	// Columns, Rows and Truncated are the first result set with columns:
	// its first KeepRows rows, masked unless the session is exempt.
	Columns   []sluice.Column
	Rows      [][]*string
	Truncated bool
	// Err is set when the statement failed; Result.Error is its text for
	// the caller ("SQLSTATE: message", masked).
	Err error
}

// StartupParams are the startup parameters of an upstream connection
// opened by sluice itself: the settings the classifier relies on (text is
// UTF-8, backslashes in strings are literal), and read-only mode when the
// session's policy only lets reads through.
func StartupParams(app string, readOnly bool) map[string]string {
	p := map[string]string{
		"application_name":            app,
		"client_encoding":             "UTF8",
		"standard_conforming_strings": "on",
	}
	if readOnly {
		p["default_transaction_read_only"] = "on"
	}
	return p
}

// Run sends st on pc for req, which gs admitted (Begin or BeginPart), and
// records req's result with gs.Done. The statement is canceled upstream
// when ctx ends.
func (e *Executor) Run(ctx context.Context, gs *gate.Session, pc *pgconn.PgConn, req *sluice.Request, st Statement) *Outcome {
	start := time.Now()
	rs := e.newResults(gs)
	var tags []string
	var rows int64
	var err error
	if st.Extended {
		values, formats := params(st.Params, st.ParamFormats)
		rr := pc.ExecParams(ctx, st.Text, values, nil, formats, st.ResultFormats)
		e.read(ctx, gs, rs, rr)
		var tag pgconn.CommandTag
		if tag, err = rr.Close(); err == nil {
			tags, rows = append(tags, tag.String()), count(tag.String(), rs.last)
		}
	} else {
		mrr := pc.Exec(ctx, st.Text)
		for mrr.NextResult() {
			rr := mrr.ResultReader()
			e.read(ctx, gs, rs, rr)
			tag, cerr := rr.Close()
			if cerr != nil {
				break // the multi-result reader reports it
			}
			tags = append(tags, tag.String())
			rows += count(tag.String(), rs.last)
		}
		err = mrr.Close()
	}
	res := &sluice.Result{Tag: strings.Join(tags, "; "), Rows: rows, Duration: time.Since(start), Status: sluice.StatusOK,
		Unmasked: rs.exempt}
	out := &Outcome{Result: res, Columns: rs.cols, Rows: rs.rows, Truncated: rs.truncated}
	if err != nil {
		res.Status, res.Error, out.Err = sluice.StatusError, e.errorText(ctx, gs, err), err
		if pc.IsClosed() {
			res.Status = sluice.StatusAborted
		}
	}
	if rs.cols != nil {
		res.Capture = &rs.capture
	}
	if rs.counts.Total() > 0 {
		res.Masked = rs.counts.Map()
	}
	gs.Done(context.WithoutCancel(ctx), req, res)
	return out
}

// params turns recorded parameters into what pgconn sends, with their
// format codes: a binary one goes as the bytes its hex stands for.
func params(ps []*string, formats []int16) ([][]byte, []int16) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([][]byte, len(ps))
	var fs []int16
	for i, p := range ps {
		if p == nil {
			continue
		}
		out[i] = []byte(*p)
		if i >= len(formats) || formats[i] != 1 {
			continue
		}
		if b, err := hex.DecodeString(strings.TrimPrefix(*p, `\x`)); err == nil && strings.HasPrefix(*p, `\x`) {
			if fs == nil {
				fs = make([]int16, len(ps))
			}
			out[i], fs[i] = b, 1
		}
	}
	return out, fs
}

// count is the rows of one command: its tag's count when the tag carries
// one, else the data rows it returned.
func count(tag string, dataRows int64) int64 {
	verb, rest, ok := strings.Cut(tag, " ")
	if ok {
		switch verb {
		case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "FETCH", "MOVE":
			if i := strings.LastIndexByte(rest, ' '); i >= 0 {
				rest = rest[i+1:]
			}
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil {
				return n
			}
		}
	}
	return dataRows
}

// results gathers the rows of one statement: the first result set with
// columns is kept (as the journal captures it); later ones are counted.
type results struct {
	keep, capRows, capBytes int
	engine                  *mask.Engine
	exempt                  bool

	cols      []sluice.Column
	maskers   []*mask.ColumnMasker
	rows      [][]*string
	truncated bool
	capture   sluice.Capture
	capDone   bool
	counts    mask.Counts
	last      int64 // data rows of the result set being read
}

func (e *Executor) newResults(gs *gate.Session) *results {
	keep := e.KeepRows
	if keep <= 0 {
		keep = DefaultKeepRows
	}
	eng, exempt := gs.Masking()
	return &results{keep: keep, capRows: e.CaptureRows, capBytes: e.CaptureBytes, engine: eng, exempt: exempt,
		capDone: e.CaptureRows == 0 || e.CaptureBytes == 0}
}

// read reads one result set.
func (e *Executor) read(ctx context.Context, gs *gate.Session, rs *results, rr *pgconn.ResultReader) {
	rs.last = 0
	fields := rr.FieldDescriptions()
	first := len(fields) > 0 && rs.cols == nil
	if first {
		e.describe(ctx, gs, rs, fields)
	} else if len(fields) > 0 {
		rs.capture.Truncated = true // a second result set is not captured
	}
	for rr.NextRow() {
		rs.last++
		if first {
			rs.add(rr.Values())
		}
	}
}

// describe sets up the kept result set for its columns.
func (e *Executor) describe(ctx context.Context, gs *gate.Session, rs *results, fields []pgconn.FieldDescription) {
	rs.cols = make([]sluice.Column, len(fields))
	for i, f := range fields {
		rs.cols[i] = sluice.Column{Name: f.Name, TypeOID: f.DataTypeOID, Format: f.Format}
	}
	rs.capture.Columns = rs.cols
	if rs.engine == nil {
		return
	}
	rs.maskers = make([]*mask.ColumnMasker, len(fields))
	for i, f := range fields {
		m, err := gate.ColumnMasker(ctx, e.Tables, rs.engine, gs.Info().Connection, f.TableOID, f.Name)
		if err != nil {
			e.log().Warn("name a result table for masking; masking as if every table rule applied", "session", gs.ID(),
				"oid", f.TableOID, "err", err)
		}
		rs.maskers[i] = m
	}
}

// add takes one row of the kept result set (valid until the next row).
func (rs *results) add(values [][]byte) {
	wantRow, wantCapture := len(rs.rows) < rs.keep, !rs.capDone
	if !wantRow {
		rs.truncated = true
	}
	if !wantCapture {
		rs.capture.Truncated = true
	}
	if !wantRow && !wantCapture {
		return
	}
	clear := rs.cells(values)
	masked := clear
	if rs.maskers != nil {
		masked = rs.cells(rs.mask(values))
	}
	if wantRow {
		if rs.exempt {
			rs.rows = append(rs.rows, clear)
		} else {
			rs.rows = append(rs.rows, masked)
		}
	}
	if wantCapture {
		rs.captureRow(masked)
	}
}

// mask returns a masked copy of a row; a value the engine cannot mask is
// withheld (NULL), never passed through.
func (rs *results) mask(values [][]byte) [][]byte {
	out := make([][]byte, len(values))
	for i, v := range values {
		if v == nil || i >= len(rs.maskers) || rs.maskers[i] == nil {
			out[i] = v
			continue
		}
		m, err := rs.maskers[i].Value(nil, rs.cols[i].TypeOID, rs.cols[i].Format, v, &rs.counts)
		if err != nil {
			rs.counts.Add("withheld", 1)
			continue
		}
		out[i] = m
	}
	return out
}

// cells renders values as the journal captures them: text values as they
// are, binary ones as \x-prefixed hex, NULL as nil.
func (rs *results) cells(values [][]byte) []*string {
	out := make([]*string, len(values))
	for i, v := range values {
		if v == nil {
			continue
		}
		var s string
		if i < len(rs.cols) && rs.cols[i].Format == 1 {
			s = `\x` + hex.EncodeToString(v)
		} else {
			s = string(v)
		}
		out[i] = &s
	}
	return out
}

// captureRow adds a row to the journal's capture within its caps.
func (rs *results) captureRow(row []*string) {
	if len(rs.capture.Rows) >= rs.capRows {
		rs.capDone, rs.capture.Truncated = true, true
		return
	}
	n := 0
	for _, v := range row {
		if v != nil {
			n += len(*v)
		}
	}
	if rs.capture.Bytes+n > rs.capBytes {
		rs.capDone, rs.capture.Truncated = true, true
		return
	}
	rs.capture.Rows = append(rs.capture.Rows, row)
	rs.capture.Bytes += n
}

// errorText is a failed statement's error as the caller sees it:
// "SQLSTATE: message", masked like results (error messages can echo data).
func (e *Executor) errorText(ctx context.Context, gs *gate.Session, err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if ctx.Err() != nil {
			return "57014: canceled"
		}
		e.log().Warn("upstream statement failed", "session", gs.ID(), "err", err)
		return "08006: the connection to the database failed"
	}
	msg := fmt.Sprintf("%s: %s", pe.Code, pe.Message)
	if pe.Detail != "" {
		msg += " (" + pe.Detail + ")"
	}
	if eng, exempt := gs.Masking(); eng != nil && !exempt {
		msg = eng.String(msg)
	}
	return msg
}

func (e *Executor) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}
