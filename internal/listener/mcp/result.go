package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice"
)

// Size limits of what a result shows the agent.
const (
	// maxCellBytes caps one value; a longer one is cut.
	maxCellBytes = 16 << 10
	// maxResultBytes caps the values of one result; rows past it are left
	// out.
	maxResultBytes = 1 << 20
	// maxTextWidth caps a column's width in the text table; the structured
	// result has the whole value.
	maxTextWidth = 60
)

// resultSet is what the agent gets of one result set: the columns, the
// first rows (masked), and how many there were.
type resultSet struct {
	maxRows   int
	cols      []sluice.Column
	types     []string
	masker    RowMasker
	rows      [][]*string // what the agent receives
	audit     [][]*string // the journal's copy, when it differs (exempt agents)
	bytes     int
	seen      int64 // rows the statement returned
	truncated bool
	tag       string
	duration  time.Duration
}

// begin sets up the result set for its RowDescription.
func (rs *resultSet) begin(ctx context.Context, s *Server, uc *upConn, fields []pgconn.FieldDescription) error {
	rs.cols = make([]sluice.Column, len(fields))
	rs.types = make([]string, len(fields))
	mcols := make([]Column, len(fields))
	for i, f := range fields {
		rs.cols[i] = sluice.Column{Name: f.Name, TypeOID: f.DataTypeOID, Format: f.Format}
		rs.types[i] = typeName(f.DataTypeOID)
		mcols[i] = Column{Name: f.Name, TableOID: f.TableOID, TableAttr: f.TableAttributeNumber, TypeOID: f.DataTypeOID, Format: f.Format}
	}
	if s.Masker == nil {
		return nil
	}
	m, err := s.Masker.Result(ctx, uc.gs, mcols)
	if err != nil {
		return fmt.Errorf("prepare masking: %w", err)
	}
	rs.masker = m
	return nil
}

// add takes one row, as pgconn returns it (valid until the next row).
func (rs *resultSet) add(values [][]byte) error {
	rs.seen++
	if len(rs.rows) >= rs.maxRows || rs.bytes >= maxResultBytes {
		rs.truncated = true
		return nil
	}
	row := make([][]byte, len(values))
	for i, v := range values {
		if v != nil {
			row[i] = append([]byte{}, v...)
		}
	}
	if ex, ok := rs.masker.(interface{ Exempt() bool }); ok && ex.Exempt() {
		// The agent sees clear values; the journal keeps a masked copy.
		clearRow := make([][]byte, len(row))
		copy(clearRow, row)
		masked, err := rs.masker.MaskRow(row)
		if err != nil {
			return fmt.Errorf("mask row: %w", err)
		}
		rs.audit = append(rs.audit, rs.cells(masked, false))
		row = clearRow
	} else if rs.masker != nil {
		var err error
		if row, err = rs.masker.MaskRow(row); err != nil {
			return fmt.Errorf("mask row: %w", err)
		}
		if len(row) != len(rs.cols) {
			return errors.New("mask row: the masker changed the number of values")
		}
	}
	rs.rows = append(rs.rows, rs.cells(row, true))
	return nil
}

// cells turns a row's values into strings, cutting long ones; count adds
// them to the bytes the agent receives.
func (rs *resultSet) cells(row [][]byte, count bool) []*string {
	out := make([]*string, len(row))
	for i, v := range row {
		if v == nil {
			continue
		}
		if len(v) > maxCellBytes {
			v = append(cutUTF8(v, maxCellBytes), fmt.Sprintf("… [%d more bytes]", len(v)-maxCellBytes)...)
			rs.truncated = true
		}
		str := string(v)
		out[i] = &str
		if count {
			rs.bytes += len(v)
		}
	}
	return out
}

// cutUTF8 returns at most n bytes of b, not splitting a character.
func cutUTF8(b []byte, n int) []byte {
	b = b[:n]
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size > 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return append([]byte{}, b...)
}

// capture is what the audit record keeps of the result: its first rows as
// the agent received them, within the row and byte caps.
func (rs *resultSet) capture(maxRows, maxBytes int) *sluice.Capture {
	if len(rs.cols) == 0 {
		return nil
	}
	c := &sluice.Capture{Columns: rs.cols, Truncated: rs.truncated}
	rows := rs.rows
	if rs.audit != nil {
		rows = rs.audit
	}
	for _, row := range rows {
		n := 0
		for _, v := range row {
			if v != nil {
				n += len(*v)
			}
		}
		if len(c.Rows) >= maxRows || c.Bytes+n > maxBytes {
			c.Truncated = true
			break
		}
		c.Rows = append(c.Rows, row)
		c.Bytes += n
	}
	return c
}

