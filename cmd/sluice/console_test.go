package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

const consoleYAML = `
auth: {service_tokens: true}
policies:
  - name: a
    subjects: ["*"]
    connections: ["*"]
    rules:
      - {when: write, action: review, approvers: ["group:dba", "subject:carol"]}
      - {when: ddl, action: review, approvers: ["group:dba"]}
audit: {auditors: ["group:security"]}
console: {dev_login: true}
`

// addrListener is a listener that only has an address.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }

func TestMountConsole(t *testing.T) {
	dir := t.TempDir()
	cfg, ps := config.Parse([]byte("data_dir: "+dir+consoleYAML), dir, config.Source{})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	got := approvers(cfg)
	if len(got) != 2 || got[0] != (policy.Subject{Kind: "group", Name: "dba"}) || got[1] != (policy.Subject{Kind: "subject", Name: "carol"}) {
		t.Fatalf("approvers %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := openJournal(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	reviews := &review.Service{Store: st}
	log := slog.New(slog.DiscardHandler)

	serve := func(ln net.Listener) *http.ServeMux {
		mux := http.NewServeMux()
		mountConsole(ctx, mux, cfg, st, reviews, nil, j, nil, ln, log)
		return mux
	}
	get := func(mux *http.ServeMux, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8433}))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}

	loop := serve(addrListener{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8433}})
	if w := get(loop, "/"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/" {
		t.Fatalf("/: %d %v", w.Code, w.Header())
	}
	if w := get(loop, "/console/login"); w.Code != 200 || !strings.Contains(w.Body.String(), `data-testid="dev-login-form"`) {
		t.Fatalf("login page on loopback: %d\n%s", w.Code, w.Body)
	}
	// On a listener off loopback the development login is off.
	wide := serve(addrListener{addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8433}})
	if w := get(wide, "/console/login"); strings.Contains(w.Body.String(), "dev-login-form") {
		t.Fatalf("development login offered off loopback:\n%s", w.Body)
	}
	// No HTTP listener, no console.
	none := serve(nil)
	if w := get(none, "/console/login"); w.Code != http.StatusNotFound {
		t.Fatalf("console without a listener: %d", w.Code)
	}
	// A console whose key cannot be read answers 503 and says nothing more.
	cfg.DataDir = filepath.Join(dir, "missing", "\x00bad")
	broken := serve(addrListener{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8433}})
	if w := get(broken, "/console/login"); w.Code != http.StatusServiceUnavailable {
		body, _ := io.ReadAll(w.Body)
		t.Fatalf("broken console: %d %s", w.Code, body)
	}
}
