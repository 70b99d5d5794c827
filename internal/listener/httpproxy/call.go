package httpproxy

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// Call is an HTTP request an agent makes without speaking HTTP to sluice,
// as the MCP http_request tool does. It takes the same path as a proxied
// request: the same session handling, gate, masking and journal.
type Call struct {
	Identity   *sluice.Identity
	Addr       netip.AddrPort
	Protocol   sluice.Protocol
	Connection string
	Method     string
	// Path is the path under the connection, with an optional ?query.
	Path   string
	Header http.Header
	Body   []byte
	// HoldWait shortens a review hold: when it ends, Reply.Review names
	// the review that is still open. OnHold, when set, is told when a
	// hold begins and returns the function called when it ends.
	HoldWait time.Duration
	OnHold   func(d sluice.Decision, wait time.Duration) (stop func())
	// MaxBody caps the response body returned.
	MaxBody int
}

// Reply is the answer to a Call, as the agent receives it.
type Reply struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool
	// Review names the review that held the request when the hold did not
	// end in an approval.
	Review string
}

// Call runs c. Its error is for a call that names no HTTP connection or is
// malformed; everything else, refusals included, is in the reply.
func (s *Server) Call(ctx context.Context, c *Call) (*Reply, error) {
	s.init()
	cn := s.Conns[c.Connection]
	if cn == nil {
		return nil, sluice.Errorf(sluice.ENotFound, "no HTTP connection %q", c.Connection)
	}
	if !strings.HasPrefix(c.Path, "/") {
		return nil, sluice.Errorf(sluice.EInvalid, "the path must start with /")
	}
	r, err := http.NewRequestWithContext(ctx, c.Method, "http://sluice/proxy/"+c.Connection+c.Path, bytes.NewReader(c.Body))
	if err != nil {
		return nil, sluice.Errorf(sluice.EInvalid, "bad request: %v", err)
	}
	if c.Header != nil {
		r.Header = c.Header.Clone()
	}
	_, rest := splitProxyPath(r.URL.EscapedPath())
	rec := &recorder{header: http.Header{}, max: c.MaxBody}
	s.proxy(rec, r, &caller{id: c.Identity, addr: c.Addr, protocol: c.Protocol}, cn, rest, hold{wait: c.HoldWait, onHold: c.OnHold})
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &Reply{Status: rec.status, Header: rec.header, Body: rec.body.Bytes(), Truncated: rec.cut,
		Review: rec.header.Get(ReviewHeader)}, nil
}

// recorder is the ResponseWriter of a Call: it keeps the status, headers
// and the body up to a cap.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	max    int
	cut    bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	room := r.max - r.body.Len()
	if len(b) > room {
		r.body.Write(b[:max(room, 0)])
		r.cut = true
		return len(b), nil
	}
	return r.body.Write(b)
}

// Flush lets the stream flush; a Call's reply is read at the end.
func (r *recorder) Flush() {}
