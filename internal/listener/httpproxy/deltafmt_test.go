package httpproxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// sseEvent is one event as the agent read it.
type sseEvent struct {
	name string // the event: line's value, "" if none
	data string
}

// readEvents splits an event stream as an SSE client does.
func readEvents(body string) []sseEvent {
	var out []sseEvent
	for ev := range strings.SplitSeq(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		var e sseEvent
		var data []string
		for line := range strings.SplitSeq(ev, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				e.name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = append(data, v)
			}
		}
		e.data = strings.Join(data, "\n")
		if e.name != "" || e.data != "" {
			out = append(out, e)
		}
	}
	return out
}

// sseServer answers with the events, flushing after each; an event that is
// a comment is sent as one.
func sseServer(events []string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range events {
			fmt.Fprint(w, ev)
			w.(http.Flusher).Flush()
		}
	}
}

// chatChunk is an OpenAI Chat Completions chunk event for one choice.
func chatChunk(choice int, delta string, finish string, logprobsOf string) string {
	fr := "null"
	if finish != "" {
		fr = fmt.Sprintf("%q", finish)
	}
	lp := "null"
	if logprobsOf != "" {
		tok, _ := json.Marshal(logprobsOf)
		lp = fmt.Sprintf(`{"content":[{"token":%s,"logprob":-0.01,"top_logprobs":[]}]}`, tok)
	}
	return fmt.Sprintf(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":%d,"delta":%s,"logprobs":%s,"finish_reason":%s}]}`+"\n\n",
		choice, delta, lp, fr)
}

func jsonText(s string) string { b, _ := json.Marshal(s); return string(b) }

// chatText is what an OpenAI client accumulates from a stream.
type chatText struct {
	content   map[int]string // by choice
	args      string         // choice 0, tool call 0
	callIDs   []string
	names     []string
	order     []string // "text", "finish", "usage", "done" as the events came
	chunkSeen int
}

func readChat(t *testing.T, body string) chatText {
	t.Helper()
	c := chatText{content: map[int]string{}}
	for _, ev := range readEvents(body) {
		if ev.data == "[DONE]" {
			c.order = append(c.order, "done")
			continue
		}
		var ch struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content   *string `json:"content"`
					ToolCalls []struct {
						Index    int    `json:"index"`
						ID       string `json:"id"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct{} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(ev.data), &ch); err != nil {
			t.Fatalf("chunk %q is not JSON: %v", ev.data, err)
		}
		c.chunkSeen++
		if ch.Usage != nil {
			c.order = append(c.order, "usage")
		}
		for _, x := range ch.Choices {
			if x.Delta.Content != nil && *x.Delta.Content != "" || len(x.Delta.ToolCalls) > 0 {
				c.order = append(c.order, "text")
			}
			if x.Delta.Content != nil {
				c.content[x.Index] += *x.Delta.Content
			}
			for _, tc := range x.Delta.ToolCalls {
				c.args += tc.Function.Arguments
				if tc.ID != "" {
					c.callIDs = append(c.callIDs, tc.ID)
				}
				if tc.Function.Name != "" {
					c.names = append(c.names, tc.Function.Name)
				}
			}
			if x.FinishReason != nil {
				c.order = append(c.order, "finish")
			}
		}
	}
	return c
}

// leaked returns the first of pieces found in s.
func leaked(s string, pieces ...string) string {
	for _, p := range pieces {
		if strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

// TestSSEChatDeltasMaskedAcrossChunks streams an OpenAI Chat Completions
// answer whose text and tool call arguments carry a token and an address
// cut across chunks (with a keep-alive comment between two halves), and
// checks that no piece of them reaches the agent or the record, that the
// text around them arrives whole, that the tool call keeps its id and name,
// that the held text comes before the finish, and that logprobs, which
// spell the text out, are dropped.
func TestSSEChatDeltasMaskedAcrossChunks(t *testing.T) {
	text := []string{"Here is the token: " + ghToken[:12], ghToken[12:30], ghToken[30:] + " and mail ", email[:6], email[6:] + "\nthanks"}
	args := []string{`{"cmd": "curl -H 'Authorization: token ` + ghToken[:9], ghToken[9:] + `' https://api.github.com"}`}
	events := []string{chatChunk(0, `{"role":"assistant","content":""}`, "", "")}
	for i, p := range text {
		events = append(events, chatChunk(0, `{"content":`+jsonText(p)+`}`, "", p))
		if i == 1 {
			events = append(events, ": keep-alive\n\n")
		}
	}
	events = append(events, chatChunk(0, `{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"run","arguments":""}}]}`, "", ""))
	for _, p := range args {
		events = append(events, chatChunk(0, `{"tool_calls":[{"index":0,"function":{"arguments":`+jsonText(p)+`}}]}`, "", ""))
	}
	events = append(events, chatChunk(0, `{}`, "tool_calls", ""),
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}`+"\n\n",
		"data: [DONE]\n\n")
	s := newSetup(t, sseServer(events), maskOptions())
	st, _, body := s.do(t, "POST", "/proxy/api/v1/chat/completions", `{"stream":true}`)
	if st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	if p := leaked(body, ghToken[9:], ghToken[12:30], ghToken[30:], email[6:], `"logprob":-`); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
	got := readChat(t, body)
	if !strings.HasPrefix(got.content[0], "Here is the token: [") || !strings.HasSuffix(got.content[0], "\nthanks") {
		t.Errorf("the text around the values changed: %q", got.content[0])
	}
	if !strings.HasPrefix(got.args, `{"cmd": "curl -H 'Authorization: token `) || !strings.HasSuffix(got.args, `' https://api.github.com"}`) {
		t.Errorf("tool call arguments %q", got.args)
	}
	if len(got.callIDs) != 1 || got.callIDs[0] != "call_1" || len(got.names) != 1 || got.names[0] != "run" {
		t.Errorf("tool call ids %v, names %v: want call_1 and run once", got.callIDs, got.names)
	}
	order := strings.Join(got.order, " ")
	if !strings.HasSuffix(order, "text finish usage done") {
		t.Errorf("event order %q: the held text must come before the finish", order)
	}
	// Every chunk is sent on (a Chat chunk is never dropped), plus two
	// that release held ends: the text's last words before the tool call,
	// the arguments' end before the finish. ([DONE] and the comment are
	// not chunks.)
	if sent := len(events) - 2; got.chunkSeen != sent+2 {
		t.Errorf("%d chunks reached the agent, %d sent and two released", got.chunkSeen, sent)
	}
	res := s.results(t, 1)[0].Result
	if p := leaked(res.HTTP.Body, ghToken[9:], ghToken[12:30], ghToken[30:], email[6:]); p != "" || res.Masked["github_token"] != 2 || res.Masked["email"] != 1 {
		t.Errorf("record: masked %v, leaked %q", res.Masked, p)
	}
}

