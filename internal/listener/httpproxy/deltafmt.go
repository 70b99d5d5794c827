package httpproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// delta is the streamed text that one server-sent event carries, in one
// of the formats below, and how to send other text in its place.
type delta struct {
	stream string // the text stream it continues: the API, the block, choice or item, the field
	text   string
	final  bool // the event ends its stream: it carries a finish reason
	bare   bool // the event carries nothing but the text, and need not be sent without it
	// with returns the event's data with text in place of its own.
	with func(text string) ([]byte, error)
	// alone returns the data of an event that carries text for the
	// stream and nothing else.
	alone func(text string) ([]byte, error)
}

// parseDelta returns the text delta that data, an event's data, carries,
// if it is one in a format sluice knows. An event that carries text in
// more than one place is not a delta here: it is masked on its own.
func parseDelta(data []byte) (*delta, bool) {
	for _, parse := range []func([]byte) (*delta, bool){claudeDelta, responsesDelta, chatDelta, geminiDelta} {
		if d, ok := parse(data); ok {
			return d, true
		}
	}
	return nil, false
}

// claudeFields are the Claude API's delta fields that carry streamed
// text, by delta type.
var claudeFields = map[string]string{
	"text_delta":       "text",
	"input_json_delta": "partial_json",
	"thinking_delta":   "thinking",
}

// claudeDelta parses a Claude API content_block_delta event.
func claudeDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`"content_block_delta"`)) {
		return nil, false
	}
	var e struct {
		Type  string                     `json:"type"`
		Index *int                       `json:"index"`
		Delta map[string]json.RawMessage `json:"delta"`
	}
	var typ, text string
	if json.Unmarshal(data, &e) != nil || e.Type != "content_block_delta" || e.Index == nil ||
		json.Unmarshal(e.Delta["type"], &typ) != nil {
		return nil, false
	}
	field, ok := claudeFields[typ]
	if !ok || json.Unmarshal(e.Delta[field], &text) != nil {
		return nil, false
	}
	index := *e.Index
	return &delta{stream: "claude/" + strconv.Itoa(index) + "/" + typ, text: text, bare: true,
		with: func(t string) ([]byte, error) { return setString(data, []any{"delta", field}, t) },
		alone: func(t string) ([]byte, error) {
			return json.Marshal(map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]string{"type": typ, field: t}})
		},
	}, true
}

// responsesTypes are the OpenAI Responses API's events whose delta field
// carries streamed text.
var responsesTypes = map[string]bool{
	"response.output_text.delta":                true,
	"response.refusal.delta":                    true,
	"response.function_call_arguments.delta":    true,
	"response.custom_tool_call_input.delta":     true,
	"response.mcp_call_arguments.delta":         true,
	"response.code_interpreter_call_code.delta": true,
	"response.reasoning_text.delta":             true,
	"response.reasoning_summary_text.delta":     true,
	"response.audio.transcript.delta":           true,
}

// responsesDelta parses an OpenAI Responses API delta event. Its logprobs,
// which spell the text out token by token, are dropped.
func responsesDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`.delta"`)) {
		return nil, false
	}
	var e struct {
		Type         string  `json:"type"`
		Delta        *string `json:"delta"`
		ItemID       string  `json:"item_id"`
		OutputIndex  int     `json:"output_index"`
		ContentIndex int     `json:"content_index"`
		SummaryIndex int     `json:"summary_index"`
	}
	if json.Unmarshal(data, &e) != nil || !responsesTypes[e.Type] || e.Delta == nil {
		return nil, false
	}
	with := func(t string) ([]byte, error) {
		doc, err := setString(data, []any{"delta"}, t)
		if err != nil {
			return nil, err
		}
		return setRaw(doc, []any{"logprobs"}, nil)
	}
	return &delta{stream: fmt.Sprintf("responses/%s/%s/%d/%d/%d", e.Type, e.ItemID, e.OutputIndex, e.ContentIndex, e.SummaryIndex),
		text: *e.Delta, with: with, alone: with}, true
}

// chatFields are the fields of an OpenAI Chat Completions delta that carry
// streamed text (reasoning_content and reasoning are what APIs that copy
// the format use for reasoning).
var chatFields = []string{"content", "refusal", "reasoning_content", "reasoning"}

// chatIdentity are the fields of a chunk that an event releasing held
// text copies from the stream's last chunk.
var chatIdentity = []string{"id", "object", "created", "model", "system_fingerprint", "service_tier"}

