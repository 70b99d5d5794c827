package httpproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// delta is the streamed text that one server-sent event carries, in one
// of the formats below, and how to send other text in its place. The
// formats are read key by key with the same exact-key maps that rewrite
// them, so that the text held is the text replaced.
type delta struct {
	stream string // the text stream it continues: the API, the block, choice or item, the field
	// group names the streams that run one after another (a Claude
	// message's blocks, one choice's or candidate's fields, a Responses
	// answer's items): a delta of one of them ends the others.
	group string
	text  string
	final bool // the event carries a finish reason: it ends every stream of its group
	// call names the tool or function call whose arguments the text is
	// (its id, or its name), if the event says: a delta of another call
	// on the same stream first sends what the stream holds.
	call string
	bare bool // the event carries nothing but the text, and need not be sent without it
	// with returns the event's data with text in place of its own.
	with func(text string) ([]byte, error)
	// alone returns the data of an event that carries text for the
	// stream and nothing else.
	alone func(text string) ([]byte, error)
}

// parseDelta returns the text delta that data, an event's data, carries,
// if it is one in a format sluice knows. An event that carries different
// texts in more than one place is not a delta here: it is masked on its
// own.
func parseDelta(data []byte) (*delta, bool) {
	for _, parse := range []func([]byte) (*delta, bool){claudeDelta, responsesDelta, chatDelta, completionDelta, geminiDelta} {
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
	doc := object(data)
	index, ok := doc["index"]
	if str(doc["type"]) != "content_block_delta" || !ok {
		return nil, false
	}
	dl := object(doc["delta"])
	typ := str(dl["type"])
	field, ok := claudeFields[typ]
	if !ok || !isString(dl[field]) {
		return nil, false
	}
	return &delta{stream: "claude/" + string(index) + "/" + typ, group: "claude", text: str(dl[field]), bare: true,
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

// responsesDelta parses an OpenAI Responses API delta event. An output
// item's parts follow one another, each ended by its own done event, so
// the stream is the item's: a server that numbers every delta as a part
// of its own still has its text joined.
func responsesDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`.delta"`)) {
		return nil, false
	}
	doc := object(data)
	typ := str(doc["type"])
	if !responsesTypes[typ] || !isString(doc["delta"]) {
		return nil, false
	}
	with := func(t string) ([]byte, error) { return setString(data, []any{"delta"}, t) }
	return &delta{stream: fmt.Sprintf("responses/%s/%s/%s", typ, str(doc["item_id"]), doc["output_index"]),
		group: "responses", text: str(doc["delta"]), with: with, alone: with}, true
}

// chatFields are the fields of an OpenAI Chat Completions delta that carry
// streamed text, and the family of each: reasoning_content and reasoning
// are what APIs that copy the format use for reasoning, and some send the
// same text in both, or again in reasoning_details.
var chatFields = []struct{ name, family string }{
	{"content", "content"}, {"refusal", "refusal"}, {"reasoning_content", "reasoning"}, {"reasoning", "reasoning"},
}

// chatIdentity are the fields of a chunk that an event releasing held
// text copies from the stream's last chunk.
var chatIdentity = []string{"id", "object", "created", "model", "system_fingerprint", "service_tier"}

