package gate

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
)

// maxRuleBody is the largest JSON body rules see as `body`; a larger body
// is null to them.
const maxRuleBody = 1 << 20

// classifyHTTP classifies an HTTP request with its connection's patterns
// and fills the policy input.
func (s *Session) classifyHTTP(req *sluice.Request, in *policy.Input) []string {
	h := req.HTTP
	if h == nil {
		req.Class, in.Class = sluice.ClassUnknown, sluice.ClassUnknown
		return []string{"the request carries no HTTP details"}
	}
	u, err := url.Parse(h.URL)
	c := s.gate.HTTP[s.rec.Connection]
	if err != nil || c == nil {
		req.Class, in.Class = sluice.ClassUnknown, sluice.ClassUnknown
		return []string{"the request cannot be classified"}
	}
	r := c.Classify(h.Method, u.Hostname(), u.EscapedPath(), u.RawQuery)
	req.Class, h.Patterns = r.Class, r.Patterns
	in.Class = r.Class
	in.HTTP = &policy.HTTPInput{Method: h.Method, Host: u.Hostname(), Path: u.Path, RawPath: u.EscapedPath(), Query: u.RawQuery,
		Headers: h.Headers, Patterns: r.Patterns, Body: ruleBody(req.Body, h.Headers["content-type"])}
	return r.Reasons
}

// ruleBody is the request body as rules see it: the parsed JSON document,
// or nil when the body is not JSON or too large.
func ruleBody(body []byte, contentType string) any {
	if len(body) == 0 || len(body) > maxRuleBody {
		return nil
	}
	ct := strings.ToLower(contentType)
	if !strings.Contains(ct, "json") && !(ct == "" && json.Valid(body)) {
		return nil
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	return v
}