// chatDelta parses an OpenAI Chat Completions chunk that carries text for
// one choice: in one of chatFields or in one tool call's arguments. Its
// logprobs are dropped.
func chatDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`"choices"`)) || !bytes.Contains(data, []byte(`"delta"`)) {
		return nil, false
	}
	var c struct {
		Choices []struct {
			Index        int                        `json:"index"`
			Delta        map[string]json.RawMessage `json:"delta"`
			FinishReason json.RawMessage            `json:"finish_reason"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &c) != nil || len(c.Choices) != 1 {
		return nil, false
	}
	ch := c.Choices[0]
	var d *delta
	var path []any
	var only func(t string) any // the delta object of an event that carries t alone
	found := 0
	for _, f := range chatFields {
		var t string
		if json.Unmarshal(ch.Delta[f], &t) != nil || t == "" {
			continue
		}
		found++
		d = &delta{stream: fmt.Sprintf("chat/%d/%s", ch.Index, f), text: t}
		path = []any{"choices", 0, "delta", f}
		only = func(t string) any { return map[string]string{f: t} }
	}
	var calls []struct {
		Index    int `json:"index"`
		Function struct {
			Arguments *string `json:"arguments"`
		} `json:"function"`
	}
	if raw := ch.Delta["tool_calls"]; raw != nil && json.Unmarshal(raw, &calls) == nil {
		for i, call := range calls {
			if call.Function.Arguments == nil || *call.Function.Arguments == "" {
				continue
			}
			found++
			d = &delta{stream: fmt.Sprintf("chat/%d/tool/%d", ch.Index, call.Index), text: *call.Function.Arguments}
			path = []any{"choices", 0, "delta", "tool_calls", i, "function", "arguments"}
			only = func(t string) any {
				return map[string]any{"tool_calls": []any{map[string]any{"index": call.Index, "function": map[string]string{"arguments": t}}}}
			}
		}
	}
	if found != 1 {
		return nil, false
	}
	d.final = len(ch.FinishReason) > 0 && string(ch.FinishReason) != "null"
	d.with = func(t string) ([]byte, error) {
		doc, err := setString(data, path, t)
		if err != nil {
			return nil, err
		}
		return setRaw(doc, []any{"choices", 0, "logprobs"}, nil)
	}
	index := ch.Index
	d.alone = func(t string) ([]byte, error) {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, err
		}
		out := map[string]any{"choices": []any{map[string]any{"index": index, "delta": only(t), "finish_reason": nil}}}
		for _, k := range chatIdentity {
			if v, ok := top[k]; ok {
				out[k] = v
			}
		}
		return json.Marshal(out)
	}
	return d, true
}

// geminiDelta parses a Gemini streamGenerateContent chunk whose one
// candidate carries text in one part.
func geminiDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`"candidates"`)) {
		return nil, false
	}
	var g struct {
		Candidates []struct {
			Index   int `json:"index"`
			Content struct {
				Parts []struct {
					Text    *string `json:"text"`
					Thought bool    `json:"thought"`
				} `json:"parts"`
				Role string `json:"role"`
			} `json:"content"`
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
	}
	if json.Unmarshal(data, &g) != nil || len(g.Candidates) != 1 {
		return nil, false
	}
	c := g.Candidates[0]
	part, found := 0, 0
	for i, p := range c.Content.Parts {
		if p.Text != nil && *p.Text != "" {
			part, found = i, found+1
		}
	}
	if found != 1 {
		return nil, false
	}
	thought := c.Content.Parts[part].Thought
	field := "text"
	if thought {
		field = "thought"
	}
	return &delta{stream: fmt.Sprintf("gemini/%d/%s", c.Index, field), text: *c.Content.Parts[part].Text,
		final: c.FinishReason != "",
		with: func(t string) ([]byte, error) {
			return setString(data, []any{"candidates", 0, "content", "parts", part, "text"}, t)
		},
		alone: func(t string) ([]byte, error) {
			var top map[string]json.RawMessage
			if err := json.Unmarshal(data, &top); err != nil {
				return nil, err
			}
			p := map[string]any{"text": t}
			if thought {
				p["thought"] = true
			}
			out := map[string]any{"candidates": []any{map[string]any{"index": c.Index,
				"content": map[string]any{"role": c.Content.Role, "parts": []any{p}}}}}
			for _, k := range []string{"modelVersion", "responseId"} {
				if v, ok := top[k]; ok {
					out[k] = v
				}
			}
			return json.Marshal(out)
		},
	}, true
}

// setString returns doc with the value at path (object keys and array
// indexes) replaced by the string s.
func setString(doc []byte, path []any, s string) ([]byte, error) {
	v, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return setRaw(doc, path, v)
}

// setRaw returns doc with the value at path replaced by v, a JSON value.
// With v nil, the last key of path is removed, if it is there.
func setRaw(doc []byte, path []any, v json.RawMessage) ([]byte, error) {
	if len(path) == 0 {
		return v, nil
	}
	switch k := path[0].(type) {
	case string:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if m == nil {
			return nil, errors.New("not an object")
		}
		if len(path) == 1 && v == nil {
			delete(m, k)
			return json.Marshal(m)
		}
		inner, ok := m[k]
		if !ok && len(path) > 1 {
			if v == nil {
				return doc, nil
			}
			return nil, fmt.Errorf("no %q", k)
		}
		out, err := setRaw(inner, path[1:], v)
		if err != nil {
			return nil, err
		}
		m[k] = out
		return json.Marshal(m)
	case int:
		var a []json.RawMessage
		if err := json.Unmarshal(doc, &a); err != nil {
			return nil, err
		}
		if k < 0 || k >= len(a) {
			return nil, fmt.Errorf("no element %d", k)
		}
		out, err := setRaw(a[k], path[1:], v)
		if err != nil {
			return nil, err
		}
		a[k] = out
		return json.Marshal(a)
	}
	return nil, fmt.Errorf("bad path element %v", path[0])
}