// withIdentity copies into out, a chunk made to release held text, the
// chatIdentity fields of doc, the stream's last chunk, and returns out.
func withIdentity(out map[string]any, doc map[string]json.RawMessage) map[string]any {
	for _, k := range chatIdentity {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	return out
}

// indexOf returns the index of a choice or candidate, 0 when it has none.
func indexOf(el map[string]json.RawMessage) json.RawMessage {
	if index, ok := el["index"]; ok {
		return index
	}
	return json.RawMessage("0")
}

// place is where a chunk carries text, and which text stream it belongs to.
type place struct {
	family string
	path   []any
	text   string
	call   string // the tool or function call's id or name, if given
	// clear are the places of the same text's later pieces (content
	// parts), emptied when the text is rewritten at path.
	clear [][]any
}

// maxPlaces is the most places a chunk may carry the same text in and be
// a delta: each is rewritten on its own.
const maxPlaces = 4

// chatPlaces returns the places where a Chat Completions delta object
// carries text (paths start at choices[0].delta).
func chatPlaces(dl map[string]json.RawMessage) []place {
	var places []place
	for _, f := range chatFields {
		if t := str(dl[f.name]); t != "" {
			places = append(places, place{family: f.family, path: []any{f.name}, text: t})
		}
	}
	// Content as a list of parts (Mistral): its text parts, read one after
	// another, are one text, which the first carries when rewritten.
	var parts *place
	for i, raw := range array(dl["content"]) {
		el := object(raw)
		if t := str(el["text"]); str(el["type"]) == "text" && t != "" {
			path := []any{"content", i, "text"}
			if parts == nil {
				parts = &place{family: "content", path: path}
			} else {
				parts.clear = append(parts.clear, path)
			}
			parts.text += t
		}
	}
	if parts != nil {
		places = append(places, *parts)
	}
	if t := str(object(dl["audio"])["transcript"]); t != "" {
		places = append(places, place{family: "audio", path: []any{"audio", "transcript"}, text: t})
	}
	for i, raw := range array(dl["reasoning_details"]) {
		// Reasoning text, or an OpenAI model's reasoning summary.
		for _, k := range []string{"text", "summary"} {
			if t := str(object(raw)[k]); t != "" {
				places = append(places, place{family: "reasoning", path: []any{"reasoning_details", i, k}, text: t})
			}
		}
	}
	fc := object(dl["function_call"]) // the functions API that tool calls replaced
	if t := str(fc["arguments"]); t != "" {
		places = append(places, place{family: "function_call", path: []any{"function_call", "arguments"}, text: t, call: str(fc["name"])})
	}
	for i, raw := range array(dl["tool_calls"]) {
		call := object(raw)
		fn := object(call["function"])
		if t := str(fn["arguments"]); t != "" {
			index, ok := call["index"]
			if !ok {
				index = json.RawMessage(`"-"`)
			}
			id := str(call["id"])
			if id == "" {
				id = str(fn["name"])
			}
			places = append(places, place{family: "tool/" + string(index), path: []any{"tool_calls", i, "function", "arguments"}, text: t, call: id})
		}
	}
	return places
}

// chatDelta parses an OpenAI Chat Completions chunk that carries text for
// one choice in one family of fields.
func chatDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`"choices"`)) || !bytes.Contains(data, []byte(`"delta"`)) {
		return nil, false
	}
	doc, ch, ok := single(data, "choices")
	if !ok {
		return nil, false
	}
	dl := object(ch["delta"])
	places := chatPlaces(dl)
	if len(places) == 0 || len(places) > maxPlaces || slices.ContainsFunc(places, func(p place) bool {
		return p.family != places[0].family || p.text != places[0].text
	}) {
		return nil, false
	}
	index := indexOf(ch)
	d := &delta{stream: "chat/" + string(index) + "/" + places[0].family, group: "chat/" + string(index),
		text: places[0].text, final: str(ch["finish_reason"]) != "", call: places[0].call}
	d.with = func(t string) ([]byte, error) {
		out := data
		for _, p := range places {
			var err error
			if out, err = setString(out, append([]any{"choices", 0, "delta"}, p.path...), t); err != nil {
				return nil, err
			}
			for _, c := range p.clear {
				if out, err = setString(out, append([]any{"choices", 0, "delta"}, c...), ""); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	d.alone = func(t string) ([]byte, error) {
		only := map[string]any{}
		for _, p := range places {
			if k, v := aloneField(dl, p, t); only[k] == nil {
				only[k] = v
			}
		}
		out := map[string]any{"choices": []any{map[string]any{"index": index, "delta": only, "finish_reason": nil}}}
		return json.Marshal(withIdentity(out, doc))
	}
	return d, true
}

// aloneField returns the delta field, and its value, that carries t in
// place of p's text in an event of its own: a text field as t; a call's
// arguments in their object; of a list, p's one element with only what
// says what it is (its type, index, format) and the text.
func aloneField(dl map[string]json.RawMessage, p place, t string) (string, any) {
	key := p.path[0].(string)
	if len(p.path) == 1 {
		return key, t
	}
	switch key {
	case "function_call":
		return key, map[string]string{"arguments": t}
	case "audio":
		kept := map[string]any{"transcript": t}
		if id, ok := object(dl[key])["id"]; ok {
			kept["id"] = id
		}
		return key, kept
	case "content", "reasoning_details", "tool_calls":
		el := object(array(dl[key])[p.path[1].(int)])
		kept := map[string]any{}
		for _, k := range []string{"type", "index", "format"} {
			if x, ok := el[k]; ok {
				kept[k] = x
			}
		}
		if key == "tool_calls" {
			kept["function"] = map[string]string{"arguments": t}
		} else {
			kept[p.path[2].(string)] = t // text or summary
		}
		return key, []any{kept}
	}
	return key, t // chatPlaces makes no other place
}

// completionDelta parses a chunk of OpenAI's legacy Completions API (and
// the servers that still offer it), whose one choice carries text.
func completionDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`"choices"`)) || !bytes.Contains(data, []byte(`"text"`)) {
		return nil, false
	}
	doc, ch, ok := single(data, "choices")
	if _, chat := ch["delta"]; !ok || chat || !isString(ch["text"]) || str(ch["text"]) == "" {
		return nil, false
	}
	index := indexOf(ch)
	stream := "completion/" + string(index)
	d := &delta{stream: stream, group: stream, text: str(ch["text"]), final: str(ch["finish_reason"]) != ""}
	d.with = func(t string) ([]byte, error) { return setString(data, []any{"choices", 0, "text"}, t) }
	d.alone = func(t string) ([]byte, error) {
		out := map[string]any{"choices": []any{map[string]any{"index": index, "text": t, "logprobs": nil, "finish_reason": nil}}}
		return json.Marshal(withIdentity(out, doc))
	}
	return d, true
}

