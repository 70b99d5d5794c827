package httpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sluicehq/sluice/internal/mask"
)

// sse streams server-sent events one by one, each masked as a whole and
// flushed at once, so the agent sees every event as it arrives.
func (st *stream) sse(resp *http.Response) error {
	st.start(resp, false)
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var ev []byte
	for {
		line, rerr := br.ReadSlice('\n')
		ev = append(ev, line...)
		if len(ev) > maxEvent {
			return fmt.Errorf("a server-sent event is larger than %d bytes", maxEvent)
		}
		if rerr == nil && blank(line) {
			if err := st.event(ev); err != nil {
				return err
			}
			ev = ev[:0]
			continue
		}
		switch {
		case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
		case rerr == io.EOF:
			if len(ev) > 0 {
				if err := st.event(ev); err != nil {
					return err
				}
			}
			return st.endEvents()
		default:
			if err := st.endEvents(); err != nil {
				return err
			}
			return fmt.Errorf("reading the upstream event stream: %w", rerr)
		}
	}
}

// endEvents sends the text still held back, masked, and flushes.
func (st *stream) endEvents() error {
	for _, u := range st.releaseHeld() {
		if err := st.send(u, st.maskEvent); err != nil {
			return err
		}
	}
	return st.flush()
}

// blank reports whether line ends an event.
func blank(line []byte) bool {
	return len(line) == 1 || len(line) == 2 && line[0] == '\r'
}

// event sends one event, or while masking, the events that stand for it
// once streamed text is cut at whole lines (deltas.go).
func (st *stream) event(ev []byte) error {
	st.events++
	var data []byte // read only when something looks at it
	if st.usage != nil || st.m != nil {
		data = eventData(ev)
	}
	if st.usage != nil {
		st.usage.event(data)
	}
	units := [][]byte{ev}
	if st.m != nil {
		units = st.deltaUnits(ev, data)
	}
	for _, u := range units {
		if err := st.send(u, st.maskEvent); err != nil {
			return err
		}
	}
	if len(units) == 0 {
		return nil
	}
	return st.flush()
}

// eventData returns the data of an event: its data lines' values joined
// by newlines.
func eventData(ev []byte) []byte {
	var data []byte
	n := 0
	for line := range bytes.Lines(ev) {
		v, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data:"))
		if !ok {
			continue
		}
		if n > 0 {
			data = append(data, '\n')
		}
		data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		n++
	}
	return data
}

// maskEvent masks an event: its data as a JSON document when it is one
// (as Claude API events are), without logprobs (see withoutLogprobs), else
// as text, and its other lines as text.
func (st *stream) maskEvent(dst, src []byte, c *mask.Counts) []byte {
	data := withoutLogprobs(eventData(src))
	wrote := false
	for line := range bytes.Lines(src) {
		if !bytes.HasPrefix(line, []byte("data:")) {
			dst = st.m.Text(dst, line, c)
			continue
		}
		if wrote {
			continue
		}
		wrote = true
		var masked []byte
		if out, err := st.m.JSON(nil, data, c); err == nil {
			masked = out
		} else {
			masked = st.m.Text(nil, data, c)
		}
		dst = appendData(dst, masked)
	}
	return dst
}
