package mcp

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
)

// memRecorder keeps the events the gate records.
type memRecorder struct {
	mu     sync.Mutex
	events []*sluice.Event
}

func (r *memRecorder) Record(_ context.Context, ev *sluice.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *memRecorder) failures() []*sluice.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*sluice.Event
	for _, ev := range r.events {
		if ev.Type == sluice.EventAuthFailure {
			out = append(out, ev)
		}
	}
	return out
}

// fakeAuthn accepts "good" and refuses everything else; "down" finds the
// issuer unavailable.
type fakeAuthn struct{}

func (fakeAuthn) Authenticate(_ context.Context, token string) (*sluice.Identity, error) {
	switch token {
	case "good":
		return &sluice.Identity{Subject: "bot", Groups: []string{"agents"}, Issuer: "sluice", Method: sluice.AuthServiceToken}, nil
	case "down":
		return nil, &sluice.Error{Code: sluice.EUnavailable, Message: "token issuer is unavailable, try again later"}
	}
	return nil, &sluice.Error{Code: sluice.EUnauthenticated, Message: `token "expired"`}
}

func newTestServer(t *testing.T) (*Server, *memRecorder, *http.ServeMux) {
	t.Helper()
	pol, err := policy.New([]config.Policy{{Name: "agents", Subjects: []string{"group:agents"}, Connections: []string{"app"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	conns := map[string]sluice.ConnType{"app": sluice.ConnPostgres}
	s := &Server{Gate: gate.New(pol, conns, rec, nil), Authn: fakeAuthn{}, Policies: pol, Connections: conns,
		Issuers: []string{"https://login.example.com/tenant/v2.0"}, AllowedOrigins: []string{"https://Console.example.com/"}}
	mux := http.NewServeMux()
	s.Routes(mux)
	t.Cleanup(s.Close)
	return s, rec, mux
}

func TestWWWAuthenticate(t *testing.T) {
	const md = "https://sluice.example.com:8433/.well-known/oauth-protected-resource/mcp"
	cases := []struct {
		err  *sluice.Error
		want string
	}{
		{nil, `Bearer resource_metadata="` + md + `"`},
		{&sluice.Error{Message: "token expired"},
			`Bearer resource_metadata="` + md + `", error="invalid_token", error_description="token expired"`},
		{&sluice.Error{Message: "bad \"quoted\" \\ token\n"},
			`Bearer resource_metadata="` + md + `", error="invalid_token", error_description="bad quoted  token"`},
	}
	for _, c := range cases {
		if got := wwwAuthenticate(md, c.err); got != c.want {
			t.Errorf("wwwAuthenticate(%v)\n got %s\nwant %s", c.err, got, c.want)
		}
	}
}

func TestMetadataDocument(t *testing.T) {
	s, _, mux := newTestServer(t)
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		for _, base := range []string{"https://sluice.example.com:8433", "http://127.0.0.1:8433"} {
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, base+path, nil))
			var md map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil || w.Code != http.StatusOK {
				t.Fatalf("GET %s%s: %d %s", base, path, w.Code, w.Body)
			}
			want := map[string]any{
				"resource":                 base + "/mcp",
				"authorization_servers":    []any{"https://login.example.com/tenant/v2.0"},
				"bearer_methods_supported": []any{"header"},
				"resource_name":            "sluice",
			}
			if len(md) != len(want) {
				t.Fatalf("metadata %v, want %v", md, want)
			}
			for k, v := range want {
				if b1, _ := json.Marshal(md[k]); string(b1) != mustJSON(v) {
					t.Errorf("%s%s: %s = %s, want %s", base, path, k, b1, mustJSON(v))
				}
			}
			if w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("metadata is public: CORS header %q", w.Header().Get("Access-Control-Allow-Origin"))
			}
		}
	}
	// A configured URL wins over the request's host.
	s.URL = "https://sluice.example.com/gw/mcp"
	r := httptest.NewRequest(http.MethodPost, "http://10.0.0.1:8433/mcp", nil)
	if got := s.Metadata(r).Resource; got != s.URL {
		t.Fatalf("resource %q, want %q", got, s.URL)
	}
	if got, want := s.metadataURL(r), "https://sluice.example.com/.well-known/oauth-protected-resource/gw/mcp"; got != want {
		t.Fatalf("metadata URL %q, want %q", got, want)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func post(mux http.Handler, token, origin string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8433/mcp", strings.NewReader(initialize))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestBearerAuth(t *testing.T) {
	_, rec, mux := newTestServer(t)
	const md = `resource_metadata="http://127.0.0.1:8433/.well-known/oauth-protected-resource/mcp"`

	w := post(mux, "", "")
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer "+md ||
		!strings.Contains(w.Body.String(), `"error":"invalid_request"`) {
		t.Fatalf("no token: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
	if n := len(rec.failures()); n != 0 {
		t.Fatalf("a request without a token recorded %d auth failures", n)
	}

	w = post(mux, "bogus", "")
	want := "Bearer " + md + `, error="invalid_token", error_description="token expired"`
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != want || !strings.Contains(w.Body.String(), `"error":"invalid_token"`) {
		t.Fatalf("bad token: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
	}
	f := rec.failures()
	if len(f) != 1 || f[0].Protocol != sluice.ProtoMCP || f[0].Reason != `token "expired"` || f[0].ClientAddr == "" {
		t.Fatalf("auth failure records: %+v", f)
	}
	if strings.Contains(w.Body.String(), "bogus") || strings.Contains(f[0].Reason, "bogus") {
		t.Fatal("the token is echoed")
	}

	w = post(mux, "down", "")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("WWW-Authenticate") != "" || len(rec.failures()) != 1 {
		t.Fatalf("issuer down: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}

	w = post(mux, "good", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"protocolVersion":"2025-06-18"`) || w.Header().Get("Mcp-Session-Id") == "" {
		t.Fatalf("good token: %d %s", w.Code, w.Body)
	}
}

func TestOrigin(t *testing.T) {
	s, rec, mux := newTestServer(t)
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"https://console.example.com", true},
		{"https://CONSOLE.example.com", true},
		{"http://console.example.com", false},
		{"https://console.example.com:8443", false},
		{"https://evil.example", false},
		{"null", false},
	}
	for _, c := range cases {
		if got := s.originAllowed(c.origin); got != c.ok {
			t.Errorf("originAllowed(%q) = %v, want %v", c.origin, got, c.ok)
		}
		w := post(mux, "good", c.origin)
		switch {
		case c.ok && w.Code != http.StatusOK:
			t.Errorf("origin %q: %d %s", c.origin, w.Code, w.Body)
		case !c.ok && w.Code != http.StatusForbidden:
			t.Errorf("origin %q: %d, want 403", c.origin, w.Code)
		case c.ok && c.origin != "" && w.Header().Get("Access-Control-Allow-Origin") != c.origin:
			t.Errorf("origin %q: CORS header %q", c.origin, w.Header().Get("Access-Control-Allow-Origin"))
		}
	}
	// A refused origin is refused before the token is looked at.
	if w := post(mux, "bogus", "https://evil.example"); w.Code != http.StatusForbidden || len(rec.failures()) != 0 {
		t.Fatalf("bad origin and bad token: %d, %d auth failures", w.Code, len(rec.failures()))
	}
	// Preflight of an allowed origin, without a token.
	r := httptest.NewRequest(http.MethodOptions, "http://127.0.0.1:8433/mcp", nil)
	r.Header.Set("Origin", "https://console.example.com")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	allow := strings.Split(w.Header().Get("Access-Control-Allow-Headers"), ", ")
	if w.Code != http.StatusNoContent || !slices.Contains(allow, "Authorization") || !slices.Contains(allow, "Mcp-Session-Id") {
		t.Fatalf("preflight: %d %v", w.Code, allow)
	}
}

// TestProxiedHost checks that a reverse proxy on the gateway's machine,
// which reaches a loopback listener with the public Host, is served.
func TestProxiedHost(t *testing.T) {
	_, _, mux := newTestServer(t)
	r := httptest.NewRequest(http.MethodPost, "https://sluice.example.com/mcp", strings.NewReader(initialize))
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8433}))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Authorization", "Bearer good")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("proxied request: %d %s", w.Code, w.Body)
	}
}
