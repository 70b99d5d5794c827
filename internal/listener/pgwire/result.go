package pgwire

import (
	"context"
	"encoding/binary"

	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/mask"
)

// result is one result set on its way to the client: its columns, the
// maskers that apply to them, the captured rows and the masking counts. It
// belongs to the upstream loop.
type result struct {
	cols    []colDesc
	maskers []*mask.ColumnMasker // nil entries pass through
	masking bool                 // some column has a masker
	cap     *capture
	counts  mask.Counts
	buf     []byte // the rebuilt row, reused
}

// newResult prepares a result for cols, in their final formats.
func (s *session) newResult(ctx context.Context, cols []colDesc) *result {
	r := &result{cols: cols, cap: newCapture(cols, s.capRows, s.capBytes)}
	if s.mask == nil {
		return r
	}
	r.maskers = make([]*mask.ColumnMasker, len(cols))
	for i, c := range cols {
		m, err := gate.ColumnMasker(ctx, s.srv.Tables, s.mask, s.gs.Info().Connection, c.TableOID, c.Name)
		if err != nil {
			s.srv.Log.Warn("name a result table for masking; masking as if every table rule applied", "session", s.gs.ID(),
				"oid", c.TableOID, "err", err)
		}
		if m != nil {
			r.maskers[i], r.masking = m, true
		}
	}
	return r
}

// withheld counts values sluice could not mask and sent as NULL.
const withheld = "withheld"

// maskRow rebuilds a DataRow with masked values and returns the new frame.
// A value the masker cannot handle is withheld (sent as NULL), never passed
// through. A row whose layout does not match the description is withheld
// whole.
func (r *result) maskRow(body []byte) []byte {
	out := append(r.buf[:0], 'D', 0, 0, 0, 0)
	if len(body) < 2 {
		return r.withholdRow(out, 0)
	}
	n := int(binary.BigEndian.Uint16(body))
	if n != len(r.cols) {
		return r.withholdRow(out, n)
	}
	out = append(out, body[:2]...)
	rest := body[2:]
	for i := 0; i < n; i++ {
		if len(rest) < 4 {
			return r.withholdRow(out[:5], n)
		}
		l := int(int32(binary.BigEndian.Uint32(rest)))
		rest = rest[4:]
		if l < 0 {
			out = binary.BigEndian.AppendUint32(out, 0xFFFFFFFF)
			continue
		}
		if l > len(rest) {
			return r.withholdRow(out[:5], n)
		}
		v := rest[:l]
		rest = rest[l:]
		m := r.maskers[i]
		if m == nil {
			out = binary.BigEndian.AppendUint32(out, uint32(l))
			out = append(out, v...)
			continue
		}
		lenAt := len(out)
		out = append(out, 0, 0, 0, 0)
		masked, err := m.Value(out, r.cols[i].TypeOID, r.cols[i].Format, v, &r.counts)
		if err != nil {
			r.counts.Add(withheld, 1)
			out = binary.BigEndian.AppendUint32(out[:lenAt], 0xFFFFFFFF)
			continue
		}
		out = masked
		binary.BigEndian.PutUint32(out[lenAt:], uint32(len(out)-lenAt-4))
	}
	binary.BigEndian.PutUint32(out[1:], uint32(len(out)-1))
	r.buf = out
	return out
}

// withholdRow writes a row of n NULLs.
func (r *result) withholdRow(out []byte, n int) []byte {
	out = append(out[:5], byte(n>>8), byte(n))
	for range n {
		out = binary.BigEndian.AppendUint32(out, 0xFFFFFFFF)
	}
	binary.BigEndian.PutUint32(out[1:], uint32(len(out)-1))
	r.counts.Add(withheld, uint64(max(n, 1)))
	r.buf = out
	return out
}
