package siem

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

const testHECToken = "0f3c6a1e-hec-token-never-printed"

// hecEvent is an event as the fake collector decodes it.
type hecEvent struct {
	Time       json.Number       `json:"time"`
	Host       string            `json:"host"`
	Source     string            `json:"source"`
	SourceType string            `json:"sourcetype"`
	Index      string            `json:"index"`
	Event      json.RawMessage   `json:"event"`
	Fields     map[string]string `json:"fields"`
}

// fakeHEC is a collector that checks what Splunk checks (method, path,
// token) and keeps each request's events. Its answers can be scripted.
type fakeHEC struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests [][]hecEvent
	// answers are served first, one per request: status and body.
	answers []func(w http.ResponseWriter, r *http.Request)
}

func newFakeHEC(t *testing.T) *fakeHEC {
	f := &fakeHEC{t: t}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHEC) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	var scripted func(http.ResponseWriter, *http.Request)
	if len(f.answers) > 0 {
		scripted, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	if scripted != nil {
		scripted(w, r)
		return
	}
	switch {
	case r.Method != http.MethodPost || r.URL.Path != hecPath:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"text":"The requested URL was not found on this server.","code":404}`)
		return
	case r.Header.Get("Authorization") == "":
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"text":"Token is required","code":2}`)
		return
	case r.Header.Get("Authorization") != "Splunk "+testHECToken:
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"text":"Invalid token","code":4}`)
		return
	}
	var events []hecEvent
	dec := json.NewDecoder(r.Body)
	for {
		var e hecEvent
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil || e.Event == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"text":"Invalid data format","code":6,"invalid-event-number":%d}`, len(events))
			return
		}
		events = append(events, e)
	}
	f.mu.Lock()
	f.requests = append(f.requests, events)
	f.mu.Unlock()
	fmt.Fprint(w, `{"text":"Success","code":0}`)
}

func (f *fakeHEC) script(answers ...func(http.ResponseWriter, *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, answers...)
}

func (f *fakeHEC) received() [][]hecEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]hecEvent(nil), f.requests...)
}

