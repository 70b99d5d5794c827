package httpproxy

import (
	"bytes"
	"slices"

	"github.com/sluicehq/sluice/internal/mask"
)

// Model APIs stream text (a message, a tool call's arguments, reasoning)
// in small deltas, one per server-sent event, cut wherever the model's
// tokens fall: a key or a card number can arrive in two events, and the
// detectors, which see one event at a time, would see neither half whole.
// While masking, sluice therefore holds back the unfinished line of each
// text stream and sends it with the stream's next delta, so that the
// detectors always see whole lines, as in a text body: a delta is sent up
// to its last newline; a PEM private key is held from its BEGIN line to its
// END line; a line longer than deltaLine is sent up to a blank where a cut
// changes what the detectors find in it in no way, mask.CutMargin bytes or
// more before its end (mask.Engine.SafeCut), and a line with no such blank is
// held until it is maxLine long. Streams that run one after another (a
// message's blocks, a choice's reasoning, text and tool calls) form a
// group: a delta of one first sends what the others hold, and a delta that
// carries a finish reason sends all of its group's text. What is held also
// goes out, in delta events of its own, before any event that is not a
// delta and not quiet (a comment, a ping, a keep-alive or annotation chunk
// without text), when a seventeenth stream starts while sixteen hold text
// (the oldest's), and at the end of the stream.
//
// The formats understood are in deltafmt.go: the Claude API's, OpenAI's
// Chat Completions and Responses APIs' (and the APIs that copy them), and
// Gemini's. Events of any other API are masked one at a time.

// deltaLine is the length past which an unfinished line is sent up to its
// last blank, so that long paragraphs still stream.
const deltaLine = 1 << 10

// maxHeld is how many text streams may hold text at once; starting one
// more first releases the oldest.
const maxHeld = 16

// heldText is the unsent end of one text stream.
type heldText struct {
	stream, group string
	call          string // the call whose arguments text is, if known
	text          []byte
	name          []byte // the "event:" line of the stream's events, if they have one
	// alone returns the data of an event that carries text for the
	// stream and nothing else, modelled on the stream's last delta.
	alone func(text string) ([]byte, error)
	// tried is the length at which text last had no safe cut; the next
	// try waits for mask.CutMargin more bytes, so that a long line
	// arriving a byte at a time is not scanned whole for every byte.
	tried int
	// seen is how much of text deltaCut has looked at since the last cut,
	// and pem whether a PEM block begins in it: until one does, only the
	// new bytes can hold a newline or a block's start.
	seen int
	pem  bool
}

// pemBegin starts a PEM block.
var pemBegin = []byte("-----BEGIN ")

// deltaCut returns how much of h's text can be sent now (see the comment
// at the top of this file).
func (st *stream) deltaCut(h *heldText) int {
	unit := h.text
	from := 0 // where a newline may be
	if !h.pem {
		from = h.seen
		h.pem = bytes.Contains(unit[max(0, from-len(pemBegin)+1):], pemBegin)
	}
	h.seen = len(unit)
	if h.pem && st.m.OpenSecret(unit) && len(unit) < maxLine {
		return 0
	}
	if h.pem {
		from = 0
	}
	if i := bytes.LastIndexByte(unit[from:], '\n'); i >= 0 {
		return from + i + 1
	}
	switch {
	case len(unit) >= maxLine:
		return st.longLineCut(unit)
	case len(unit) < deltaLine || len(unit) < h.tried+mask.CutMargin:
		return 0
	}
	n := st.m.SafeCut(unit, len(unit)-mask.CutMargin)
	if n == 0 {
		h.tried = len(unit)
	}
	return n
}

