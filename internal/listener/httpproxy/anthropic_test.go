package httpproxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/listener/httpproxy"
	"github.com/sluicehq/sluice/internal/policy"
	httpup "github.com/sluicehq/sluice/internal/upstream/http"
)

const awsKey = "AKIAIOSFODNN7EXAMPLE"

// fakeMessages answers like the Messages API: streamed or not, with usage.
func fakeMessages(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != upstreamToken || r.Header.Get("Anthropic-Version") != "2023-06-01" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
			return
		}
		var req struct {
			Stream bool `json:"stream"`
		}
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		if r.URL.Path == "/v1/messages/count_tokens" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"input_tokens":42}`)
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","usage":{"input_tokens":100,"output_tokens":20}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-test","content":[],"usage":{"input_tokens":300,"output_tokens":1}}}`,
			`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`,
			`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":50}}`,
			`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
		} {
			fmt.Fprint(w, ev+"\n\n")
			w.(http.Flusher).Flush()
		}
	}
}

func anthropicOptions(budget int64) options {
	return options{anthropic: true, cred: httpup.Credential{Header: "x-api-key", Value: upstreamToken},
		budgets: []httpproxy.Budget{{Subjects: []policy.Subject{{Kind: "group", Name: "agents"}}, DailyTokens: budget}}}
}

// post sends a Messages request the way the Anthropic SDKs do: the token
// as x-api-key.
func (s *setup) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/proxy/api"+path, strings.NewReader(body))
	req.Header.Set("X-Api-Key", agentToken)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Stainless-Os", "Linux")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAnthropicPassthrough(t *testing.T) {
	s := newSetup(t, fakeMessages(t), anthropicOptions(1000))
	prompt := fmt.Sprintf(`{"model":"claude-test","max_tokens":100,"messages":[{"role":"user","content":"my key is %s, help"}]}`, awsKey)
	st, body := s.post(t, "/v1/messages", prompt)
	if st != 200 || !strings.Contains(body, `"text":"hello"`) {
		t.Fatalf("messages: %d %s", st, body)
	}
	up := s.up.requests()[0]
	if strings.Contains(string(up.body), awsKey) || !strings.Contains(string(up.body), "help") {
		t.Errorf("the prompt reached the model as %s", up.body)
	}
	if up.header.Get("X-Stainless-Os") != "" || up.header.Get("Authorization") != "" {
		t.Errorf("headers outside the API's reached the upstream: %v", up.header)
	}
	res := s.results(t, 1)[0].Result
	if u := res.HTTP.Usage; u == nil || u.InputTokens != 100 || u.OutputTokens != 20 || u.Model != "claude-test" {
		t.Errorf("usage %+v", res.HTTP.Usage)
	}
	if res.Masked["prompt_aws_access_key_id"] != 1 {
		t.Errorf("prompt masking counts %v", res.Masked)
	}
	if s.usage.total(t) != 120 {
		t.Errorf("budget counted %d tokens, want 120", s.usage.total(t))
	}

	st, body = s.post(t, "/v1/messages", `{"model":"claude-test","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if st != 200 || strings.Count(body, "event: ") != 6 || !strings.Contains(body, `"text":"hi"`) {
		t.Fatalf("stream: %d %s", st, body)
	}
	res = s.results(t, 2)[1].Result
	if u := res.HTTP.Usage; u == nil || u.InputTokens != 300 || u.OutputTokens != 50 || res.HTTP.Events != 6 {
		t.Errorf("stream usage %+v, events %d", res.HTTP.Usage, res.HTTP.Events)
	}
	if s.usage.total(t) != 470 {
		t.Errorf("budget counted %d tokens, want 470", s.usage.total(t))
	}

	if st, body := s.post(t, "/v1/messages/count_tokens", `{"model":"claude-test","messages":[]}`); st != 200 || body != `{"input_tokens":42}` {
		t.Errorf("count_tokens: %d %s", st, body)
	}
	if s.usage.total(t) != 470 {
		t.Errorf("count_tokens counted against the budget: %d", s.usage.total(t))
	}
	if st, body := s.post(t, "/v1/models", `{}`); st != 404 || !strings.Contains(body, `"type":"not_found_error"`) {
		t.Errorf("other endpoint: %d %s", st, body)
	}
	req, _ := http.NewRequest("POST", s.url+"/proxy/api/v1/messages", strings.NewReader(prompt))
	req.Header.Set("X-Api-Key", "sk-ant-not-a-sluice-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"type":"authentication_error"`) {
		t.Errorf("bad key: %d %s", resp.StatusCode, b)
	}
	all, _ := json.Marshal(s.rec.events)
	if strings.Contains(string(all), upstreamToken) || strings.Contains(string(all), awsKey) || strings.Contains(string(all), agentToken) {
		t.Error("a secret is in the audit events")
	}
}

