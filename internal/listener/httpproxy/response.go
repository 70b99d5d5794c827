package httpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/mask"
	httpup "github.com/sluicehq/sluice/internal/upstream/http"
)

// Limits of streamed units: a text line or a server-sent event longer
// than this is masked in pieces (text) or refused (events).
const (
	maxLine  = 64 << 10
	maxEvent = 1 << 20
)

// bodyKind says how a response body is masked.
type bodyKind int

const (
	kindBinary bodyKind = iota // cannot be masked
	kindJSON                   // one JSON document
	kindText                   // lines of text
	kindSSE                    // server-sent events
)

// kindOf classifies a response body by its headers.
func kindOf(h http.Header) bodyKind {
	if enc := h.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return kindBinary
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		if h.Get("Content-Type") == "" {
			return kindText
		}
		return kindBinary
	}
	switch {
	case mt == "text/event-stream":
		return kindSSE
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return kindJSON
	case strings.HasPrefix(mt, "text/") || mt == "application/x-ndjson" || mt == "application/xml" ||
		strings.HasSuffix(mt, "+xml") || mt == "application/x-www-form-urlencoded" || mt == "application/problem+json":
		return kindText
	}
	return kindBinary
}

// stream is one response on its way to the agent: what it receives and
// the audit record's copy.
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	cn      *Conn
	m       *mask.Engine // nil: nothing is masked
	exempt  bool         // the agent sees clear values; the record is masked
	counts  mask.Counts
	record  []byte // the captured body, as recorded
	max     int
	cut     bool
	written int64
	events  int
	usage   *usageReader // Claude API usage, when reading it
	scrub   [][]byte     // the upstream's secrets, never recorded
	held    []*heldText  // the unsent ends of streamed text, in the order they began (deltas.go)
}

// respond sends resp to the agent, masked as the session's policy says,
// and fills res.
func (s *Server) respond(w http.ResponseWriter, resp *http.Response, gs *gate.Session, cn *Conn, res *sluice.Result) {
	m, exempt := gs.Masking()
	st := &stream{w: w, rc: http.NewResponseController(w), cn: cn, m: m, exempt: exempt, max: s.CaptureBytes}
	for _, sec := range cn.Upstream.Secrets() {
		if sec != "" {
			st.scrub = append(st.scrub, []byte(sec))
		}
	}
	if cn.Anthropic {
		st.usage = &usageReader{}
	}
	kind := kindOf(resp.Header)
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	httpup.RemoveHopHeaders(h)
	for _, name := range cn.Upstream.CredentialHeaders() {
		h.Del(name)
	}
	for k, vs := range h {
		for i, v := range vs {
			vs[i] = string(st.scrubbed([]byte(v)))
		}
		h[k] = vs
	}
	if m != nil && !exempt {
		for k, vs := range h {
			for i, v := range vs {
				vs[i] = string(m.Text(nil, []byte(v), &st.counts))
			}
			h[k] = vs
		}
	}
	res.HTTP.Status = resp.StatusCode
	res.Tag = resp.Status
	res.HTTP.Headers = journalHeaders(h, cn.Upstream.CredentialHeaders())

	var err error
	switch {
	case m == nil && !cn.Anthropic && kind != kindSSE:
		err = st.copy(resp)
	case kind == kindSSE:
		err = st.sse(resp)
	case kind == kindJSON:
		err = st.json(resp, s.MaxBodyBytes)
	case kind == kindText:
		err = st.text(resp)
	default:
		err = st.binary(resp)
	}
	res.HTTP.Body, res.HTTP.BodyBytes, res.HTTP.BodyTruncated = st.recorded(), st.written, st.cut
	res.HTTP.Events = st.events
	if st.usage != nil {
		res.HTTP.Usage = st.usage.result()
	}
	if m != nil {
		res.Masked = mergeCounts(res.Masked, st.counts.Map())
		res.Unmasked = exempt
	}
	switch {
	case err == nil && resp.StatusCode < 400:
		res.Status = sluice.StatusOK
	case err == nil:
		res.Status, res.Error = sluice.StatusError, resp.Status
	case errors.Is(err, errClientGone):
		res.Status, res.Error = sluice.StatusAborted, "the client went away before the response ended"
	default:
		res.Status, res.Error = sluice.StatusError, err.Error()
	}
}

// mergeCounts adds b's counts to a.
func mergeCounts(a, b map[string]uint64) map[string]uint64 {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[string]uint64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// start sends the status line and headers.
func (st *stream) start(resp *http.Response, lengthKnown bool) {
	if !lengthKnown {
		st.w.Header().Del("Content-Length")
	}
	st.w.WriteHeader(resp.StatusCode)
}

// send writes clear bytes to the agent (masked unless exempt) and records
// their masked form. unit masks one unit (document, line or event).
func (st *stream) send(clear []byte, unit func(dst, src []byte, c *mask.Counts) []byte) error {
	out := clear
	if st.m != nil {
		out = unit(nil, clear, &st.counts)
	}
	agent := out
	if st.exempt {
		agent = clear
	}
	// An API that echoes the credential sluice sent never shows it.
	out, agent = st.scrubbed(out), st.scrubbed(agent)
	st.keep(out)
	if len(agent) == 0 {
		return nil
	}
	n, err := st.w.Write(agent)
	st.written += int64(n)
	if err != nil {
		return errClientGone
	}
	return nil
}

// keep adds b to the record, up to the cap.
func (st *stream) keep(b []byte) {
	room := st.max - len(st.record)
	if len(b) > room {
		b, st.cut = cutUTF8(b, max(room, 0)), true
	}
	if len(b) == 0 {
		return
	}
	st.record = append(st.record, b...)
}

// recorded returns the captured body with the upstream's secrets removed
// (again: one could span two units).
func (st *stream) recorded() string { return string(st.scrubbed(st.record)) }

// scrubbed returns b with the upstream's secrets replaced by as many
// asterisks, so that a Content-Length stays true.
func (st *stream) scrubbed(b []byte) []byte {
	for _, sec := range st.scrub {
		if bytes.Contains(b, sec) {
			b = bytes.ReplaceAll(b, sec, bytes.Repeat([]byte("*"), len(sec)))
		}
	}
	return b
}

// flush pushes what was written to the agent now.
func (st *stream) flush() error {
	if err := st.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return errClientGone
	}
	return nil
}

