package httpproxy

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
)

// anthropicEndpoint reports whether a Claude API connection serves method
// and path: the Messages API and its token counting.
func anthropicEndpoint(method, path string) bool {
	p := strings.TrimSuffix(path, "/")
	return method == http.MethodPost && (p == "/v1/messages" || p == "/v1/messages/count_tokens")
}

// anthropicErrorType is the Claude API's error type for an HTTP status,
// so that its SDKs raise the matching exception.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout, http.StatusServiceUnavailable, http.StatusBadGateway:
		return "api_error"
	}
	return "api_error"
}

// anthropicHeaders are the request headers a Claude API connection
// forwards; everything else the client sent stays at the gateway.
var anthropicHeaders = []string{"Content-Type", "Accept", "Anthropic-Version", "Anthropic-Beta", "User-Agent"}

// usageReader collects the usage a Claude API response reports: in the
// message of a plain response, or across message_start and message_delta
// events of a streamed one.
type usageReader struct {
	u    sluice.TokenUsage
	seen bool
}

// apiUsage is the usage block of the Claude API.
type apiUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// apply sets the fields a usage block reports; streamed counts are
// cumulative, so later values replace earlier ones.
func (r *usageReader) apply(u *apiUsage) {
	if u == nil {
		return
	}
	r.seen = true
	for _, f := range []struct {
		src *int64
		dst *int64
	}{{u.InputTokens, &r.u.InputTokens}, {u.OutputTokens, &r.u.OutputTokens},
		{u.CacheCreationInputTokens, &r.u.CacheCreationInputTokens}, {u.CacheReadInputTokens, &r.u.CacheReadInputTokens}} {
		if f.src != nil && *f.src >= 0 {
			*f.dst = *f.src
		}
	}
}

// message reads the usage of a whole response (a message, or a
// count_tokens answer, which reports input_tokens only).
func (r *usageReader) message(b []byte) {
	var m struct {
		Model       string    `json:"model"`
		Usage       *apiUsage `json:"usage"`
		InputTokens *int64    `json:"input_tokens"`
	}
	if json.Unmarshal(b, &m) != nil {
		return
	}
	r.u.Model = m.Model
	r.apply(m.Usage)
}

// event reads the usage of one streamed event's data.
func (r *usageReader) event(data []byte) {
	if len(data) == 0 || data[0] != '{' {
		return
	}
	var e struct {
		Type    string `json:"type"`
		Message *struct {
			Model string    `json:"model"`
			Usage *apiUsage `json:"usage"`
		} `json:"message"`
		Usage *apiUsage `json:"usage"`
	}
	if json.Unmarshal(data, &e) != nil {
		return
	}
	switch e.Type {
	case "message_start":
		if e.Message != nil {
			r.u.Model = e.Message.Model
			r.apply(e.Message.Usage)
		}
	case "message_delta":
		r.apply(e.Usage)
	}
}

// result returns the usage read, or nil when the response reported none.
func (r *usageReader) result() *sluice.TokenUsage {
	if !r.seen {
		return nil
	}
	u := r.u
	return &u
}
