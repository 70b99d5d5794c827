package httpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
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
// returned as it is. One that holds logprobs and cannot be encoded again
// (which cannot happen for one that decoded) comes back empty: it is not
// sent with them.
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
// one, or has a \u escape of a character that spells one. (Other escapes,
// such as the \u003c that many encoders write for '<', need no look.)
func mayHoldLogprobs(b []byte) bool {
	if bytes.Contains(b, []byte("ogprob")) {
		return true
	}
	for {
		i := bytes.Index(b, []byte(`\u00`))
		if i < 0 || i+6 > len(b) {
			return false
		}
		if keyChars[string(bytes.ToLower(b[i+4:i+6]))] {
			return true
		}
		b = b[i+4:]
	}
}

// keyChars are the hex codes, in lower case, of the characters of
// logprobKeys.
var keyChars = func() map[string]bool {
	m := map[string]bool{}
	for k := range logprobKeys {
		for _, c := range []byte(k) {
			m[fmt.Sprintf("%02x", c)] = true
		}
	}
	return m
}()