// TestSSEChatInterleavedChoices streams two choices (n=2) whose chunks
// alternate, each with a token cut in two: each choice's text is held on
// its own, so both tokens are masked.
func TestSSEChatInterleavedChoices(t *testing.T) {
	var events []string
	for _, p := range []string{"first " + ghToken[:20], ghToken[20:] + " end\n"} {
		events = append(events, chatChunk(0, `{"content":`+jsonText(p)+`}`, "", ""),
			chatChunk(1, `{"content":`+jsonText(strings.ReplaceAll(p, "first", "second"))+`}`, "", ""))
	}
	events = append(events, chatChunk(0, `{}`, "stop", ""), chatChunk(1, `{}`, "stop", ""), "data: [DONE]\n\n")
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1/chat/completions", `{"stream":true,"n":2}`)
	if p := leaked(body, ghToken[:20], ghToken[20:]); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
	got := readChat(t, body)
	for i, want := range []string{"first ", "second "} {
		if !strings.HasPrefix(got.content[i], want) || !strings.HasSuffix(got.content[i], " end\n") {
			t.Errorf("choice %d: %q", i, got.content[i])
		}
	}
}

// TestSSEChatCleanTextWhole checks that text with nothing to mask reaches
// the agent exactly, however the chunks cut it.
func TestSSEChatCleanTextWhole(t *testing.T) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40) + "\n" +
		"Second line with \"quotes\", <angle brackets> & a tab\t, unicode ✓.\nlast words"
	var events []string
	for i := 0; i < len(text); i += 7 {
		events = append(events, chatChunk(0, `{"content":`+jsonText(text[i:min(i+7, len(text))])+`}`, "", ""))
	}
	events = append(events, chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n")
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1/chat/completions", `{"stream":true}`)
	got := readChat(t, body)
	if got.content[0] != text {
		t.Fatalf("the agent's text differs from the model's:\n got %q\nwant %q", got.content[0], text)
	}
	// Every chunk is sent on (none carries text alone), plus one that
	// releases the last words before the finish.
	if sent := len(events) - 1; got.chunkSeen != sent+1 {
		t.Errorf("%d chunks, %d sent and one released", got.chunkSeen, sent)
	}
}

// responsesEvent is an OpenAI Responses API event.
func responsesEvent(typ string, fields string) string {
	return fmt.Sprintf("event: %s\ndata: {\"type\":%q,%s}\n\n", typ, typ, fields)
}

