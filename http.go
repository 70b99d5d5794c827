package sluice

// HTTPRequest is what the audit trail keeps of an HTTP API call beyond its
// Request.Text ("METHOD /path?query"): the upstream URL, the headers with
// every credential removed and the beginning of the body, with secrets
// masked.
type HTTPRequest struct {
	Method string `json:"method"`
	// URL is the upstream URL the request was sent to.
	URL string `json:"url"`
	// Headers are the forwarded headers, lower-case, credentials removed.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the beginning of the request body, up to the capture cap.
	Body string `json:"body,omitempty"`
	// BodyBytes is the whole body's size; BodyTruncated says Body is
	// shorter.
	BodyBytes     int64 `json:"body_bytes"`
	BodyTruncated bool  `json:"body_truncated,omitempty"`
	// Patterns name the classification patterns the request matched.
	Patterns []string `json:"patterns,omitempty"`
}

// HTTPResult is what the audit trail keeps of an HTTP response: the status,
// headers and the beginning of the body exactly as the agent received it.
type HTTPResult struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// BodyBytes is the size of the body the agent received.
	BodyBytes     int64 `json:"body_bytes"`
	BodyTruncated bool  `json:"body_truncated,omitempty"`
	// Events counts the server-sent events of a streamed response.
	Events int `json:"events,omitempty"`
	// Usage is the model usage the response reported (Claude API).
	Usage *TokenUsage `json:"usage,omitempty"`
}

// TokenUsage is the usage block of a Claude API response.
type TokenUsage struct {
	InputTokens              int64  `json:"input_tokens"`
	OutputTokens             int64  `json:"output_tokens"`
	CacheCreationInputTokens int64  `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64  `json:"cache_read_input_tokens,omitempty"`
	Model                    string `json:"model,omitempty"`
}

// Total is the tokens that count against a budget.
func (u *TokenUsage) Total() int64 {
	if u == nil {
		return 0
	}
	return u.InputTokens + u.OutputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}
