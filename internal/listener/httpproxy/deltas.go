package httpproxy

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The Claude API streams a content block's text (and a tool call's input,
// and thinking) in small deltas, cut wherever the model's tokens fall: a
// key or a card number can arrive in two events, and the detectors, which
// see one event at a time, would see neither half whole. While masking,
// sluice therefore holds back the unfinished line of each block and sends
// it with the next delta, so that the detectors always see whole lines, as
// in a text body: a delta is sent up to its last newline; a PEM private
// key is held from its BEGIN line to its END line; a line longer than
// deltaLine is sent up to a blank where a cut changes what the detectors
// find in it in no way, cutTail bytes or more before its end
// (mask.Engine.SafeCut), and a line with no such blank is held until it is
// maxLine long. What is held goes out, in its own delta event, before any
// event other than a ping or another delta of the same kind, and at the
// end of the stream.

// deltaLine is the length past which an unfinished line is sent up to its
// last blank, so that long paragraphs still stream.
const deltaLine = 1 << 10

// deltaFields are the delta fields that carry streamed text, by delta type.
var deltaFields = map[string]string{
	"text_delta":       "text",
	"input_json_delta": "partial_json",
	"thinking_delta":   "thinking",
}

// heldDelta is the unsent end of one content block's text.
type heldDelta struct {
	index int
	typ   string // the delta type, e.g. text_delta
	text  []byte
}

// deltaEvent is a content_block_delta event that carries text.
type deltaEvent struct {
	index int
	typ   string
	text  string
	doc   map[string]json.RawMessage // the event's data, for rewriting
	delta map[string]json.RawMessage // its delta object
}

// parseDelta returns the text-carrying delta in ev's data, if it is one.
func parseDelta(data []byte) (*deltaEvent, bool) {
	if !bytes.Contains(data, []byte(`"content_block_delta"`)) {
		return nil, false
	}
	var d deltaEvent
	if json.Unmarshal(data, &d.doc) != nil || json.Unmarshal(d.doc["delta"], &d.delta) != nil ||
		json.Unmarshal(d.doc["index"], &d.index) != nil {
		return nil, false
	}
	var kind string
	if json.Unmarshal(d.doc["type"], &kind) != nil || kind != "content_block_delta" ||
		json.Unmarshal(d.delta["type"], &d.typ) != nil {
		return nil, false
	}
	field, ok := deltaFields[d.typ]
	if !ok || json.Unmarshal(d.delta[field], &d.text) != nil {
		return nil, false
	}
	return &d, true
}

// event returns the SSE event that carries text in place of d's own.
func (d *deltaEvent) event(text []byte) []byte {
	delta := make(map[string]json.RawMessage, len(d.delta))
	for k, v := range d.delta {
		delta[k] = v
	}
	delta[deltaFields[d.typ]], _ = json.Marshal(string(text))
	doc := make(map[string]json.RawMessage, len(d.doc))
	for k, v := range d.doc {
		doc[k] = v
	}
	doc["delta"], _ = json.Marshal(delta)
	data, _ := json.Marshal(doc)
	return sseEvent("content_block_delta", data)
}

// event returns the delta event that sends what h holds.
func (h *heldDelta) event() []byte {
	typ, _ := json.Marshal(h.typ)
	d := &deltaEvent{typ: h.typ,
		doc:   map[string]json.RawMessage{"type": json.RawMessage(`"content_block_delta"`), "index": json.RawMessage(strconv.Itoa(h.index))},
		delta: map[string]json.RawMessage{"type": typ}}
	return d.event(h.text)
}

// sseEvent encodes an event of type name with data on one line.
func sseEvent(name string, data []byte) []byte {
	ev := make([]byte, 0, len(name)+len(data)+16)
	ev = append(ev, "event: "...)
	ev = append(ev, name...)
	ev = append(ev, "\ndata: "...)
	ev = append(ev, data...)
	return append(ev, "\n\n"...)
}

// deltaCut returns how much of unit, a block's unsent text, can be sent now
// (see the comment at the top of this file).
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
	return st.m.SafeCut(unit, len(unit)-cutTail)
}

// deltaUnits returns the events to send in place of ev, whose data is
// data: a text delta is cut after its block's last whole line and the rest
// held; any other event but a ping first releases what is held.
func (st *stream) deltaUnits(ev, data []byte) [][]byte {
	d, ok := parseDelta(data)
	if !ok {
		if isPing(data) {
			return [][]byte{ev}
		}
		return append(st.releaseHeld(), ev)
	}
	var out [][]byte
	if cur := st.held; cur != nil && (cur.index != d.index || cur.typ != d.typ) {
		out = st.releaseHeld()
	}
	if st.held == nil {
		st.held = &heldDelta{index: d.index, typ: d.typ}
	}
	h := st.held
	h.text = append(h.text, d.text...)
	n := st.deltaCut(h.text)
	if n == 0 {
		return out
	}
	out = append(out, d.event(h.text[:n]))
	if h.text = h.text[n:]; len(h.text) == 0 {
		st.held = nil
	}
	return out
}

// releaseHeld returns the event that sends what is held, if anything is,
// and forgets it.
func (st *stream) releaseHeld() [][]byte {
	h := st.held
	st.held = nil
	if h == nil || len(h.text) == 0 {
		return nil
	}
	return [][]byte{h.event()}
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
