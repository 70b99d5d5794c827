package httpproxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// deltaEv is a Claude API content_block_delta event for block 0.
func deltaEv(typ, field, text string) string {
	t, _ := json.Marshal(text)
	return fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":%q,%q:%s}}\n\n",
		typ, field, t)
}

const (
	blockStart = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	blockStop  = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	pingEv     = "event: ping\ndata: {\"type\": \"ping\"}\n\n"
)

// streamed is what an agent read of a stream: the events' types in order
// and the text of block 0's deltas joined.
type streamed struct {
	types []string
	text  string
}

func parseStream(t *testing.T, body string) streamed {
	t.Helper()
	var s streamed
	for ev := range strings.SplitSeq(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		var data string
		for line := range strings.SplitSeq(ev, "\n") {
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		var d struct {
			Type  string `json:"type"`
			Delta struct {
				Text        *string `json:"text"`
				PartialJSON *string `json:"partial_json"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Fatalf("event %q: data is not JSON: %v", ev, err)
		}
		s.types = append(s.types, d.Type)
		for _, p := range []*string{d.Delta.Text, d.Delta.PartialJSON} {
			if p != nil {
				s.text += *p
			}
		}
	}
	return s
}

// TestSSEDeltasMaskedAcrossEvents streams a token and an address, each cut
// across deltas (with a ping between the halves), and checks that neither
// reaches the agent or the record, that the rest of the text arrives
// whole, and that the held end of the block comes before its stop event.
func TestSSEDeltasMaskedAcrossEvents(t *testing.T) {
	cases := []struct {
		name, typ, field string
		parts            []string
	}{
		{"text", "text_delta", "text", []string{"Here is the token: " + ghToken[:12], ghToken[12:30], "", ghToken[30:] + " and mail ", email[:6], email[6:] + "\nthanks"}},
		{"tool input", "input_json_delta", "partial_json", []string{`{"command": "curl -H 'Authorization: token ` + ghToken[:9], ghToken[9:] + `' https://api.github.com"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, blockStart)
				for _, p := range c.parts {
					if p == "" {
						fmt.Fprint(w, pingEv)
						continue
					}
					fmt.Fprint(w, deltaEv(c.typ, c.field, p))
					w.(http.Flusher).Flush()
				}
				fmt.Fprint(w, blockStop)
			}, maskOptions())
			st, _, body := s.do(t, "GET", "/proxy/api/v1/messages", "")
			if st != 200 {
				t.Fatalf("status %d: %s", st, body)
			}
			whole := strings.Join(c.parts, "")
			got := parseStream(t, body)
			for _, secret := range []string{ghToken, ghToken[:12], ghToken[12:30], email} {
				if strings.Contains(whole, secret) && strings.Contains(got.text, secret) {
					t.Errorf("the agent got %q in %q", secret, got.text)
				}
			}
			if strings.Contains(body, ghToken[9:]) || strings.Contains(body, ghToken[30:]) {
				t.Errorf("a piece of the token reached the agent: %s", body)
			}
			if c.name == "text" && (!strings.HasPrefix(got.text, "Here is the token: ") || !strings.HasSuffix(got.text, "\nthanks")) {
				t.Errorf("the text around the values changed: %q", got.text)
			}
			if last := got.types[len(got.types)-1]; last != "content_block_stop" || got.types[len(got.types)-2] != "content_block_delta" {
				t.Errorf("event order %v: the held text must come before the block's stop", got.types)
			}
			res := s.results(t, 1)[0].Result
			if strings.Contains(res.HTTP.Body, ghToken[9:]) || strings.Contains(res.HTTP.Body, ghToken[30:]) || res.Masked["github_token"] != 1 {
				t.Errorf("record: masked %v, body %q", res.Masked, res.HTTP.Body)
			}
		})
	}
}

// TestSSEDeltasPassCleanTextWhole checks that text with nothing to mask
// reaches the agent exactly, however the deltas cut it, and that other
// events keep their order and content.
func TestSSEDeltasPassCleanTextWhole(t *testing.T) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60) + "\n" +
		"Second line with \"quotes\", a tab\t, unicode ✓ and a backslash \\.\nlast words without a newline"
	var parts []string
	for i := 0; i < len(text); i += 7 {
		parts = append(parts, text[i:min(i+7, len(text))])
	}
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, blockStart)
		for _, p := range parts {
			fmt.Fprint(w, deltaEv("text_delta", "text", p))
		}
		fmt.Fprint(w, blockStop)
		fmt.Fprint(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	}, maskOptions())
	_, _, body := s.do(t, "GET", "/proxy/api/v1/messages", "")
	got := parseStream(t, body)
	if got.text != text {
		t.Fatalf("the agent's text differs from the model's:\n got %q\nwant %q", got.text, text)
	}
	if got.types[0] != "content_block_start" || got.types[len(got.types)-2] != "content_block_stop" || got.types[len(got.types)-1] != "message_stop" {
		t.Errorf("event order %v", got.types)
	}
	// Whole lines go out at once; a line past deltaLine goes out up to a
	// blank: fewer events than deltas, but more than one.
	if n := strings.Count(body, "content_block_delta\n"); n < 2 || n >= len(parts) {
		t.Errorf("%d delta events for %d deltas", n, len(parts))
	}
}