// deltaUnits returns the events to send in place of ev, whose data is
// data: a text delta is cut after its stream's last whole line and the
// rest held; it first releases what the other streams of its group hold.
// An event that finishes one choice first releases what that choice's
// streams hold; any other event but a quiet one (see quiet) first releases
// everything held.
func (st *stream) deltaUnits(ev, data []byte) [][]byte {
	p, ok := parseDelta(data)
	if !ok {
		// A chunk of several choices is no delta: each choice is one.
		if parts := splitChoices(data); parts != nil {
			var out [][]byte
			for _, part := range parts {
				out = append(out, st.deltaUnits(withData(ev, part), part)...)
			}
			return out
		}
		if quiet(ev, data) {
			return [][]byte{ev}
		}
		if group, ok := finishing(data); ok {
			return append(st.releaseWhere(func(h *heldText) bool { return h.group == group }), ev)
		}
		return append(st.releaseHeld(), ev)
	}
	out := st.releaseWhere(func(h *heldText) bool {
		return h.group == p.group && (h.stream != p.stream || p.call != "" && h.call != "" && p.call != h.call)
	})
	h := st.find(p.stream)
	if h == nil {
		if len(st.held) == maxHeld {
			out = append(out, st.release(st.held[0])...)
		}
		h = &heldText{stream: p.stream, group: p.group}
		st.held = append(st.held, h)
	}
	h.text = append(h.text, p.text...)
	if p.call != "" {
		h.call = p.call
	}
	n := len(h.text)
	if !p.final {
		n = st.deltaCut(h)
	}
	if n == 0 && p.bare {
		h.name, h.alone = append(h.name[:0], eventLine(ev)...), p.alone
		st.dropEmpty(h)
		return out
	}
	rewritten, err := p.with(string(h.text[:n]))
	if err != nil {
		// The event could not be rewritten: send what the stream held
		// before in an event of its own, and this event as it is.
		h.text = h.text[:len(h.text)-len(p.text)]
		return append(append(out, st.release(h)...), ev)
	}
	h.name, h.alone = append(h.name[:0], eventLine(ev)...), p.alone
	h.text = append(h.text[:0], h.text[n:]...)
	if n > 0 {
		h.tried, h.seen, h.pem = 0, 0, false
	}
	st.dropEmpty(h)
	return append(out, withData(ev, rewritten))
}

// find returns what is held for stream, or nil.
func (st *stream) find(stream string) *heldText {
	if i := slices.IndexFunc(st.held, func(h *heldText) bool { return h.stream == stream }); i >= 0 {
		return st.held[i]
	}
	return nil
}

// dropEmpty forgets h if it holds nothing.
func (st *stream) dropEmpty(h *heldText) {
	if len(h.text) == 0 {
		st.held = slices.DeleteFunc(st.held, func(x *heldText) bool { return x == h })
	}
}

// release returns the event that sends what h holds, if it holds anything,
// and forgets h.
func (st *stream) release(h *heldText) [][]byte {
	st.held = slices.DeleteFunc(st.held, func(x *heldText) bool { return x == h })
	if len(h.text) == 0 {
		return nil
	}
	data, err := h.alone(string(h.text))
	if err != nil {
		// Cannot happen for data built from a parsed event; send the text
		// as plain data rather than lose it (it is masked all the same).
		data = h.text
	}
	ev := append([]byte(nil), h.name...)
	return [][]byte{withData(ev, data)}
}

// releaseHeld returns the events that send everything held, in the order
// the streams began, and forgets it.
func (st *stream) releaseHeld() [][]byte {
	return st.releaseWhere(func(*heldText) bool { return true })
}

// releaseWhere returns the events that send what the streams chosen by
// which hold, in the order the streams began, and forgets them.
func (st *stream) releaseWhere(which func(*heldText) bool) [][]byte {
	var out [][]byte
	for _, h := range slices.Clone(st.held) {
		if which(h) {
			out = append(out, st.release(h)...)
		}
	}
	return out
}

// eventLine returns ev's "event:" line, or nil.
func eventLine(ev []byte) []byte {
	for line := range bytes.Lines(ev) {
		if bytes.HasPrefix(line, []byte("event:")) {
			return line
		}
	}
	return nil
}

// withData returns ev with its data replaced by data. Its other lines
// (event name, id, comments) stay as they are.
func withData(ev, data []byte) []byte {
	out := make([]byte, 0, len(ev)+len(data)+8)
	for line := range bytes.Lines(ev) {
		if bytes.HasPrefix(line, []byte("data:")) || len(bytes.TrimRight(line, "\r\n")) == 0 {
			continue
		}
		out = append(out, line...)
		if line[len(line)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return append(appendData(out, data), '\n')
}

// appendData appends data as an event's data lines, one per line of data.
func appendData(dst, data []byte) []byte {
	for v := range bytes.SplitSeq(data, []byte("\n")) {
		dst = append(dst, "data: "...)
		dst = append(dst, v...)
		dst = append(dst, '\n')
	}
	return dst
}
