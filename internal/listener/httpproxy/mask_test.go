package httpproxy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
)

const (
	email   = "jane.doe@example.com"
	ghToken = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
)

func maskOptions(unmasked ...string) options {
	return options{mask: []string{"pii", "secrets"}, unmasked: unmasked, masking: config.Masking{
		JSONPaths: []config.MaskPath{{Paths: []string{"$.customer.ssn"}, Strategy: "redact"}}}}
}

func TestProxyMasksResponses(t *testing.T) {
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"customer":{"email":%q,"ssn":"078-05-1120","note":"ok"},"token":%q}`, email, ghToken)
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "line one\ncontact %s\ntoken %s\n", email, ghToken)
		case "/bin":
			w.Header().Set("Content-Type", "application/octet-stream")
			fmt.Fprint(w, "\x00\x01"+email)
		}
	}, maskOptions())

	st, _, body := s.do(t, "GET", "/proxy/api/json", "")
	if st != 200 || strings.Contains(body, email) || strings.Contains(body, ghToken) || strings.Contains(body, "078-05-1120") ||
		!strings.Contains(body, `"note":"ok"`) {
		t.Errorf("json: %d %s", st, body)
	}
	if !jsonValid(body) {
		t.Errorf("masked JSON is not JSON: %s", body)
	}
	st, _, body = s.do(t, "GET", "/proxy/api/text", "")
	if st != 200 || strings.Contains(body, email) || strings.Contains(body, ghToken) || !strings.HasPrefix(body, "line one\n") {
		t.Errorf("text: %d %q", st, body)
	}
	st, _, body = s.do(t, "GET", "/proxy/api/bin", "")
	if st != http.StatusBadGateway || strings.Contains(body, email) || !strings.Contains(body, "withheld") {
		t.Errorf("binary: %d %q", st, body)
	}
	evs := s.results(t, 3)
	for _, ev := range evs {
		if strings.Contains(ev.Result.HTTP.Body, email) || strings.Contains(ev.Result.HTTP.Body, ghToken) {
			t.Errorf("the record holds a clear value: %s", ev.Result.HTTP.Body)
		}
	}
	m := evs[0].Result.Masked
	if m["email"] != 1 || m["github_token"] != 1 || m["json_path_rule"] != 1 {
		t.Errorf("masked counts %v", m)
	}
	if evs[2].Result.Status != sluice.StatusError {
		t.Errorf("withheld binary recorded as %q", evs[2].Result.Status)
	}
}

func TestProxyExemptSeesClearRecordMasked(t *testing.T) {
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"email":%q}`, email)
	}, maskOptions("group:agents"))
	_, _, body := s.do(t, "GET", "/proxy/api/x", "")
	if !strings.Contains(body, email) {
		t.Errorf("exempt agent got %s", body)
	}
	res := s.results(t, 1)[0].Result
	if strings.Contains(res.HTTP.Body, email) || !res.Unmasked || res.Masked["email"] != 1 {
		t.Errorf("record %+v body %s", res, res.HTTP.Body)
	}
}

// TestProxySSEStreams checks that events reach the client one by one as
// the upstream sends them, masked: the upstream sends its second event
// only after the client has read the first.
func TestProxySSEStreams(t *testing.T) {
	next := make(chan struct{})
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: one\ndata: {\"text\":\"mail %s\"}\n\n", email)
		w.(http.Flusher).Flush()
		<-next
		fmt.Fprint(w, "event: two\ndata: plain text\ndata: second line\n\n")
	}, maskOptions())
	br := s.openStream(t, "/proxy/api/stream")
	first := readEvent(t, br)
	if !strings.HasPrefix(first, "event: one\ndata: {") || strings.Contains(first, email) {
		t.Errorf("first event %q", first)
	}
	close(next)
	second := readEvent(t, br)
	if second != "event: two\ndata: plain text\ndata: second line\n\n" {
		t.Errorf("second event %q", second)
	}
	res := s.results(t, 1)[0].Result
	if res.HTTP.Events != 2 || strings.Contains(res.HTTP.Body, email) || !strings.Contains(res.HTTP.Body, "event: two") {
		t.Errorf("record: %d events, body %q", res.HTTP.Events, res.HTTP.Body)
	}
}

