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
	if !bytes.Contains(doc, []byte("ogprob")) {
		return doc
	}
	out, _ := stripLogprobs(doc)
	return out
}

// stripLogprobs does the work of withoutLogprobs and reports whether it
// changed raw.
func stripLogprobs(raw []byte) ([]byte, bool) {
	switch t := bytes.TrimLeft(raw, " \t\r\n"); {
	case len(t) > 0 && t[0] == '{':
		m := object(raw)
		changed := false
		for k, v := range m {
			v = bytes.TrimLeft(v, " \t\r\n")
			switch {
			case logprobKeys[k] && len(v) > 0 && v[0] == '[' && string(v) != "[]":
				m[k], changed = json.RawMessage("[]"), true
			case logprobKeys[k] && len(v) > 0 && v[0] == '{':
				m[k], changed = json.RawMessage("null"), true
			case bytes.Contains(v, []byte("ogprob")):
				if nv, ok := stripLogprobs(v); ok {
					m[k], changed = nv, true
				}
			}
		}
		if !changed {
			return raw, false
		}
		out, err := json.Marshal(m)
		return out, err == nil
	case len(t) > 0 && t[0] == '[':
		a := array(raw)
		changed := false
		for i, v := range a {
			if bytes.Contains(v, []byte("ogprob")) {
				if nv, ok := stripLogprobs(v); ok {
					a[i], changed = nv, true
				}
			}
		}
		if !changed {
			return raw, false
		}
		out, err := json.Marshal(a)
		return out, err == nil
	}
	return raw, false
}