// TestSSEResponsesDeltasMasked streams an OpenAI Responses API answer with
// a token cut across output_text deltas: no piece reaches the agent, the
// deltas keep their event names, and the held text goes out before the
// done event, which carries the whole text, masked.
func TestSSEResponsesDeltasMasked(t *testing.T) {
	parts := []string{"Use " + ghToken[:15], ghToken[15:] + " to log in\nbye"}
	events := []string{responsesEvent("response.created", `"sequence_number":0,"response":{"id":"resp_1","status":"in_progress"}`)}
	for i, p := range parts {
		events = append(events, responsesEvent("response.output_text.delta",
			fmt.Sprintf(`"sequence_number":%d,"item_id":"msg_1","output_index":0,"content_index":0,"delta":%s,"logprobs":[{"token":%s,"logprob":-0.1}]`,
				i+1, jsonText(p), jsonText(p))))
	}
	whole := strings.Join(parts, "")
	events = append(events, responsesEvent("response.output_text.done",
		fmt.Sprintf(`"sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"text":%s`, jsonText(whole))),
		responsesEvent("response.completed", `"sequence_number":4,"response":{"id":"resp_1","status":"completed"}`))
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1/responses", `{"stream":true}`)
	if p := leaked(body, ghToken[:15], ghToken[15:], `"logprob":-`); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
	var text, doneText string
	var names []string
	for _, ev := range readEvents(body) {
		var e struct {
			Type  string `json:"type"`
			Delta string `json:"delta"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil || e.Type != ev.name {
			t.Fatalf("event %+v: type %q, err %v", ev, e.Type, err)
		}
		names = append(names, ev.name)
		text += e.Delta
		doneText += e.Text
	}
	if !strings.HasPrefix(text, "Use [") || !strings.HasSuffix(text, " to log in\nbye") || text != doneText {
		t.Errorf("deltas %q, done %q: want the same masked text", text, doneText)
	}
	if n := len(names); n < 3 || names[n-1] != "response.completed" || names[n-2] != "response.output_text.done" ||
		names[n-3] != "response.output_text.delta" {
		t.Errorf("event order %v", names)
	}
}

// geminiChunk is a Gemini streamGenerateContent chunk.
func geminiChunk(text, finish string) string {
	fr := ""
	if finish != "" {
		fr = fmt.Sprintf(`,"finishReason":%q`, finish)
	}
	return fmt.Sprintf(`data: {"candidates":[{"content":{"parts":[{"text":%s}],"role":"model"},"index":0%s}],"modelVersion":"gemini-x"}`+"\n\n",
		jsonText(text), fr)
}

// TestSSEGeminiDeltasMasked streams a Gemini answer with a card number cut
// across chunks: it is masked, and the last chunk, which carries the
// finish reason, takes the held text with it.
func TestSSEGeminiDeltasMasked(t *testing.T) {
	events := []string{geminiChunk("Charge card "+card[:7], ""), geminiChunk(card[7:14], ""), geminiChunk(card[14:]+" today", "STOP")}
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1beta/models/m:streamGenerateContent?alt=sse", `{}`)
	if p := leaked(body, card, card[:7], "1111 1111 1111"); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
	evs := readEvents(body)
	if len(evs) != len(events) {
		t.Errorf("%d events for %d chunks: %s", len(evs), len(events), body)
	}
	var text string
	for i, ev := range evs {
		var g struct {
			Candidates []struct {
				Content struct {
					Parts []struct {
						Text string `json:"text"`
					} `json:"parts"`
				} `json:"content"`
				FinishReason string `json:"finishReason"`
			} `json:"candidates"`
		}
		if err := json.Unmarshal([]byte(ev.data), &g); err != nil || len(g.Candidates) != 1 {
			t.Fatalf("chunk %q: %v", ev.data, err)
		}
		if (g.Candidates[0].FinishReason != "") != (i == len(evs)-1) {
			t.Errorf("chunk %d finish reason %q", i, g.Candidates[0].FinishReason)
		}
		for _, p := range g.Candidates[0].Content.Parts {
			text += p.Text
		}
	}
	if !strings.HasPrefix(text, "Charge card ") || !strings.HasSuffix(text, " today") {
		t.Errorf("text %q", text)
	}
	if res := s.results(t, 1)[0].Result; res.Masked["payment_card"] != 1 || strings.Contains(res.HTTP.Body, card[7:14]) {
		t.Errorf("record: masked %v", res.Masked)
	}
}

// TestSSEHeldTextBeforeOtherEvents checks that held text goes out before
// an event that has a name but no data, and that a stream that starts while
// sixteen others hold text first releases the oldest, so that nothing is
// lost or held without bound.
func TestSSEHeldTextBeforeOtherEvents(t *testing.T) {
	events := []string{deltaEv("text_delta", "text", "no newline yet"), "event: custom_end\n\n"}
	for i := range 17 { // seventeen choices: seventeen groups of streams
		events = append(events, chatChunk(i, `{"content":`+jsonText(fmt.Sprintf("choice %d text", i))+`}`, "", ""))
	}
	events = append(events, "data: [DONE]\n\n")
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "GET", "/proxy/api/stream", "")
	evs := readEvents(body)
	if len(evs) < 2 || evs[0].name != "content_block_delta" || !strings.Contains(evs[0].data, "no newline yet") || evs[1].name != "custom_end" {
		t.Fatalf("the held text must come before the event without data: %+v", evs[:min(2, len(evs))])
	}
	got := readChat(t, strings.Join(strings.SplitAfterN(body, "\n\n", 3)[2:], ""))
	for i := range 17 {
		if want := fmt.Sprintf("choice %d text", i); got.content[i] != want {
			t.Errorf("choice %d: %q", i, got.content[i])
		}
	}
	// Choice 0's text is released when choice 16 starts: before choice
	// 16's chunk, not at the end.
	i0 := strings.Index(body, `"content":"choice 0 text"`)
	i16 := strings.Index(body, `"index":16`)
	if i0 < 0 || i16 < 0 || i0 > i16 {
		t.Errorf("choice 0's text at %d, choice 16's first chunk at %d", i0, i16)
	}
}

// TestSSEChatQuirksOfCompatibleServers streams what servers that copy the
// Chat Completions format send, each with a token cut across chunks, and
// checks that the token is masked in everything the agent gets.
func TestSSEChatQuirksOfCompatibleServers(t *testing.T) {
	a, b := ghToken[:16], ghToken[16:]
	cases := []struct {
		name   string
		events []string
		check  func(t *testing.T, body string)
	}{
		{"empty finish_reason on every chunk", []string{
			strings.Replace(chatChunk(0, `{"content":`+jsonText("key "+a)+`}`, "", ""), `"finish_reason":null`, `"finish_reason":""`, 1),
			strings.Replace(chatChunk(0, `{"content":`+jsonText(b+" ok\n")+`}`, "", ""), `"finish_reason":null`, `"finish_reason":""`, 1),
			chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n"}, nil},
		{"reasoning repeated in reasoning_details", []string{
			chatChunk(0, `{"reasoning":`+jsonText("key "+a)+`,"reasoning_details":[{"type":"reasoning.text","text":`+jsonText("key "+a)+`,"format":"unknown","index":0}]}`, "", ""),
			chatChunk(0, `{"reasoning":`+jsonText(b+" ok\n")+`,"reasoning_details":[{"type":"reasoning.text","text":`+jsonText(b+" ok\n")+`,"format":"unknown","index":0}]}`, "", ""),
			chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n"},
			func(t *testing.T, body string) {
				var reasoning, details string
				for _, ev := range readEvents(body) {
					var c struct {
						Choices []struct {
							Delta struct {
								Reasoning        string `json:"reasoning"`
								ReasoningDetails []struct {
									Text string `json:"text"`
								} `json:"reasoning_details"`
							} `json:"delta"`
						} `json:"choices"`
					}
					if json.Unmarshal([]byte(ev.data), &c) == nil && len(c.Choices) == 1 {
						reasoning += c.Choices[0].Delta.Reasoning
						for _, d := range c.Choices[0].Delta.ReasoningDetails {
							details += d.Text
						}
					}
				}
				if reasoning != details || !strings.HasPrefix(reasoning, "key [") || !strings.HasSuffix(reasoning, " ok\n") {
					t.Errorf("reasoning %q, reasoning_details %q: want the same masked text", reasoning, details)
				}
			}},
		{"a content filter's annotation mid-line", []string{
			chatChunk(0, `{"content":`+jsonText("key "+a)+`}`, "", ""),
			`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"content_filter_offsets":{"check_offset":3,"start_offset":0,"end_offset":9},"content_filter_results":{"hate":{"filtered":false}}}]}` + "\n\n",
			chatChunk(0, `{"content":""}`, "", ""),
			chatChunk(0, `{"content":`+jsonText(b+" ok\n")+`}`, "", ""),
			chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n"}, nil},
		{"a tool call's id and name on every chunk", []string{
			chatChunk(0, `{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"run","arguments":`+jsonText(`{"token":"`+a)+`}}]}`, "", ""),
			chatChunk(0, `{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"run","arguments":`+jsonText(b+`"}`)+`}}]}`, "", ""),
			chatChunk(0, `{}`, "tool_calls", ""), "data: [DONE]\n\n"}, nil},
		{"text with a tool call's header in one chunk", []string{
			chatChunk(0, `{"content":`+jsonText("key "+a)+`}`, "", ""),
			chatChunk(0, `{"content":`+jsonText(b+" ok\n")+`,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"run","arguments":""}}]}`, "", ""),
			chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n"}, nil},
		{"reasoning repeated in reasoning_details summaries", []string{
			chatChunk(0, `{"reasoning":`+jsonText("key "+a)+`,"reasoning_details":[{"type":"reasoning.summary","summary":`+jsonText("key "+a)+`,"format":"openai-responses-v1","index":0}]}`, "", ""),
			chatChunk(0, `{"reasoning":`+jsonText(b+" ok\n")+`,"reasoning_details":[{"type":"reasoning.summary","summary":`+jsonText(b+" ok\n")+`,"format":"openai-responses-v1","index":0}]}`, "", ""),
			chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n"}, nil},
		{"the functions API's function_call", []string{
			chatChunk(0, `{"function_call":{"name":"run","arguments":`+jsonText(`{"cmd": "use `+a)+`}}`, "", ""),
			chatChunk(0, `{"function_call":{"arguments":`+jsonText(b+`"}`)+`}}`, "", ""),
			chatChunk(0, `{}`, "function_call", ""), "data: [DONE]\n\n"},
			func(t *testing.T, body string) {
				if !strings.Contains(body, `"name":"run"`) || strings.Count(body, `"name":"run"`) != 1 {
					t.Errorf("the call's name must reach the agent once: %s", body)
				}
			}},
		{"tool calls without an index", []string{
			chatChunk(0, `{"tool_calls":[{"id":"call_A","type":"function","function":{"name":"run","arguments":`+jsonText(`{"cmd": "use `+a)+`}}]}`, "", ""),
			chatChunk(0, `{"tool_calls":[{"function":{"arguments":`+jsonText(b+`"}`)+`}}]}`, "", ""),
			chatChunk(0, `{"tool_calls":[{"id":"call_B","type":"function","function":{"name":"run","arguments":"{\"cmd\": \"ls\"}"}}]}`, "", ""),
			chatChunk(0, `{}`, "tool_calls", ""), "data: [DONE]\n\n"},
			func(t *testing.T, body string) {
				// A client that keys calls on their ids: call A's arguments
				// must all come before call B starts.
				args := map[string]string{}
				cur := ""
				for _, ev := range readEvents(body) {
					var c struct {
						Choices []struct {
							Delta struct {
								ToolCalls []struct {
									ID       string `json:"id"`
									Function struct {
										Arguments string `json:"arguments"`
									} `json:"function"`
								} `json:"tool_calls"`
							} `json:"delta"`
						} `json:"choices"`
					}
					if json.Unmarshal([]byte(ev.data), &c) != nil || len(c.Choices) != 1 {
						continue
					}
					for _, tc := range c.Choices[0].Delta.ToolCalls {
						if tc.ID != "" {
							cur = tc.ID
						}
						args[cur] += tc.Function.Arguments
					}
				}
				if !strings.HasPrefix(args["call_A"], `{"cmd": "use [`) || !strings.HasSuffix(args["call_A"], `]"}`) || args["call_B"] != `{"cmd": "ls"}` {
					t.Errorf("arguments by call: %q", args)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, sseServer(c.events), maskOptions())
			_, _, body := s.do(t, "POST", "/proxy/api/v1/chat/completions", `{"stream":true}`)
			if p := leaked(body, a, b); p != "" {
				t.Fatalf("the agent got %q: %s", p, body)
			}
			if c.check != nil {
				c.check(t, body)
			}
		})
	}
}

// TestSSEResponsesKeepalive checks that a keepalive event in the middle of
// a line does not cut it.
func TestSSEResponsesKeepalive(t *testing.T) {
	events := []string{
		responsesEvent("response.output_text.delta", `"item_id":"m","output_index":0,"content_index":0,"delta":`+jsonText("key "+ghToken[:16])),
		"event: keepalive\ndata: {\"type\":\"keepalive\",\"sequence_number\":7}\n\n",
		responsesEvent("response.output_text.delta", `"item_id":"m","output_index":0,"content_index":0,"delta":`+jsonText(ghToken[16:]+" ok\n")),
		responsesEvent("response.completed", `"response":{"id":"resp_1"}`)}
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1/responses", `{"stream":true}`)
	if p := leaked(body, ghToken[:16], ghToken[16:]); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
	if !strings.Contains(body, `"type":"keepalive"`) {
		t.Errorf("the keepalive did not reach the agent: %s", body)
	}
}

// TestSSEResponsesPartIndexPerDelta streams Responses deltas of one item
// whose part index changes with every delta, as some servers send them:
// the item's text is still joined, in order, and the token masked.
func TestSSEResponsesPartIndexPerDelta(t *testing.T) {
	parts := []string{"the key ", ghToken[:10], ghToken[10:25], ghToken[25:], " ok\n"}
	var events []string
	for i, p := range parts {
		events = append(events, responsesEvent("response.output_text.delta",
			fmt.Sprintf(`"item_id":"msg_1","output_index":0,"content_index":%d,"delta":%s`, i, jsonText(p))))
	}
	events = append(events, responsesEvent("response.completed", `"response":{"id":"resp_1"}`))
	s := newSetup(t, sseServer(events), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1/responses", `{"stream":true}`)
	if p := leaked(body, ghToken[:10], ghToken[10:25], ghToken[25:]); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
	var text string
	for _, ev := range readEvents(body) {
		var e struct {
			Delta string `json:"delta"`
		}
		json.Unmarshal([]byte(ev.data), &e)
		text += e.Delta
	}
	if !strings.HasPrefix(text, "the key [") || !strings.HasSuffix(text, " ok\n") {
		t.Errorf("text %q", text)
	}
}

// TestSSEGroupOrder checks that the held end of one stream goes out before
// the next stream of its group starts: a choice's reasoning before its
// answer, a Gemini thought before the text, and all of it before the
// finish.
func TestSSEGroupOrder(t *testing.T) {
	t.Run("chat", func(t *testing.T) {
		events := []string{chatChunk(0, `{"reasoning_content":"thinking about it"}`, "", ""),
			chatChunk(0, `{"content":"the answer\n"}`, "", ""), chatChunk(0, `{}`, "stop", ""), "data: [DONE]\n\n"}
		s := newSetup(t, sseServer(events), maskOptions())
		_, _, body := s.do(t, "POST", "/proxy/api/v1/chat/completions", `{"stream":true}`)
		r, a, f := strings.Index(body, "thinking about it"), strings.Index(body, "the answer"), strings.Index(body, `"finish_reason":"stop"`)
		if r < 0 || a < 0 || f < 0 || r > a || a > f {
			t.Errorf("reasoning at %d, answer at %d, finish at %d: %s", r, a, f, body)
		}
	})
	t.Run("gemini", func(t *testing.T) {
		thought := `data: {"candidates":[{"content":{"parts":[{"text":"thinking about it","thought":true}],"role":"model"},"index":0}]}` + "\n\n"
		events := []string{thought, geminiChunk("the answer", ""), geminiChunk(" is 42", "STOP")}
		s := newSetup(t, sseServer(events), maskOptions())
		_, _, body := s.do(t, "POST", "/proxy/api/v1beta/models/m:streamGenerateContent?alt=sse", `{}`)
		r, a, f := strings.Index(body, "thinking about it"), strings.Index(body, "the answer"), strings.Index(body, `"finishReason":"STOP"`)
		if r < 0 || a < 0 || f < 0 || r > a || a > f || !strings.Contains(body, "the answer is 42") {
			t.Errorf("thought at %d, answer at %d, finish at %d: %s", r, a, f, body)
		}
	})
}

// TestSSEGeminiLogprobsDropped checks that a Gemini chunk's
// logprobsResult, which spells the text out token by token, does not
// reach the agent while the text is masked.
func TestSSEGeminiLogprobsDropped(t *testing.T) {
	chunk := func(text string) string {
		return fmt.Sprintf(`data: {"candidates":[{"content":{"parts":[{"text":%s}],"role":"model"},"index":0,"logprobsResult":{"chosenCandidates":[{"token":%s,"logProbability":-0.1}]}}]}`+"\n\n",
			jsonText(text), jsonText(text))
	}
	s := newSetup(t, sseServer([]string{chunk("key " + ghToken[:16]), chunk(ghToken[16:] + " ok\n")}), maskOptions())
	_, _, body := s.do(t, "POST", "/proxy/api/v1beta/models/m:streamGenerateContent?alt=sse", `{}`)
	if p := leaked(body, ghToken[:16], ghToken[16:], "logProbability"); p != "" {
		t.Fatalf("the agent got %q: %s", p, body)
	}
}

// TestLogprobsDroppedWhileMasking checks that the token-by-token copies of
// a model's output, which an agent can ask for, reach it nowhere while
// masking: not in a Responses done event, a JSON body or an NDJSON line;
// and that a request's own logprobs settings echoed back stay.
func TestLogprobsDroppedWhileMasking(t *testing.T) {
	tokens := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			out = append(out, fmt.Sprintf(`{"token":%s,"logprob":-0.1,"top_logprobs":[{"token":%s,"logprob":-0.2}]}`, jsonText(p), jsonText(p)))
		}
		return "[" + strings.Join(out, ",") + "]"
	}
	a, b := ghToken[:14], ghToken[14:]
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/responses":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, responsesEvent("response.created", `"response":{"id":"resp_1","top_logprobs":3}`))
			fmt.Fprint(w, responsesEvent("response.output_text.done",
				`"item_id":"m","output_index":0,"content_index":0,"text":`+jsonText("key "+ghToken)+`,"logprobs":`+tokens("key ", a, b)))
		case "/api/generate":
			w.Header().Set("Content-Type", "application/x-ndjson")
			fmt.Fprintf(w, "{\"response\":%s,\"logprobs\":%s}\n{\"done\":true}\n", jsonText("key "+ghToken), tokens("key ", a, b))
		case "/v1/chat/completions":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c","logprobs_requested":true,"choices":[{"index":0,"message":{"role":"assistant","content":%s},"logprobs":{"content":%s}}]}`,
				jsonText("key "+ghToken), tokens("key ", a, b))
		}
	}, maskOptions())
	_, _, sse := s.do(t, "POST", "/proxy/api/v1/responses", `{"stream":true}`)
	_, _, body := s.do(t, "POST", "/proxy/api/v1/chat/completions", `{}`)
	_, _, lines := s.do(t, "POST", "/proxy/api/api/generate", `{}`)
	for what, got := range map[string]string{"event stream": sse, "JSON body": body, "NDJSON body": lines} {
		if p := leaked(got, a, b, `"logprob":`); p != "" {
			t.Errorf("%s: the agent got %q: %s", what, p, got)
		}
	}
	if !strings.Contains(sse, `"top_logprobs":3`) || !strings.Contains(sse, `"logprobs":[]`) || !strings.Contains(body, `"logprobs":null`) {
		t.Errorf("want the settings kept and the lists emptied:\n%s\n%s", sse, body)
	}
}

