package httpup

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a fake upstream that keeps the headers of every request it
// receives and answers 200 "ok".
type recorder struct {
	mu      sync.Mutex
	headers []http.Header
	paths   []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.headers = append(rec.headers, r.Header.Clone())
	rec.paths = append(rec.paths, r.URL.EscapedPath())
	rec.mu.Unlock()
	w.Write([]byte("ok"))
}

// received returns the headers of the requests received so far.
func (rec *recorder) received() []http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]http.Header(nil), rec.headers...)
}

// newRecorder starts a plain HTTP fake upstream on loopback.
func newRecorder(t *testing.T) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

// writeCA writes the certificate of a TLS test server to a PEM file and
// returns its path.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newUpstream calls New and closes the upstream when the test ends.
func newUpstream(t *testing.T, c Config) *Upstream {
	t.Helper()
	u, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(u.Close)
	return u
}

// agentHeaders are what an agent sends: its own credentials meant for
// sluice, hop-by-hop headers and one ordinary header.
func agentHeaders() http.Header {
	return http.Header{
		"Authorization":       {"Bearer agent-token"},
		"Proxy-Authorization": {"Basic agent-proxy"},
		"Cookie":              {"session=agent-cookie"},
		"X-Api-Key":           {"agent-key"},
		"Connection":          {"keep-alive, X-Hop"},
		"X-Hop":               {"agent-hop"},
		"Keep-Alive":          {"timeout=5"},
		"Upgrade":             {"websocket"},
		"X-Keep":              {"kept"},
	}
}

// agentRequest builds a GET for path through u, carrying agentHeaders.
func agentRequest(t *testing.T, u *Upstream, path string) *http.Request {
	t.Helper()
	target, err := u.URL(path, "")
	if err != nil {
		t.Fatalf("URL(%q): %v", path, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = agentHeaders()
	return req
}

// do sends req through u, expects 200 and closes the body.
func do(t *testing.T, u *Upstream, req *http.Request) {
	t.Helper()
	resp, err := u.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
}

// assertNoAgentSecrets fails if anything the agent sent as a credential or
// a hop-by-hop header reached the upstream, except in the headers named in
// except.
func assertNoAgentSecrets(t *testing.T, h http.Header, except ...string) {
	t.Helper()
	for name, values := range h {
		if slices.Contains(except, name) {
			continue
		}
		for _, v := range values {
			if strings.Contains(v, "agent-") {
				t.Errorf("upstream received agent value %s: %q", name, v)
			}
		}
	}
	for _, name := range []string{"Cookie", "Proxy-Authorization", "X-Hop", "Keep-Alive", "Upgrade"} {
		if _, ok := h[name]; ok {
			t.Errorf("upstream received header %s", name)
		}
	}
	if got := h.Get("X-Keep"); got != "kept" {
		t.Errorf("X-Keep = %q, want kept", got)
	}
}