// geminiDelta parses a Gemini streamGenerateContent chunk whose one
// candidate carries text in one part.
func geminiDelta(data []byte) (*delta, bool) {
	if !bytes.Contains(data, []byte(`"candidates"`)) {
		return nil, false
	}
	doc, c, ok := single(data, "candidates")
	if !ok {
		return nil, false
	}
	content := object(c["content"])
	part, found := 0, 0
	parts := array(content["parts"])
	for i, p := range parts {
		if str(object(p)["text"]) != "" {
			part, found = i, found+1
		}
	}
	if found != 1 {
		return nil, false
	}
	p := object(parts[part])
	thought := string(p["thought"]) == "true"
	family := "text"
	if thought {
		family = "thought"
	}
	index := indexOf(c)
	return &delta{stream: "gemini/" + string(index) + "/" + family, group: "gemini/" + string(index), text: str(p["text"]),
		final: str(c["finishReason"]) != "",
		with: func(t string) ([]byte, error) {
			return setString(data, []any{"candidates", 0, "content", "parts", part, "text"}, t)
		},
		alone: func(t string) ([]byte, error) {
			np := map[string]any{"text": t}
			if thought {
				np["thought"] = true
			}
			out := map[string]any{"candidates": []any{map[string]any{"index": index,
				"content": map[string]any{"role": content["role"], "parts": []any{np}}}}}
			for _, k := range []string{"modelVersion", "responseId"} {
				if v, ok := doc[k]; ok {
					out[k] = v
				}
			}
			return json.Marshal(out)
		},
	}, true
}

// quietTypes are events that may come in the middle of a text and carry
// none of it: pings and keep-alives, and Responses annotations.
var quietTypes = map[string]bool{"ping": true, "keepalive": true, "response.keep_alive": true,
	"response.output_text.annotation.added": true}

// quietDelta are the keys a Chat Completions delta may have, empty, in a
// chunk that carries nothing.
var quietDelta = map[string]bool{"role": true, "content": true, "refusal": true, "reasoning_content": true, "reasoning": true}

