package gate

import (
	"context"
	"slices"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mask"
)

// maskStatement masks req's text and parameters, in place, for everything
// that records the request: the gateway's secrets everywhere, and what the
// session's policy masks in results (what the audit trail must not hold in
// clear either). The bytes forwarded upstream are the client's own and
// never change.
func (s *Session) maskStatement(req *sluice.Request) {
	text, params := req.Text, req.Params
	maskRequest(s.gate.StatementMask, req)
	maskRequest(s.policy.Mask, req)
	if req.Text != text || !slices.Equal(req.Params, params) {
		req.Masked = true
	}
}

// maskRequest masks req's text and parameters with m.
func maskRequest(m *mask.Engine, req *sluice.Request) {
	if m == nil {
		return
	}
	req.Text = m.String(req.Text)
	var params []*string // a copy: the front door may reuse the original
	for i, p := range req.Params {
		if p == nil {
			continue
		}
		if v := m.String(*p); v != *p {
			if params == nil {
				params = slices.Clone(req.Params)
			}
			params[i] = &v
		}
	}
	if params != nil {
		req.Params = params
	}
	if h := req.HTTP; h != nil {
		c := *h // a copy: the front door may still use the original
		c.URL = m.String(c.URL)
		c.Body = maskBody(m, c.Body)
		if len(c.Headers) > 0 {
			c.Headers = make(map[string]string, len(h.Headers))
			for k, v := range h.Headers {
				c.Headers[k] = m.String(v)
			}
		}
		req.HTTP = &c
	}
}

// maskBody masks a captured body: as JSON when it is a whole JSON
// document, so that path rules apply and it stays JSON, else as text.
func maskBody(m *mask.Engine, body string) string {
	if body == "" {
		return body
	}
	if out, err := m.JSON(nil, []byte(body), nil); err == nil {
		return string(out)
	}
	return m.String(body)
}

// TableNamer names a table of a connection by its OID ("schema.table"), for
// masking rules by table and column.
type TableNamer interface {
	TableName(ctx context.Context, connection string, oid uint32) (string, error)
}

// ColumnMasker returns the masker of a result column named column of
// connection, whose table has OID oid (0 for an expression), or nil when
// nothing masks it; tables may be nil (rules then match by column name).
// When the table cannot be named, it fails closed: the column is masked as
// if every rule for its name applied, whatever table the rule names, and
// the lookup's error is returned for the caller to log or act on.
func ColumnMasker(ctx context.Context, tables TableNamer, m *mask.Engine, connection string, oid uint32, column string) (*mask.ColumnMasker, error) {
	if oid == 0 || tables == nil {
		return m.Column("", column), nil
	}
	name, err := tables.TableName(ctx, connection, oid)
	if err != nil {
		return m.ColumnOfUnknownTable(column), err
	}
	return m.Column(name, column), nil
}
