package httpproxy

import "encoding/json"

// estimateTokens is what a Messages request may use at most, as far as
// sluice can tell before it runs: its max_tokens of output and its input at
// about four bytes per token. A body without max_tokens (which the API
// refuses) counts its input only.
func estimateTokens(body []byte) int64 {
	var req struct {
		MaxTokens int64 `json:"max_tokens"`
	}
	_ = json.Unmarshal(body, &req) // checked by the API; a bad body estimates as input only
	return max(req.MaxTokens, 0) + int64(len(body))/4 + 1
}