// quiet reports whether an event that is not a text delta carries nothing
// that ends or interrupts a text, so that what is held may wait past it: a
// comment, a ping or keep-alive, a Chat Completions chunk whose delta
// holds at most a role and empty text and that has no finish reason or
// usage (a keep-alive, a content filter's annotation), a Responses
// annotation.
func quiet(ev, data []byte) bool {
	if len(data) == 0 {
		return eventLine(ev) == nil // a comment, or an id or retry alone
	}
	doc := object(data)
	if t := str(doc["type"]); t != "" {
		return quietTypes[t]
	}
	choices, ok := doc["choices"]
	if !ok || !isArray(choices) || len(doc["usage"]) > 0 && string(doc["usage"]) != "null" {
		return false
	}
	for _, raw := range array(choices) {
		ch := object(raw)
		if str(ch["finish_reason"]) != "" || str(ch["text"]) != "" {
			return false // a finish, or a legacy Completions choice's text
		}
		for k, v := range object(ch["delta"]) {
			switch {
			case k == "audio":
				// Audio without its transcript: the transcript held
				// may wait past it.
				if str(object(v)["transcript"]) != "" {
					return false
				}
			case k == "content" && isArray(v):
				if len(array(v)) > 0 {
					return false // parts, which may be other than text
				}
			case !quietDelta[k] || k != "role" && str(v) != "":
				return false
			}
		}
	}
	return true
}

// splitChoices returns, for a Chat Completions or legacy Completions chunk
// with more than one choice (n > 1), one chunk per choice, each with the
// chunk's other members (usage with the last only), so that each choice's
// text is held on its own; nil for any other event.
func splitChoices(data []byte) [][]byte {
	if !bytes.Contains(data, []byte(`"choices"`)) {
		return nil
	}
	doc := object(data)
	choices := array(doc["choices"])
	if len(choices) < 2 {
		return nil
	}
	for _, ch := range choices {
		c := object(ch)
		if _, ok := c["index"]; !ok || c["delta"] == nil && c["text"] == nil {
			return nil // not the choices of either API
		}
	}
	usage, hasUsage := doc["usage"]
	delete(doc, "usage")
	parts := make([][]byte, 0, len(choices))
	for i, ch := range choices {
		doc["choices"] = json.RawMessage("[" + string(ch) + "]")
		if hasUsage && i == len(choices)-1 {
			doc["usage"] = usage
		}
		part, err := json.Marshal(doc)
		if err != nil {
			return nil // not JSON to split: the event goes as it is
		}
		parts = append(parts, part)
	}
	return parts
}

// finishing returns the group of an event that does nothing but finish
// one choice: a Chat Completions or legacy Completions chunk with one
// choice, no text, no usage and a finish reason. It ends that choice's
// streams and leaves the other choices' (n > 1) held.
func finishing(data []byte) (string, bool) {
	if !bytes.Contains(data, []byte(`"finish_reason"`)) {
		return "", false
	}
	doc, ch, ok := single(data, "choices")
	if !ok || str(ch["finish_reason"]) == "" || len(doc["usage"]) > 0 && string(doc["usage"]) != "null" {
		return "", false
	}
	index := indexOf(ch)
	if dl, chat := ch["delta"]; chat {
		if len(chatPlaces(object(dl))) > 0 {
			return "", false
		}
		return "chat/" + string(index), true
	}
	if _, legacy := ch["text"]; !legacy || str(ch["text"]) != "" {
		return "", false
	}
	return "completion/" + string(index), true
}

// single returns data as an object and the one element of its list at
// key, if that list has exactly one.
func single(data []byte, key string) (doc, el map[string]json.RawMessage, ok bool) {
	doc = object(data)
	list := array(doc[key])
	if len(list) != 1 {
		return nil, nil, false
	}
	return doc, object(list[0]), true
}

// object returns raw as an object, or nil.
func object(raw []byte) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// array returns raw as an array, or nil.
func array(raw []byte) []json.RawMessage {
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) != nil {
		return nil
	}
	return a
}

// isArray reports whether raw is an array.
func isArray(raw []byte) bool { return len(raw) > 0 && raw[0] == '[' }

// isString reports whether raw is a string.
func isString(raw []byte) bool { return len(raw) > 0 && raw[0] == '"' }

// str returns raw as a string, or "" when it is not one.
func str(raw []byte) string {
	var s string
	if !isString(raw) || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
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
		m := object(doc)
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
		a := array(doc)
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