// streamedText accumulates, from each event's data, the strings at path
// (keys, and "*" for every element of a list) as a client of that format
// does, and counts the events it read.
func streamedText(t *testing.T, body string, path ...string) (string, int) {
	t.Helper()
	var out strings.Builder
	n := 0
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		if len(path) == 0 {
			if s, ok := v.(string); ok {
				out.WriteString(s)
			}
			return
		}
		switch x := v.(type) {
		case map[string]any:
			walk(x[path[0]], path[1:])
		case []any:
			if path[0] == "*" {
				for _, el := range x {
					walk(el, path[1:])
				}
			}
		}
	}
	for _, ev := range readEvents(body) {
		if ev.data == "[DONE]" {
			continue
		}
		var doc any
		if err := json.Unmarshal([]byte(ev.data), &doc); err != nil {
			t.Fatalf("event %q is not JSON: %v", ev.data, err)
		}
		n++
		walk(doc, path)
	}
	return out.String(), n
}

// TestSSEOtherChatShapesMasked streams a token cut across chunks in the
// shapes of Chat Completions text that are not a delta's content string:
// content as a list of parts (Mistral), an audio answer's transcript with
// audio between its pieces, and the legacy Completions API's text. Each
// is held to whole lines: no piece reaches the agent, the text around it
// arrives as it was sent, and every chunk is sent on.
func TestSSEOtherChatShapesMasked(t *testing.T) {
	pieces := []string{"the token is " + ghToken[:10], ghToken[10:25], ghToken[25:] + " ok\n", "done"}
	want := strings.Join(pieces, "")
	chunk := func(choice string) string {
		return `data: {"id":"x-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[` + choice + `]}` + "\n\n"
	}
	for _, c := range []struct {
		name, path string
		event      func(i int, p string) []string // the chunks that carry piece i
		finish     string
		read       []string
	}{
		{"content parts", "/proxy/api/v1/chat/completions", func(_ int, p string) []string {
			return []string{chunk(`{"index":0,"delta":{"content":[{"type":"text","text":` + jsonText(p) + `}]},"finish_reason":null}`)}
		}, chunk(`{"index":0,"delta":{"content":""},"finish_reason":"stop"}`), []string{"choices", "*", "delta", "content", "*", "text"}},
		{"audio transcript", "/proxy/api/v1/chat/completions", func(i int, p string) []string {
			return []string{
				chunk(`{"index":0,"delta":{"audio":{"id":"audio_1","transcript":` + jsonText(p) + `}},"finish_reason":null}`),
				chunk(fmt.Sprintf(`{"index":0,"delta":{"audio":{"id":"audio_1","data":"UklGR%d"}},"finish_reason":null}`, i)),
			}
		}, chunk(`{"index":0,"delta":{"audio":{"id":"audio_1","expires_at":1}},"finish_reason":"stop"}`), []string{"choices", "*", "delta", "audio", "transcript"}},
		{"legacy completions", "/proxy/api/v1/completions", func(_ int, p string) []string {
			return []string{`data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"text":` + jsonText(p) + `,"index":0,"logprobs":null,"finish_reason":null}]}` + "\n\n"}
		}, `data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]}` + "\n\n",
			[]string{"choices", "*", "text"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var events []string
			for i, p := range pieces {
				events = append(events, c.event(i, p)...)
			}
			events = append(events, c.finish, "data: [DONE]\n\n")
			s := newSetup(t, sseServer(events), maskOptions())
			st, _, body := s.do(t, "POST", c.path, `{"stream":true}`)
			if st != 200 {
				t.Fatalf("status %d: %s", st, body)
			}
			if p := leaked(body, ghToken[10:25], ghToken[25:], ghToken[:10]); p != "" {
				t.Fatalf("the agent got %q: %s", p, body)
			}
			got, chunks := streamedText(t, body, c.read...)
			if !strings.HasPrefix(got, "the token is [") || !strings.HasSuffix(got, "] ok\ndone") {
				t.Errorf("the agent read %q from the model's %q", got, want)
			}
			// Every chunk is sent on, plus one that releases "done"
			// before the finish.
			if sent := len(events) - 1; chunks != sent+1 {
				t.Errorf("%d chunks reached the agent, %d sent and one released:\n%s", chunks, sent, body)
			}
			if strings.Contains(body, "audio_1") && strings.Count(body, `"data":"UklGR`) != len(pieces) {
				t.Errorf("the audio chunks did not all arrive: %s", body)
			}
		})
	}
}

