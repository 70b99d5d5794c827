package httpproxy

import (
	"bytes"
	"encoding/json"
)

// logprobKeys are the fields in which model APIs spell their output out
// token by token: OpenAI's logprobs and top_logprobs, Gemini's
// logprobsResult. Each token is a string of its own, so a secret the model
// writes would reach the agent in pieces that no detector finds; while
// masking, their lists and objects are emptied wherever they appear.
var logprobKeys = map[string]bool{"logprobs": true, "top_logprobs": true, "logprobsResult": true}

// withoutLogprobs returns doc, a JSON document, with the value of every
// logprobKeys field that is a list replaced by an empty list and every one
// that is an object replaced by null. Other values (a request's
// "logprobs": true echoed back) stay. A document that is not JSON is
// returned as it is.
func withoutLogprobs(doc []byte) []byte {
	if !mayHoldLogprobs(doc) {
		return doc
	}
	out, _ := stripLogprobs(doc)
	return out
}

// stripLogprobs does the work of withoutLogprobs and reports whether it
// changed raw.
func stripLogprobs(raw []byte) ([]byte, bool) {
	var v any // the object or list, changed
	changed := false
	switch t := bytes.TrimLeft(raw, " \t\r\n"); {
	case len(t) > 0 && t[0] == '{':
		m := object(raw)
		for k, x := range m {
			x = bytes.TrimLeft(x, " \t\r\n")
			switch {
			case logprobKeys[k] && len(x) > 0 && x[0] == '[' && string(x) != "[]":
				m[k], changed = json.RawMessage("[]"), true
			case logprobKeys[k] && len(x) > 0 && x[0] == '{':
				m[k], changed = json.RawMessage("null"), true
			case mayHoldLogprobs(x):
				if nx, ok := stripLogprobs(x); ok {
					m[k], changed = nx, true
				}
			}
		}
		v = m
	case len(t) > 0 && t[0] == '[':
		a := array(raw)
		for i, x := range a {
			if mayHoldLogprobs(x) {
				if nx, ok := stripLogprobs(x); ok {
					a[i], changed = nx, true
				}
			}
		}
		v = a
	}
	if !changed {
		return raw, false
	}
	out, err := json.Marshal(v)
	return out, err == nil
}

// mayHoldLogprobs reports whether b may hold a logprobKeys field: it names
// one, or has a \u escape that could spell one.
func mayHoldLogprobs(b []byte) bool {
	return bytes.Contains(b, []byte("ogprob")) || bytes.Contains(b, []byte(`\u`))
}