// caFile writes the test server's certificate as a CA file.
func caFile(t *testing.T, srv *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func reply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func newTestHEC(t *testing.T, c HECConfig) *HEC {
	t.Helper()
	h, err := NewHEC(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func TestHECSendsOneRequestPerBatch(t *testing.T) {
	f := newFakeHEC(t)
	h := newTestHEC(t, HECConfig{
		URL: f.srv.URL, Token: testHECToken, CAFile: caFile(t, f.srv),
		Index: "audit", Source: "sluice:gw-1", SourceType: "ocsf:json", Host: "gw-1",
	})
	ctx := context.Background()
	batches := [][]export.Item{items(1, 5), items(6, 1), items(7, 20)}
	// A record without an OCSF time gets the time of sending.
	untimed := export.Item{Seq: 27, Data: []byte(`{"class_uid":3005,"message":"no time"}`)}
	batches[2] = append(batches[2], untimed)
	before := time.Now()
	for i, b := range batches {
		if err := h.Send(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	after := time.Now()

	got := f.received()
	if len(got) != len(batches) {
		t.Fatalf("%d requests for %d batches", len(got), len(batches))
	}
	for i, b := range batches {
		if len(got[i]) != len(b) {
			t.Fatalf("request %d: %d events, want %d", i, len(got[i]), len(b))
		}
		for j, it := range b {
			e := got[i][j]
			if e.Host != "gw-1" || e.Index != "audit" || e.Source != "sluice:gw-1" || e.SourceType != "ocsf:json" {
				t.Fatalf("seq %d: envelope %+v", it.Seq, e)
			}
			if e.Fields["sluice_seq"] != strconv.FormatUint(it.Seq, 10) || len(e.Fields) != 1 {
				t.Fatalf("seq %d: fields %v", it.Seq, e.Fields)
			}
			sameJSON(t, "event", e.Event, it.Data)
			if it.Seq == untimed.Seq {
				sec, err := e.Time.Float64()
				if err != nil || sec < float64(before.UnixMilli()/1000) || sec > float64(after.UnixMilli())/1000+0.001 {
					t.Fatalf("untimed event: time %s, sent between %v and %v", e.Time, before, after)
				}
				continue
			}
			ms := baseTime + int64(it.Seq)
			if want := fmt.Sprintf("%d.%03d", ms/1000, ms%1000); e.Time.String() != want {
				t.Fatalf("seq %d: time %s, want %s", it.Seq, e.Time, want)
			}
		}
	}
}

// The collector is busy, then takes the batch when it is sent again.
func TestHECBusyThenAccepted(t *testing.T) {
	f := newFakeHEC(t)
	f.script(reply(http.StatusServiceUnavailable, `{"text":"Server is busy","code":9}`))
	h := newTestHEC(t, HECConfig{URL: f.srv.URL, Token: testHECToken, CAFile: caFile(t, f.srv)})
	batch := items(1, 3)

	err := h.Send(context.Background(), batch)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 || !se.Temporary() {
		t.Fatalf("Send to a busy collector: %v", err)
	}
	for _, want := range []string{"503", "code 9", "Server is busy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	noSecret(t, err, testHECToken)

	if err := h.Send(context.Background(), batch); err != nil {
		t.Fatalf("resend: %v", err)
	}
	got := f.received()
	if len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("accepted requests: %+v", got)
	}
}

// Whatever goes wrong, the token is not in the error, even when the
// collector (or a proxy before it) echoes the request back.
func TestHECErrorsNeverHoldToken(t *testing.T) {
	echo := func(status int) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"text": "rejected " + r.Header.Get("Authorization") + " for " + string(b[:min(len(b), 50)]),
				"code": 4,
			})
		}
	}
	cases := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		want   string
	}{
		{"403 echoing the header", echo(http.StatusForbidden), "HTTP 403: code 4: rejected Splunk [redacted]"},
		{"200 with an error code", echo(http.StatusOK), "HTTP 200: code 4"},
		{"200 without a code", reply(http.StatusOK, `{"text":"`+testHECToken+`"}`), "HTTP 200: answer without a code"},
		{"200 that is not JSON", reply(http.StatusOK, "ok "+testHECToken), "HTTP 200: answer without a code: ok [redacted]"},
		{"HTML error page", reply(http.StatusBadGateway, "<html>bad gateway "+testHECToken+"</html>"), "HTTP 502: <html>bad gateway [redacted]"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.example/"+testHECToken, http.StatusFound)
		}, "HTTP 302"},
	}
	f := newFakeHEC(t)
	h := newTestHEC(t, HECConfig{URL: f.srv.URL, Token: testHECToken, CAFile: caFile(t, f.srv)})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.script(tc.answer)
			err := h.Send(context.Background(), items(1, 2))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send: %v, want an error with %q", err, tc.want)
			}
			noSecret(t, err, testHECToken)
		})
	}

	t.Run("wrong token", func(t *testing.T) {
		other := newTestHEC(t, HECConfig{URL: f.srv.URL, Token: "wrong-" + testHECToken, CAFile: caFile(t, f.srv)})
		err := other.Send(context.Background(), items(1, 1))
		if err == nil || !strings.Contains(err.Error(), "HTTP 403: code 4: Invalid token") {
			t.Fatalf("Send: %v", err)
		}
		noSecret(t, err, testHECToken)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		other := newTestHEC(t, HECConfig{URL: f.srv.URL, Token: testHECToken})
		err := other.Send(context.Background(), items(1, 1))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Send: %v", err)
		}
		noSecret(t, err, testHECToken, f.srv.URL)
	})
	t.Run("no collector", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		other := newTestHEC(t, HECConfig{URL: url, Token: testHECToken})
		err := other.Send(context.Background(), items(1, 1))
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Send: %v", err)
		}
		noSecret(t, err, testHECToken, url)
	})
}

func TestHECTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	h := newTestHEC(t, HECConfig{URL: srv.URL, Token: testHECToken, Timeout: 200 * time.Millisecond})
	err := h.Send(context.Background(), items(1, 1))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("Send to a silent collector: %v", err)
	}

	h = newTestHEC(t, HECConfig{URL: srv.URL, Token: testHECToken})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := h.Send(ctx, items(1, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
}

func TestHECURLForms(t *testing.T) {
	for _, base := range []string{"", "/", hecPath, hecPath + "/"} {
		f := newFakeHEC(t)
		h := newTestHEC(t, HECConfig{URL: f.srv.URL + base, Token: testHECToken, CAFile: caFile(t, f.srv)})
		if err := h.Send(context.Background(), items(1, 1)); err != nil {
			t.Errorf("URL %q: %v", f.srv.URL+base, err)
		}
	}
	h, err := NewHEC(HECConfig{URL: "https://proxy.example/splunk/", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://proxy.example/splunk" + hecPath; h.client.url != want {
		t.Fatalf("URL with a path prefix: %s, want %s", h.client.url, want)
	}
}

func TestHECRejectsBadRecord(t *testing.T) {
	f := newFakeHEC(t)
	h := newTestHEC(t, HECConfig{URL: f.srv.URL, Token: testHECToken, CAFile: caFile(t, f.srv)})
	batch := items(1, 3)
	batch[2].Data = []byte(`{"unterminated":`)
	if err := h.Send(context.Background(), batch); err == nil || !strings.Contains(err.Error(), "item seq 3") {
		t.Fatalf("Send: %v", err)
	}
	if n := len(f.received()); n != 0 {
		t.Fatalf("%d requests made", n)
	}
}

func TestHECClose(t *testing.T) {
	f := newFakeHEC(t)
	h, err := NewHEC(HECConfig{URL: f.srv.URL, Token: testHECToken, CAFile: caFile(t, f.srv)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Send(context.Background(), nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if n := len(f.received()); n != 0 {
		t.Fatalf("an empty batch made %d requests", n)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := h.Send(context.Background(), items(1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestNewHECChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  HECConfig
		want string
	}{
		{HECConfig{Token: "t"}, "URL is required"},
		{HECConfig{URL: "splunk:8088", Token: "t"}, "absolute https URL"},
		{HECConfig{URL: "ftp://splunk:8088", Token: "t"}, "absolute https URL"},
		{HECConfig{URL: "http://splunk.internal:8088", Token: "t"}, "must use https"},
		{HECConfig{URL: "https://admin:pw@splunk:8088", Token: "t"}, "user info"},
		{HECConfig{URL: "https://splunk:8088/?token=x", Token: "t"}, "query"},
		{HECConfig{URL: "https://splunk:8088#x", Token: "t"}, "fragment"},
		{HECConfig{URL: "https://splunk:8088"}, "token is required"},
		{HECConfig{URL: "https://splunk:8088", Token: "a b"}, "printable ASCII"},
		{HECConfig{URL: "https://splunk:8088", Token: "t", Timeout: -1}, "timeout"},
		{HECConfig{URL: "https://splunk:8088", Token: "t", CAFile: "/nonexistent.pem"}, "read CA file"},
	} {
		_, err := NewHEC(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewHEC(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
		noSecret(t, err, "pw", "token=x")
	}
	for _, ok := range []string{"http://127.0.0.1:8088", "http://localhost:8088", "http://[::1]:8088", "https://splunk:8088"} {
		if _, err := NewHEC(HECConfig{URL: ok, Token: "t"}); err != nil {
			t.Errorf("NewHEC(%s): %v", ok, err)
		}
	}
}

func TestEpochSeconds(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want string
	}{
		{1767312000123, "1767312000.123"},
		{1767312000005, "1767312000.005"},
		{1767312000000, "1767312000.000"},
		{999, "0.999"},
	} {
		if got := epochSeconds(time.UnixMilli(tc.ms)); string(got) != tc.want {
			t.Errorf("epochSeconds(%d) = %s, want %s", tc.ms, got, tc.want)
		}
	}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(hecEnvelope{Time: "1.000", Event: json.RawMessage(`{}`)})
	if !strings.Contains(b.String(), `"time":1.000`) {
		t.Fatalf("time is not a JSON number: %s", b.String())
	}
}
