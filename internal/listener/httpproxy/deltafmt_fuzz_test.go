package httpproxy

import (
	"bytes"
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
		`{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"a"},{"type":"image_url"}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"audio":{"id":"a1","data":"UklG","transcript":"hi"}},"finish_reason":null}]}`,
		`{"id":"cmpl-1","object":"text_completion","choices":[{"text":"ab","index":0,"logprobs":null,"finish_reason":null}],"model":"m"}`,
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

// FuzzWithoutLogprobs checks that withoutLogprobs keeps a JSON document
// JSON and leaves no logprobs list or object in it, at any depth.
func FuzzWithoutLogprobs(f *testing.F) {
	f.Add([]byte(`{"a":[{"logprobs":[{"token":"x","top_logprobs":[{"token":"y"}]}]}],"logprobsResult":{"c":[]},"top_logprobs":3}`))
	f.Add([]byte(`[{"logpr\u006fbs":[1]}, {"x": "\u00e9"}]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		out := withoutLogprobs(doc)
		var v any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber() // a number too large for a float64 is still JSON
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q became %q: %v", doc, out, err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, y := range x {
					if l, ok := y.([]any); logprobKeys[k] && ok && len(l) > 0 {
						t.Fatalf("%q kept %s: %q", doc, k, out)
					}
					if _, ok := y.(map[string]any); logprobKeys[k] && ok {
						t.Fatalf("%q kept %s: %q", doc, k, out)
					}
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		walk(v)
	})
}