// openStream sends the agent's GET of path and returns its body to read
// as it arrives; the body is closed when the test ends.
func (s *setup) openStream(t *testing.T, path string) *bufio.Reader {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return bufio.NewReader(resp.Body)
}

// readEvent reads one server-sent event, through its blank line.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading an event: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\n" {
			return b.String()
		}
	}
}

func jsonValid(s string) bool { return json.Valid([]byte(s)) }

// TestProxyMasksTextAcrossLines checks the text masking of what spans the
// units it streams: a PEM private key over several lines is masked whole,
// and a token that straddles the 64 KiB piece boundary of a long line is
// still found.
func TestProxyMasksTextAcrossLines(t *testing.T) {
	const pemBody1, pemBody2 = "MIIEpAIBAAKCAQEA7bq98v2Pk0ZQ", "q1w2e3r4t5y6u7i8o9p0=="
	// A card number, with blanks in it, starts 12 bytes before the end of
	// the first 64 KiB piece: a cut at the piece's last blank would split
	// it into two halves that are no card number.
	cardFiller := strings.Repeat("lorem ", 10920) + "abc "
	cardLine := cardFiller + card + " tail"
	if len(cardFiller) != 64<<10-12 {
		t.Fatalf("card filler of %d bytes", len(cardFiller))
	}
	// The token starts 20 bytes before the end of the first 64 KiB piece.
	filler := strings.Repeat("lorem ", 10919) + "a "
	long := filler + ghToken + " tail"
	if len(filler) != 64<<10-20 {
		t.Fatalf("filler of %d bytes", len(filler))
	}
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		switch r.URL.Path {
		case "/pem":
			fmt.Fprintf(w, "config:\n-----BEGIN RSA PRIVATE KEY-----\n%s\n%s\n-----END RSA PRIVATE KEY-----\ndone\n", pemBody1, pemBody2)
		case "/long":
			fmt.Fprintf(w, "%s\nlast line\n", long)
		case "/card":
			fmt.Fprintf(w, "%s\n", cardLine)
		}
	}, maskOptions())
	st, _, body := s.do(t, "GET", "/proxy/api/pem", "")
	if st != 200 || strings.Contains(body, pemBody1) || strings.Contains(body, pemBody2) ||
		!strings.HasPrefix(body, "config:\n") || !strings.HasSuffix(body, "\ndone\n") {
		t.Errorf("pem: %d %q", st, body)
	}
	st, _, body = s.do(t, "GET", "/proxy/api/long", "")
	if st != 200 || strings.Contains(body, ghToken) || !strings.HasSuffix(body, " tail\nlast line\n") ||
		!strings.HasPrefix(body, "lorem lorem ") {
		t.Errorf("long line: %d, token in body %v, %d bytes, ends %q", st, strings.Contains(body, ghToken), len(body), body[max(0, len(body)-40):])
	}
	st, _, body = s.do(t, "GET", "/proxy/api/card", "")
	if st != 200 || strings.Contains(body, card) || strings.Contains(body, "1111 1111 1111 tail") || !strings.HasSuffix(body, " tail\n") {
		t.Errorf("card at the piece boundary: %d, ends %q", st, body[max(0, len(body)-60):])
	}
	evs := s.results(t, 3)
	if evs[0].Result.Masked["pem_private_key"] != 1 || evs[1].Result.Masked["github_token"] != 1 || evs[2].Result.Masked["payment_card"] != 1 {
		t.Errorf("masked counts %v, %v, %v", evs[0].Result.Masked, evs[1].Result.Masked, evs[2].Result.Masked)
	}
}

// card is a test card number written in groups, as people write them.
const card = "4111 1111 1111 1111"