// output is the structured result.
func (rs *resultSet) output(conn string) ResultOutput {
	out := ResultOutput{Status: StatusOK, Connection: conn, Tag: rs.tag, Rows: rs.rows, RowCount: rs.seen,
		Truncated: rs.truncated, DurationMS: rs.duration.Milliseconds()}
	for i, c := range rs.cols {
		out.Columns = append(out.Columns, ColumnInfo{Name: c.Name, Type: rs.types[i]})
	}
	if len(rs.cols) > 0 && out.Rows == nil {
		out.Rows = [][]*string{}
	}
	return out
}

// text renders the result as a compact table for the agent to read.
func (rs *resultSet) text(title, conn string) string {
	var b strings.Builder
	if title == "" {
		title = rs.tag
		if title == "" {
			title = "OK"
		}
		title += " on " + conn
	}
	fmt.Fprintf(&b, "%s (%s)\n", title, rs.duration.Round(time.Millisecond))
	if len(rs.cols) == 0 {
		return b.String()
	}
	widths := make([]int, len(rs.cols))
	cells := make([][]string, 0, len(rs.rows)+1)
	header := make([]string, len(rs.cols))
	for i, c := range rs.cols {
		header[i] = clip(escape(c.Name))
	}
	cells = append(cells, header)
	for _, row := range rs.rows {
		line := make([]string, len(row))
		for i, v := range row {
			if v == nil {
				line[i] = "NULL"
			} else {
				line[i] = clip(escape(*v))
			}
		}
		cells = append(cells, line)
	}
	for _, line := range cells {
		for i, cell := range line {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for n, line := range cells {
		for i, cell := range line {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(cell)
			if i < len(line)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)))
			}
		}
		b.WriteByte('\n')
		if n == 0 {
			for i, w := range widths {
				if i > 0 {
					b.WriteString("-+-")
				}
				b.WriteString(strings.Repeat("-", w))
			}
			b.WriteByte('\n')
		}
	}
	switch {
	case int64(len(rs.rows)) < rs.seen:
		fmt.Fprintf(&b, "(%d of %d rows shown; pass max_rows (at most %d) or narrow the query to see others)\n", len(rs.rows), rs.seen, MaxRows)
	case rs.seen == 1:
		b.WriteString("(1 row)\n")
	default:
		fmt.Fprintf(&b, "(%d rows)\n", rs.seen)
	}
	if rs.truncated && int64(len(rs.rows)) == rs.seen {
		fmt.Fprintf(&b, "(long values were cut at %d bytes)\n", maxCellBytes)
	}
	return b.String()
}

// escape makes a value fit on one line of the table.
func escape(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

// clip shortens s to maxTextWidth characters.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxTextWidth {
		return s
	}
	r := []rune(s)
	return string(r[:maxTextWidth-1]) + "…"
}

var (
	typesMu sync.Mutex
	types   = pgtype.NewMap()
)

// typeName names a PostgreSQL type by OID.
func typeName(oid uint32) string {
	typesMu.Lock()
	t, ok := types.TypeForOID(oid)
	typesMu.Unlock()
	if ok {
		return t.Name
	}
	return fmt.Sprintf("oid %d", oid)
}

// upstreamError turns a failed statement into the result's error text and
// the tool error the agent sees, masked like results.
func (s *Server) upstreamError(ctx context.Context, uc *upConn, err error) (string, error) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if ctx.Err() != nil {
			return "canceled", errors.New("the statement was canceled")
		}
		s.Log.Warn("upstream statement failed", "session", uc.gs.ID(), "err", err)
		return "connection failure", fmt.Errorf("the connection to the database behind %q failed; call again to reconnect", uc.name)
	}
	msg := fmt.Sprintf("ERROR %s: %s", pe.Code, pe.Message)
	if pe.Detail != "" {
		msg += "\nDETAIL: " + pe.Detail
	}
	if pe.Hint != "" {
		msg += "\nHINT: " + pe.Hint
	}
	if s.Masker != nil {
		masked, merr := s.Masker.Text(ctx, uc.gs, msg)
		if merr != nil {
			s.Log.Error("masking an error failed; error withheld", "session", uc.gs.ID(), "err", merr)
			return pe.Code + ": (withheld: masking failed)", fmt.Errorf("ERROR %s (the message was withheld: sluice could not mask it)", pe.Code)
		}
		msg = masked
	}
	return pe.Code + ": " + strings.TrimPrefix(strings.SplitN(msg, "\n", 2)[0], "ERROR "+pe.Code+": "), errors.New(msg)
}
