package httpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/mask"
)

// TestDeltaCutWaitsAfterAFailedCut checks that once a long line had no
// safe cut, the next try waits for mask.CutMargin more bytes: a line that
// grows a few bytes per delta is not scanned whole for every delta.
func TestDeltaCutWaitsAfterAFailedCut(t *testing.T) {
	m, err := mask.New(mask.Config{Sets: []string{"pii", "secrets"}})
	if err != nil {
		t.Fatal(err)
	}
	st := &stream{m: m}
	// A quoted value that has not ended: a hit to the end of the text, and
	// its blanks are no places to cut.
	h := &heldText{text: []byte(`password = "` + strings.Repeat("correct horse battery staple ", 40))}
	if n := st.deltaCut(h); n != 0 || h.tried != len(h.text) {
		t.Fatalf("cut %d, tried %d: want no cut, remembered at %d", n, h.tried, len(h.text))
	}
	h.text = append(h.text, "more words"...)
	if allocs := testing.AllocsPerRun(20, func() { st.deltaCut(h) }); allocs != 0 {
		t.Errorf("deltaCut allocated %.0f times: it tried again before CutMargin more bytes", allocs)
	}
	h.text = append(h.text, strings.Repeat("x ", mask.CutMargin/2)...)
	if n := st.deltaCut(h); n != 0 || h.tried != len(h.text) {
		t.Errorf("after CutMargin more bytes: cut %d, tried %d (len %d): want a new try", n, h.tried, len(h.text))
	}
	// A line as long as maxLine is cut however recent the last try.
	h.text = append(h.text, strings.Repeat("y", maxLine-len(h.text))...)
	h.tried = len(h.text) - 1
	if n := st.deltaCut(h); n == 0 {
		t.Errorf("a line of maxLine bytes was not cut")
	}
}

// FuzzDeltaUnits feeds deltaUnits an interleaving, decided by the input,
// of text deltas in every format (text cut at arbitrary bytes), other
// events and quiet ones, with an engine that masks nothing, and checks
// that every stream's text reaches the agent whole and in order, that
// every other event is sent exactly once and in order, and that no more
// than maxHeld streams hold text.
func FuzzDeltaUnits(f *testing.F) {
	f.Add([]byte("\x00\x05\x01\x07\x02\x03\x03\x04\x04\x00\x00\x09"))
	f.Add([]byte("\x01\x11\x01\x21\x01\x31\x05\x00\x03\x41\x03\x51\x06\x02\x02\x12"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := mask.New(mask.Config{})
		if err != nil {
			t.Fatal(err)
		}
		st := &stream{m: m}
		const alphabet = "ab c\n\"é\\\t{}"
		next := func() byte {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return b
		}
		text := func() string {
			n := int(next() % 9)
			var b strings.Builder
			for range n {
				c := next()
				if c%32 == 31 {
					b.WriteString(strings.Repeat("long line ", 60)) // deltaLine in two
					continue
				}
				b.WriteString(string([]rune(alphabet)[int(c)%len([]rune(alphabet))]))
			}
			if b.Len() == 0 {
				return "z" // a Chat or Gemini chunk without text is not a delta
			}
			return b.String()
		}
		want := map[string]string{}
		var others []string
		var out [][]byte
		for steps := 0; len(in) > 0 && steps < 200; steps++ {
			op, arg := next(), next()
			var ev string
			switch op % 15 {
			case 0:
				ev = fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n",
					arg%3, quote(text()))
			case 1:
				field := []string{"content", "reasoning_content"}[arg>>4%2]
				ev = fmt.Sprintf("data: {\"id\":\"c\",\"choices\":[{\"index\":%d,\"delta\":{%q:%s},\"finish_reason\":null}]}\n\n", arg%20, field, quote(text()))
			case 2:
				ev = fmt.Sprintf("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"m%d\",\"output_index\":%d,\"content_index\":%d,\"delta\":%s}\n\n",
					arg%3, arg%3, arg>>4, quote(text()))
			case 3:
				ev = fmt.Sprintf("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":%s}],\"role\":\"model\"},\"index\":%d}]}\n\n", quote(text()), arg%2)
			case 4:
				ev = fmt.Sprintf("event: other\ndata: {\"type\":\"other_%d\"}\n\n", len(others))
			case 5:
				ev = []string{": keep-alive\n\n", "data: {\"type\":\"keepalive\"}\n\n",
					"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"}[arg%3]
			case 6:
				ev = fmt.Sprintf("data: {\"id\":\"f%d\",\"choices\":[{\"index\":%d,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", len(others), arg%20)
			case 7:
				// A tool call's arguments: with an index or without, the
				// call's id on every chunk, on the first, or on none.
				index := fmt.Sprintf(`"index":%d,`, arg%2)
				if arg&4 != 0 {
					index = ""
				}
				id := ""
				if arg&8 != 0 {
					id = fmt.Sprintf(`"id":"call_%d",`, arg>>5%3)
				}
				ev = fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{%s%s\"function\":{\"arguments\":%s}}]}}]}\n\n", index, id, quote(text()))
			case 8:
				// Reasoning mirrored in reasoning_details, as text or summary.
				t, key := quote(text()), []string{"text", "summary"}[arg%2]
				ev = fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":%s,\"reasoning_details\":[{\"type\":\"reasoning.%s\",%q:%s,\"index\":0}]}}]}\n\n", t, key, key, t)
			case 9:
				// Text that ends its stream.
				ev = fmt.Sprintf("data: {\"id\":\"e%d\",\"choices\":[{\"index\":%d,\"delta\":{\"content\":%s},\"finish_reason\":\"length\"}]}\n\n", len(others), arg%20, quote(text()))
			case 10:
				ev = fmt.Sprintf("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":%s}],\"role\":\"model\"},\"index\":0,\"finishReason\":\"STOP\"}]}\n\n", quote(text()))
			case 11:
				// Content as a list of parts (Mistral).
				ev = fmt.Sprintf("data: {\"choices\":[{\"index\":%d,\"delta\":{\"content\":[{\"type\":\"text\",\"text\":%s}]}}]}\n\n", arg%2, quote(text()))
			case 12:
				// An audio answer: its transcript, or audio alone (quiet).
				if arg&1 == 0 {
					ev = fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{\"audio\":{\"id\":\"a\",\"transcript\":%s}}}]}\n\n", quote(text()))
				} else {
					ev = "data: {\"choices\":[{\"index\":0,\"delta\":{\"audio\":{\"id\":\"a\",\"data\":\"UklG\"}}}]}\n\n"
				}
			case 13:
				// The legacy Completions API, sometimes with its finish.
				fr := "null"
				if arg&1 == 1 {
					fr = `"stop"`
				}
				ev = fmt.Sprintf("data: {\"object\":\"text_completion\",\"choices\":[{\"text\":%s,\"index\":%d,\"finish_reason\":%s}]}\n\n", quote(text()), arg>>4%2, fr)
			case 14:
				// Two choices in one chunk (n > 1), of either API.
				if arg&1 == 0 {
					ev = fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%s}},{\"index\":1,\"delta\":{\"content\":%s}}]}\n\n", quote(text()), quote(text()))
				} else {
					ev = fmt.Sprintf("data: {\"choices\":[{\"text\":%s,\"index\":1},{\"text\":%s,\"index\":0}]}\n\n", quote(text()), quote(text()))
				}
			}
			data := eventData([]byte(ev))
			units := [][]byte{data}
			if parts := splitChoices(data); parts != nil {
				units = parts // each choice on its own
			}
			for _, data := range units {
				if d, ok := parseDelta(data); ok {
					want[d.stream] += d.text
				} else if len(data) > 0 && !quiet([]byte(ev), data) {
					others = append(others, string(data))
				}
			}
			out = append(out, st.deltaUnits([]byte(ev), data)...)
			if len(st.held) > maxHeld {
				t.Fatalf("%d streams hold text", len(st.held))
			}
		}
		out = append(out, st.releaseHeld()...)
		sent := map[string]bool{}
		for _, o := range others {
			sent[o] = true
		}
		got := map[string]string{}
		var gotOthers []string
		for _, u := range out {
			data := eventData(u)
			if d, ok := parseDelta(data); ok {
				got[d.stream] += d.text
			} else if sent[string(data)] {
				gotOthers = append(gotOthers, string(data))
			}
		}
		for s, w := range want {
			if got[s] != w {
				t.Fatalf("stream %s: got %q, want %q", s, got[s], w)
			}
		}
		if strings.Join(gotOthers, "\n") != strings.Join(others, "\n") {
			t.Fatalf("other events: got %q, want %q", gotOthers, others)
		}
	})
}

