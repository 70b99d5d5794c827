package pgwire

import (
	"encoding/binary"
	"encoding/hex"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
)

// capture keeps the first rows of one result as the client receives them,
// within a row and a byte budget. It belongs to the upstream loop.
type capture struct {
	res      sluice.Capture
	maxRows  int
	maxBytes int
	done     bool // stop capturing (budget spent or a second result set)
}

// newCapture starts a capture for columns cols, in their final formats.
func newCapture(cols []colDesc, maxRows, maxBytes int) *capture {
	c := &capture{maxRows: maxRows, maxBytes: maxBytes, done: maxRows == 0 || maxBytes == 0}
	c.res.Columns = publicColumns(cols)
	return c
}

// colDesc is one column of a result as RowDescription describes it.
type colDesc struct {
	sluice.Column
	TableOID uint32
}

// columns decodes a RowDescription.
func columns(body []byte) []colDesc {
	var rd pgproto3.RowDescription
	if err := rd.Decode(body); err != nil {
		return nil
	}
	cols := make([]colDesc, len(rd.Fields))
	for i, f := range rd.Fields {
		cols[i] = colDesc{Column: sluice.Column{Name: string(f.Name), TypeOID: f.DataTypeOID, Format: f.Format}, TableOID: f.TableOID}
	}
	return cols
}

// withFormats returns cols with Bind's result format codes applied (none
// means text, one applies to all).
func withFormats(cols []colDesc, formats []int16) []colDesc {
	out := make([]colDesc, len(cols))
	copy(out, cols)
	for i := range out {
		switch {
		case len(formats) == 0:
			out[i].Format = 0
		case len(formats) == 1:
			out[i].Format = formats[0]
		case i < len(formats):
			out[i].Format = formats[i]
		}
	}
	return out
}

// publicColumns drops what only sluice needs.
func publicColumns(cols []colDesc) []sluice.Column {
	out := make([]sluice.Column, len(cols))
	for i, c := range cols {
		out[i] = c.Column
	}
	return out
}

// row captures one DataRow body, or notes that it was left out.
func (c *capture) row(body []byte) {
	if c.done {
		c.res.Truncated = true
		return
	}
	if len(c.res.Rows) >= c.maxRows {
		c.done, c.res.Truncated = true, true
		return
	}
	if len(body) < 2 {
		return
	}
	n := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	vals := make([]*string, n)
	for i := 0; i < n; i++ {
		if len(body) < 4 {
			return
		}
		l := int(int32(binary.BigEndian.Uint32(body)))
		body = body[4:]
		if l < 0 {
			continue // NULL
		}
		if l > len(body) {
			return
		}
		v := body[:l]
		body = body[l:]
		if c.res.Bytes+l > c.maxBytes {
			c.done, c.res.Truncated = true, true
			return
		}
		c.res.Bytes += l
		var str string
		if i < len(c.res.Columns) && c.res.Columns[i].Format == 1 {
			str = `\x` + hex.EncodeToString(v)
		} else {
			str = string(v)
		}
		vals[i] = &str
	}
	c.res.Rows = append(c.res.Rows, vals)
}

// tooLarge notes a row too large to hold, which is not captured.
func (c *capture) tooLarge() { c.done, c.res.Truncated = true, true }

// result returns the captured part, or nil when nothing was described.
func (c *capture) result() *sluice.Capture {
	if c == nil || len(c.res.Columns) == 0 && len(c.res.Rows) == 0 {
		return nil
	}
	return &c.res
}
