package gate

import (
	"bytes"
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
	maskRequest(s.gate.StatementMask, req)
	maskRequest(s.policy.Mask, req)
}

// maskRequest masks req's text and parameters with m.
func maskRequest(m *mask.Engine, req *sluice.Request) {
	if m == nil {
		return
	}
	req.Text = maskString(m, req.Text)
	var params []*string // a copy: the front door may reuse the original
	for i, p := range req.Params {
		if p == nil {
			continue
		}
		if v := maskString(m, *p); v != *p {
			if params == nil {
				params = slices.Clone(req.Params)
			}
			params[i] = &v
		}
	}
	if params != nil {
		req.Params = params
	}
}

// maskString masks s, returning s itself when nothing matched.
func maskString(m *mask.Engine, s string) string {
	out := m.Text(nil, []byte(s), nil)
	if bytes.Equal(out, []byte(s)) {
		return s
	}
	return string(out)
}