func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// TestChunkWithManyPlacesIsNoDelta checks that a chunk that carries the
// same text in more than maxPlaces places is masked on its own rather than
// rewritten once per place, which would cost time growing with the square
// of its size.
func TestChunkWithManyPlacesIsNoDelta(t *testing.T) {
	details := strings.Repeat(`{"type":"reasoning.text","text":"a"},`, 2000)
	data := []byte(`{"choices":[{"index":0,"delta":{"reasoning":"a","reasoning_details":[` + strings.TrimSuffix(details, ",") + `]}}]}`)
	if _, ok := parseDelta(data); ok {
		t.Errorf("a chunk with 2,001 places is a delta")
	}
	few := []byte(`{"choices":[{"index":0,"delta":{"reasoning":"a","reasoning_details":[{"type":"reasoning.text","text":"a"}]}}]}`)
	if d, ok := parseDelta(few); !ok || d.stream != "chat/0/reasoning" {
		t.Errorf("a chunk with reasoning in two places: %+v, %v", d, ok)
	}
}

// TestSplitChoices splits a chunk of two choices into one per choice, the
// usage on the last, and leaves alone what is not such a chunk.
func TestSplitChoices(t *testing.T) {
	parts := splitChoices([]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"text":"b"}],"usage":{"total_tokens":3}}`))
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, want := range []string{"a", "b"} {
		d, ok := parseDelta(parts[i])
		if !ok || d.text != want || bytes.Contains(parts[i], []byte(`"usage"`)) != (i == 1) || !bytes.Contains(parts[i], []byte(`"id":"c"`)) {
			t.Errorf("part %d: %s parses as %+v, %v", i, parts[i], d, ok)
		}
	}
	for _, s := range []string{
		`{"choices":[{"index":0,"delta":{"content":"a"}}]}`, // one choice
		`{"choices":["a","b"]}`,                             // not choices of a chat or completion
		`{"choices":[{"index":0,"delta":{}},{"label":"x"}]}`,
		`{"type":"x","choices":[1,2]`,
	} {
		if parts := splitChoices([]byte(s)); parts != nil {
			t.Errorf("%s split into %q", s, parts)
		}
	}
}