func TestAnthropicBudget(t *testing.T) {
	s := newSetup(t, fakeMessages(t), anthropicOptions(100))
	msg := `{"model":"claude-test","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	if st, _ := s.post(t, "/v1/messages", msg); st != 200 {
		t.Fatalf("first request: %d", st)
	}
	s.results(t, 1)
	st, body := s.post(t, "/v1/messages", msg)
	if st != http.StatusTooManyRequests || !strings.Contains(body, `"type":"rate_limit_error"`) ||
		!strings.Contains(body, "daily token budget exhausted: bot used 120 of 100 tokens") {
		t.Errorf("over budget: %d %s", st, body)
	}
	if n := len(s.up.requests()); n != 1 {
		t.Errorf("the upstream saw %d requests", n)
	}
	res := s.results(t, 2)[1].Result
	if res.Status != sluice.StatusDenied {
		t.Errorf("refusal recorded as %+v", res)
	}
	s.usage.fail.Store(true)
	if st, body := s.post(t, "/v1/messages", msg); st != http.StatusBadGateway || !strings.Contains(body, "cannot check your token budget") {
		t.Errorf("usage store down: %d %s", st, body)
	}
}

// TestAnthropicBudgetInFlight checks that requests in flight count against
// the budget at what they may use: two concurrent requests fit a budget of
// 1000 tokens at max_tokens 600, a third while they run is refused, and
// once they report their usage (120 each) a fourth is admitted.
func TestAnthropicBudgetInFlight(t *testing.T) {
	arrived, hold := make(chan struct{}, 4), make(chan struct{})
	messages := fakeMessages(t)
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-hold
		messages(w, r)
	}, anthropicOptions(1000))
	msg := `{"model":"claude-test","max_tokens":600,"messages":[{"role":"user","content":"hi"}]}`
	status := make(chan int, 2)
	for range 2 {
		go func() {
			st, _ := s.post(t, "/v1/messages", msg)
			status <- st
		}()
		<-arrived // in flight at the upstream
	}
	st, body := s.post(t, "/v1/messages", msg)
	if st != http.StatusTooManyRequests || !strings.Contains(body, "bot used 0 of 1000 tokens") ||
		!strings.Contains(body, "requests in flight may use") {
		t.Errorf("third request while two run: %d %s", st, body)
	}
	releaseHeld(t, hold, status, 2)
	if st, body := s.post(t, "/v1/messages", msg); st != 200 {
		t.Errorf("after the two reported 240 tokens: %d %s", st, body)
	}
	if got := s.usage.total(t); got != 360 {
		t.Errorf("usage %d, want 360", got)
	}
	if n := len(s.up.requests()); n != 3 {
		t.Errorf("the upstream saw %d requests, want 3", n)
	}
}

// TestAnthropicBudgetAcrossReplicas runs two gateways on one state store,
// each with a handle of its own on the file, as two processes would: the
// requests in flight on both count against the budget on each.
func TestAnthropicBudgetAcrossReplicas(t *testing.T) {
	arrived, hold := make(chan struct{}, 4), make(chan struct{})
	messages := fakeMessages(t)
	held := func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-hold
		messages(w, r)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	optsA, optsB := anthropicOptions(1000), anthropicOptions(1000)
	optsA.usage, optsB.usage = newUsageStore(t, path), newUsageStore(t, path)
	a, b := newSetup(t, held, optsA), newSetup(t, held, optsB)
	msg := `{"model":"claude-test","max_tokens":500,"messages":[{"role":"user","content":"hi"}]}`

	// One request in flight on each replica: about 1,040 of 1,000 tokens.
	status := make(chan int, 3)
	for _, s := range []*setup{b, a} {
		go func() {
			st, _ := s.post(t, "/v1/messages", msg)
			status <- st
		}()
		<-arrived
	}
	// A third, on either replica, would pass a check that saw only its
	// own replica's request; it must be refused before the upstream.
	third := make(chan string, 1)
	go func() {
		st, body := a.post(t, "/v1/messages", msg)
		third <- fmt.Sprint(st, " ", body)
	}()
	select {
	case got := <-third:
		if !strings.HasPrefix(got, "429 ") || !strings.Contains(got, "requests in flight may use") {
			t.Errorf("a third request while one runs on each replica: %s", got)
		}
	case <-arrived:
		t.Error("a third request reached the upstream: replica a did not see replica b's request in flight")
		status <- 0 // it is held with the others
	}
	releaseHeld(t, hold, status, 2)
	// Their usage is counted and their reservations are gone: 240 of
	// 1,000 used, so the next request fits.
	if st, body := b.post(t, "/v1/messages", msg); st != 200 {
		t.Errorf("after both requests ended: %d %s", st, body)
	}
}

// releaseHeld lets the requests that the upstream holds finish, and checks
// that the n of them whose statuses arrive on status succeeded.
func releaseHeld(t *testing.T, hold chan struct{}, status <-chan int, n int) {
	t.Helper()
	close(hold)
	for range n {
		if st := <-status; st != 200 {
			t.Errorf("a request in flight ended with %d", st)
		}
	}
}
