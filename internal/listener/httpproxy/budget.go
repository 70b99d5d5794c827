package httpproxy

import (
	"encoding/json"
	"sync"
)

// budgetKey names one daily token budget: a subject's use of a
// connection on a day (UTC).
type budgetKey struct{ subject, connection, day string }

// reservations are the tokens that Claude API requests in flight may still
// use, per budget, until their usage is in the store. The zero value is
// empty and ready to use; it is safe for concurrent use.
type reservations struct {
	mu sync.Mutex
	m  map[budgetKey]int64
}

// reserve admits a request that may use est tokens when the budget's used
// tokens and those reserved by requests in flight stay below limit, and
// reserves est for it. It returns the tokens reserved before the call and
// whether the request was admitted.
func (r *reservations) reserve(k budgetKey, used, limit, est int64) (inFlight int64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	inFlight = r.m[k]
	if used+inFlight >= limit {
		return inFlight, false
	}
	if r.m == nil {
		r.m = make(map[budgetKey]int64)
	}
	r.m[k] += est
	return inFlight, true
}

// release gives back a reservation of est tokens.
func (r *reservations) release(k budgetKey, est int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[k] -= est; r.m[k] <= 0 {
		delete(r.m, k)
	}
}

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