// TestSSEDeltasStreamWholeLines checks that a delta that ends a line goes
// to the agent at once: the upstream sends the next only after the agent
// has read it.
func TestSSEDeltasStreamWholeLines(t *testing.T) {
	next := make(chan struct{})
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, deltaEv("text_delta", "text", "first "))
		fmt.Fprint(w, deltaEv("text_delta", "text", "line\nsecond"))
		w.(http.Flusher).Flush()
		<-next
		fmt.Fprint(w, deltaEv("text_delta", "text", " line\n"))
	}, maskOptions())
	br := s.openStream(t, "/proxy/api/v1/messages")
	if first := parseStream(t, readEvent(t, br)); first.text != "first line\n" {
		t.Errorf("first event's text %q, want the whole first line", first.text)
	}
	close(next)
	if second := parseStream(t, readEvent(t, br)); second.text != "second line\n" {
		t.Errorf("second event's text %q", second.text)
	}
}

// TestSSEDeltasHoldAPrivateKey checks that a PEM private key streamed
// over many deltas is held until its END line and masked whole.
func TestSSEDeltasHoldAPrivateKey(t *testing.T) {
	key := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNb\n-----END PRIVATE KEY-----\n"
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, deltaEv("text_delta", "text", "Your key:\n"))
		for i := 0; i < len(key); i += 10 {
			fmt.Fprint(w, deltaEv("text_delta", "text", key[i:min(i+10, len(key))]))
		}
		fmt.Fprint(w, blockStop)
	}, maskOptions())
	_, _, body := s.do(t, "GET", "/proxy/api/v1/messages", "")
	got := parseStream(t, body)
	if !strings.HasPrefix(got.text, "Your key:\n") || strings.Contains(got.text, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7") ||
		strings.Contains(got.text, "VJTUt9Us8cKjMzEfYyjiWA4R4") {
		t.Errorf("the agent got %q", got.text)
	}
}

// TestSSEDeltasLongLineKeepsACardWhole streams a line longer than the
// delta cut with a card number split across two deltas near its end: the
// cut must not fall between the number's groups.
func TestSSEDeltasLongLineKeepsACardWhole(t *testing.T) {
	head := strings.Repeat("lorem ", 180) + card[:9] // 1,089 bytes, the number's first two groups
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, blockStart)
		fmt.Fprint(w, deltaEv("text_delta", "text", head))
		w.(http.Flusher).Flush()
		fmt.Fprint(w, deltaEv("text_delta", "text", card[9:]+" and more\n"))
		fmt.Fprint(w, blockStop)
	}, maskOptions())
	st, _, body := s.do(t, "GET", "/proxy/api/v1/messages", "")
	if st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	got := parseStream(t, body)
	if strings.Contains(got.text, card) || strings.Contains(got.text, "1111 1111 1111 and") {
		t.Errorf("the card number reached the agent: ...%q", got.text[max(0, len(got.text)-80):])
	}
	if !strings.HasPrefix(got.text, "lorem lorem ") || !strings.HasSuffix(got.text, " and more\n") {
		t.Errorf("the text around the number changed: %q...%q", got.text[:20], got.text[max(0, len(got.text)-20):])
	}
	if res := s.results(t, 1)[0].Result; res.Masked["payment_card"] != 1 {
		t.Errorf("record: masked %v", res.Masked)
	}
}

// TestSSEDeltasLongLineKeepsAKeyWithItsValue streams a line longer than
// the delta cut that ends, for now, in a key, blanks and '=' with its value
// still to come: the cut must not fall between the key and the value,
// which would leave the value without the key that makes it a secret.
func TestSSEDeltasLongLineKeepsAKeyWithItsValue(t *testing.T) {
	// Three blanks before the '=' and 64 after it: as many as the
	// detector takes.
	head := strings.Repeat("lorem ", 190) + "password   =" + strings.Repeat(" ", 64)
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, blockStart)
		fmt.Fprint(w, deltaEv("text_delta", "text", head))
		w.(http.Flusher).Flush()
		fmt.Fprint(w, deltaEv("text_delta", "text", "hunter2secret and more\n"))
		fmt.Fprint(w, blockStop)
	}, maskOptions())
	_, _, body := s.do(t, "GET", "/proxy/api/v1/messages", "")
	got := parseStream(t, body)
	if strings.Contains(got.text, "hunter2secret") || !strings.HasSuffix(got.text, " and more\n") || !strings.HasPrefix(got.text, "lorem ") {
		t.Errorf("the agent got ...%q", got.text[max(0, len(got.text)-120):])
	}
	if res := s.results(t, 1)[0].Result; res.Masked["conn_string_password"] != 1 {
		t.Errorf("record: masked %v", res.Masked)
	}
}