// TestSSEChoicesAndPartsMasked streams a token cut across chunks of
// several choices (n > 1) and across content parts: a chunk with two
// choices is held one choice at a time, one choice's finish leaves the
// other's unfinished line held, and the text parts of one chunk are one
// text, read one after another. No piece reaches the agent, and each
// choice's text arrives whole and in order.
func TestSSEChoicesAndPartsMasked(t *testing.T) {
	legacy := func(choices string) string {
		return `data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[` + choices + `]}` + "\n\n"
	}
	chat := func(choices string) string {
		return `data: {"id":"x-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[` + choices + `]}` + "\n\n"
	}
	text := func(i int, s, finish string) string {
		return fmt.Sprintf(`{"text":%s,"index":%d,"logprobs":null,"finish_reason":%s}`, jsonText(s), i, finish)
	}
	for _, c := range []struct {
		name, path string
		events     []string
		read       []string
		want       string // the text read, masked, of every choice in turn
	}{
		{"legacy, two choices in a chunk", "/proxy/api/v1/completions", []string{
			legacy(text(0, "the token is "+ghToken[:15], "null")),
			legacy(text(0, ghToken[15:]+" ok\n", "null") + "," + text(1, "b", "null")),
			legacy(text(0, "", `"stop"`)), legacy(text(1, "", `"stop"`)),
		}, []string{"choices", "*", "text"}, "the token is [github_token] ok\nb"},
		{"legacy, the other choice finishes", "/proxy/api/v1/completions", []string{
			legacy(text(1, "the token is "+ghToken[:15], "null")),
			legacy(text(0, "", `"length"`)),
			legacy(text(1, ghToken[15:]+" ok\n", "null")),
			legacy(text(1, "", `"stop"`)),
		}, []string{"choices", "*", "text"}, "the token is [github_token] ok\n"},
		{"chat, the other choice finishes", "/proxy/api/v1/chat/completions", []string{
			chat(`{"index":1,"delta":{"content":"the token is ` + ghToken[:15] + `"},"finish_reason":null}`),
			chat(`{"index":0,"delta":{},"finish_reason":"stop"}`),
			chat(`{"index":1,"delta":{"content":"` + ghToken[15:] + ` ok\n"},"finish_reason":null}`),
			chat(`{"index":1,"delta":{},"finish_reason":"stop"}`),
		}, []string{"choices", "*", "delta", "content"}, "the token is [github_token] ok\n"},
		{"chat, two text parts", "/proxy/api/v1/chat/completions", []string{
			chat(`{"index":0,"delta":{"content":[{"type":"text","text":"the token is ` + ghToken[:15] + `"}]},"finish_reason":null}`),
			chat(`{"index":0,"delta":{"content":[{"type":"text","text":"` + ghToken[15:] + `"},{"type":"text","text":" ok\n"}]},"finish_reason":null}`),
			chat(`{"index":0,"delta":{"content":[{"type":"text","text":"ab"},{"type":"text","text":"ab"}]},"finish_reason":null}`),
			chat(`{"index":0,"delta":{"content":""},"finish_reason":"stop"}`),
		}, []string{"choices", "*", "delta", "content", "*", "text"}, "the token is [github_token] ok\nabab"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, sseServer(append(c.events, "data: [DONE]\n\n")), maskOptions())
			st, _, body := s.do(t, "POST", c.path, `{"stream":true}`)
			if st != 200 {
				t.Fatalf("status %d: %s", st, body)
			}
			if p := leaked(body, ghToken[:15], ghToken[15:]); p != "" {
				t.Fatalf("the agent got %q: %s", p, body)
			}
			if got, _ := streamedText(t, body, c.read...); !strings.Contains(got, "[") || strings.ReplaceAll(got, got[strings.Index(got, "["):strings.Index(got, "]")+1], "[github_token]") != c.want {
				t.Errorf("the agent read %q, want %q:\n%s", got, c.want, body)
			}
		})
	}
}