// copy streams a body that nothing masks.
func (st *stream) copy(resp *http.Response) error {
	st.start(resp, true)
	return st.pump(resp.Body)
}

// pump streams the rest of an unmasked body, flushing as it arrives.
func (st *stream) pump(body io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if err := st.send(buf[:n], nil); err != nil {
				return err
			}
			if err := st.flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("reading the upstream response: %w", rerr)
		}
	}
}

// maskText masks text; a line that is a JSON document (NDJSON) loses its
// logprobs (see withoutLogprobs).
func (st *stream) maskText(dst, src []byte, c *mask.Counts) []byte {
	return st.m.Text(dst, withoutLogprobs(src), c)
}

// maskJSON masks a JSON document, without logprobs (see
// withoutLogprobs); invalid JSON is masked as text.
func (st *stream) maskJSON(dst, src []byte, c *mask.Counts) []byte {
	if out, err := st.m.JSON(dst, withoutLogprobs(src), c); err == nil {
		return out
	}
	return st.m.Text(dst, withoutLogprobs(src), c)
}

// json reads a JSON document whole (masking needs all of it), masks it and
// sends it. A document over max bytes that would need masking is withheld.
func (st *stream) json(resp *http.Response, max int) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return st.fail(resp, fmt.Errorf("reading the upstream response: %w", err))
	}
	if len(b) > max {
		if st.m != nil {
			return st.fail(resp, fmt.Errorf("the JSON response is larger than %d bytes, too large to mask, and was withheld", max))
		}
		st.start(resp, false)
		if err := st.send(b, nil); err != nil {
			return err
		}
		return st.pump(resp.Body)
	}
	if st.usage != nil {
		st.usage.message(b)
	}
	st.w.Header().Del("Content-Length")
	st.start(resp, false)
	return st.send(b, st.maskJSON)
}

// fail answers 502 in place of a response that cannot be sent safely.
func (st *stream) fail(resp *http.Response, err error) error {
	h := st.w.Header()
	for k := range h {
		delete(h, k)
	}
	writeError(st.w, st.cn, sluice.Errorf(sluice.EUnavailable, "%v", err))
	return err
}

// text masks and streams a text body line by line. Two things span
// lines, and are held back until they are whole so that the detectors see
// them at once: a PEM private key block (from its BEGIN line to its END
// line, up to maxLine), and the end of a long line's 64 KiB piece (the
// piece is sent up to a blank where a cut changes nothing, see
// longLineCut, and the rest goes with the next).
func (st *stream) text(resp *http.Response) error {
	st.start(resp, false)
	br := bufio.NewReaderSize(resp.Body, maxLine)
	var unit []byte // read and not yet sent
	for {
		line, rerr := br.ReadSlice('\n')
		unit = append(unit, line...)
		full := errors.Is(rerr, bufio.ErrBufferFull)
		n := len(unit) // how much of unit to send now
		switch {
		case rerr == io.EOF:
		case st.m.OpenSecret(unit) && len(unit) < maxLine:
			n = 0
		case full:
			n = st.longLineCut(unit)
		}
		if n > 0 {
			if err := st.send(unit[:n], st.maskText); err != nil {
				return err
			}
			unit = append(unit[:0], unit[n:]...)
			if br.Buffered() == 0 {
				if err := st.flush(); err != nil {
					return err
				}
			}
		}
		switch {
		case rerr == nil, full:
		case rerr == io.EOF:
			return st.flush()
		default:
			return fmt.Errorf("reading the upstream response: %w", rerr)
		}
	}
}

// longLineCut returns how much of b, a piece of a line too long to hold
// whole, to send now: up to a blank where a cut changes nothing the
// detectors find (see mask.Engine.SafeCut) and that lies mask.CutMargin
// bytes or more before the end; failing that, up to its last blank;
// failing that, all of it (a word as long as the piece is sent as it is).
func (st *stream) longLineCut(b []byte) int {
	if n := st.m.SafeCut(b, len(b)-mask.CutMargin); n > 0 {
		return n
	}
	if i := bytes.LastIndexAny(b, " \t"); i >= 0 {
		return i + 1
	}
	return len(b)
}

// binary sends a body that cannot be masked: to an exempt agent as it is
// (the record keeps only its size), otherwise it is withheld.
func (st *stream) binary(resp *http.Response) error {
	if st.m == nil {
		return st.copy(resp)
	}
	if !st.exempt {
		return st.fail(resp, fmt.Errorf("sluice masks results on this connection and cannot mask a %q body, so it was withheld",
			resp.Header.Get("Content-Type")))
	}
	st.start(resp, true)
	st.cut = true
	n, err := io.Copy(st.w, resp.Body)
	st.written += n
	if err != nil {
		return errClientGone
	}
	return nil
}
