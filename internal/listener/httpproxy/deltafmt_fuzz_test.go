package httpproxy

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParseDelta checks, for any event data that parses as a text delta,
// that the events written in its place are JSON and parse back as the same
// stream carrying the new text.
func FuzzParseDelta(f *testing.F) {
	for _, s := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ab"}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a"}}`,
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"},"logprobs":{"content":[]},"finish_reason":null}]}`,
		`{"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{\""}}]},"finish_reason":"stop"}]}`,
		`{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"x","logprobs":[]}`,
		`{"candidates":[{"content":{"parts":[{"text":"a"},{"functionCall":{}}],"role":"model"},"index":0,"finishReason":"STOP"}],"modelVersion":"g"}`,
		`{"choices":[{"index":0,"delta":{"content":"a","reasoning":"b"}}]}`,
		`[1,2]`,
	} {
		f.Add([]byte(s), "new text")
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		d, ok := parseDelta(data)
		if !ok || text == "" || !utf8.ValidString(text) {
			return
		}
		check := func(what string, out []byte) {
			if !json.Valid(out) {
				t.Fatalf("%s: not JSON: %q", what, out)
			}
			d2, ok := parseDelta(out)
			if !ok || d2.stream != d.stream || d2.text != text {
				t.Fatalf("%s: %q parses as %+v, %v; want stream %q with %q", what, out, d2, ok, d.stream, text)
			}
		}
		if out, err := d.with(text); err == nil {
			check("with", out)
		}
		out, err := d.alone(text)
		if err != nil {
			t.Fatalf("alone: %v", err)
		}
		check("alone", out)
	})
}
