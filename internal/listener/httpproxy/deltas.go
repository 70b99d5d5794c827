package httpproxy

import (
	"bytes"
	"encoding/json"

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
// held until it is maxLine long. A delta that ends its stream (one that
// carries a finish reason) takes everything held for the stream with it.
// What is held goes out, in delta events of its own, before any other
// event (pings and comments aside), when a seventeenth stream starts while
// sixteen hold text (the oldest's), and at the end of the stream.
//
// The formats understood are in deltafmt.go: the Claude API's, OpenAI's
// Chat Completions and Responses APIs' (and the many APIs that copy them),
// and Gemini's. Events of any other API are masked one at a time.

// deltaLine is the length past which an unfinished line is sent up to its
// last blank, so that long paragraphs still stream.
const deltaLine = 1 << 10

// heldText is the unsent end of one text stream.
type heldText struct {
	stream string
	text   []byte
	name   []byte // the "event:" line of the stream's events, if they have one
	// alone returns the data of an event that carries text for the
	// stream and nothing else, modelled on the stream's last delta.
	alone func(text string) ([]byte, error)
}

// deltaCut returns how much of unit, a stream's unsent text, can be sent
// now (see the comment at the top of this file).
func (st *stream) deltaCut(unit []byte) int {
	if st.m.OpenSecret(unit) && len(unit) < maxLine {
		return 0
	}
	if i := bytes.LastIndexByte(unit, '\n'); i >= 0 {
		return i + 1
	}
	switch {
	case len(unit) < deltaLine:
		return 0
	case len(unit) >= maxLine:
		return st.longLineCut(unit)
	}
	return st.m.SafeCut(unit, len(unit)-mask.CutMargin)
}

// deltaUnits returns the events to send in place of ev, whose data is
// data: a text delta is cut after its stream's last whole line and the rest
// held; any other event but a ping or a comment first releases what is
// held.
func (st *stream) deltaUnits(ev, data []byte) [][]byte {
	p, ok := parseDelta(data)
	if !ok {
		if len(data) == 0 && eventLine(ev) == nil || isPing(data) {
			return [][]byte{ev} // a comment, or an id or retry alone
		}
		return append(st.releaseHeld(), ev)
	}
	var out [][]byte
	h := st.find(p.stream)
	if h == nil {
		if len(st.held) == maxHeld {
			out = st.release(st.held[0])
		}
		h = &heldText{stream: p.stream}
		st.held = append(st.held, h)
	}
	h.text = append(h.text, p.text...)
	h.name, h.alone = append(h.name[:0], eventLine(ev)...), p.alone
	n := len(h.text)
	if !p.final {
		n = st.deltaCut(h.text)
	}
	if n == 0 && p.bare {
		return out
	}
	data, err := p.with(string(h.text[:n]))
	if err != nil {
		// The event could not be rewritten: send all of the stream's text
		// in an event of its own, and this event's text stays where it is.
		h.text = h.text[:len(h.text)-len(p.text)]
		return append(append(out, st.release(h)...), ev)
	}
	h.text = append(h.text[:0], h.text[n:]...)
	if len(h.text) == 0 {
		st.drop(h)
	}
	return append(out, withData(ev, data))
}

// maxHeld is how many text streams may hold text at once; starting one
// more first releases the oldest.
const maxHeld = 16

// find returns what is held for stream, or nil.
func (st *stream) find(stream string) *heldText {
	for _, h := range st.held {
		if h.stream == stream {
			return h
		}
	}
	return nil
}

// drop forgets h, whose text has all been sent.
func (st *stream) drop(h *heldText) {
	for i, x := range st.held {
		if x == h {
			st.held = append(st.held[:i], st.held[i+1:]...)
			return
		}
	}
}

// release returns the event that sends what h holds, if it holds anything,
// and forgets h.
func (st *stream) release(h *heldText) [][]byte {
	st.drop(h)
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
	var out [][]byte
	for len(st.held) > 0 {
		out = append(out, st.release(st.held[0])...)
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
	for v := range bytes.SplitSeq(data, []byte("\n")) {
		out = append(out, "data: "...)
		out = append(out, v...)
		out = append(out, '\n')
	}
	return append(out, '\n')
}

// isPing reports whether data is a ping event's, which carries nothing and
// so does not release what is held.
func isPing(data []byte) bool {
	if !bytes.Contains(data, []byte(`"ping"`)) {
		return false
	}
	var p struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &p) == nil && p.Type == "ping"
}
