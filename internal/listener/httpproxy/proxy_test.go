package httpproxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
)

func okJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"items":[{"id":1}]}`)
}

func TestProxyInjectsCredentialAndStripsAgentToken(t *testing.T) {
	s := newSetup(t, okJSON, options{})
	status, hdr, body := s.do(t, "GET", "/proxy/api/v1/items?limit=2", "",
		"Cookie", "console=abc", "X-Trace", "trace-1", "Connection", "X-Hop", "X-Hop", "drop-me")
	if status != 200 || body != `{"items":[{"id":1}]}` {
		t.Fatalf("got %d %q", status, body)
	}
	if hdr.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", hdr.Get("Content-Type"))
	}
	reqs := s.up.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != "GET" || r.path != "/v1/items" || r.query != "limit=2" {
		t.Errorf("upstream saw %s %s?%s", r.method, r.path, r.query)
	}
	if got := r.header.Get("Authorization"); got != "Bearer "+upstreamToken {
		t.Errorf("upstream Authorization %q", got)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			if strings.Contains(v, agentToken) {
				t.Errorf("the agent's token reached the upstream in %s", k)
			}
		}
	}
	if r.header.Get("Cookie") != "" || r.header.Get("X-Hop") != "" {
		t.Errorf("cookie or hop-by-hop header forwarded: %v", r.header)
	}
	if r.header.Get("X-Trace") != "trace-1" {
		t.Errorf("end-to-end header not forwarded: %v", r.header)
	}

	evs := s.rec.of(sluice.EventRequest)
	if len(evs) != 1 {
		t.Fatalf("%d request events", len(evs))
	}
	req := evs[0].Request
	if req.Kind != sluice.KindHTTP || req.Text != "GET /v1/items?limit=2" || req.Class != sluice.ClassRead {
		t.Errorf("request %q kind %s class %s", req.Text, req.Kind, req.Class)
	}
	if req.HTTP.URL != s.up.srv.URL+"/v1/items?limit=2" || req.HTTP.Headers["x-trace"] != "trace-1" {
		t.Errorf("http record %+v", req.HTTP)
	}
	if _, ok := req.HTTP.Headers["authorization"]; ok {
		t.Errorf("the agent's Authorization header is in the record: %v", req.HTTP.Headers)
	}
	res := s.results(t, 1)[0].Result
	if res.Status != sluice.StatusOK || res.HTTP.Status != 200 || res.HTTP.Body != body || res.HTTP.BodyBytes != int64(len(body)) {
		t.Errorf("result %+v %+v", res, res.HTTP)
	}
	all, _ := json.Marshal(s.rec.events)
	if strings.Contains(string(all), upstreamToken) || strings.Contains(string(all), agentToken) {
		t.Error("a credential is in the audit events")
	}
}

func TestProxyRefusals(t *testing.T) {
	s := newSetup(t, okJSON, options{rules: []config.Rule{
		{When: "destructive", Action: "deny", Message: "no deletes through sluice"},
		{Methods: []string{"POST"}, Paths: []string{"/v1/admin/**"}, When: "true", Action: "deny", Message: "no admin calls"},
		{When: `method == "PUT" && body.size > 100.0`, Action: "deny", Message: "too big"},
		{When: "true", Action: "allow"},
	}})
	get := func(path, tok string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if st, h, _ := get("/proxy/api/x", ""); st != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %v", st, h)
	}
	if st, _, b := get("/proxy/api/x", "forged"); st != 401 || !strings.Contains(b, "not valid") {
		t.Errorf("bad token: %d %s", st, b)
	}
	if len(s.rec.of(sluice.EventAuthFailure)) != 1 {
		t.Errorf("auth failures recorded: %d", len(s.rec.of(sluice.EventAuthFailure)))
	}
	if st, _, b := get("/proxy/nope/x", agentToken); st != 404 || !strings.Contains(b, `no HTTP connection \"nope\"`) {
		t.Errorf("unknown connection: %d %s", st, b)
	}
	st, _, b := s.do(t, "DELETE", "/proxy/api/v1/items/1", "")
	if st != 403 || !strings.Contains(b, "no deletes through sluice") {
		t.Errorf("delete: %d %s", st, b)
	}
	if st, _, b := s.do(t, "POST", "/proxy/api/v1/admin/users", "{}"); st != 403 || !strings.Contains(b, "no admin calls") {
		t.Errorf("admin: %d %s", st, b)
	}
	if st, _, b := s.do(t, "PUT", "/proxy/api/v1/items/1", `{"size": 500}`, "Content-Type", "application/json"); st != 403 || !strings.Contains(b, "too big") {
		t.Errorf("put with a large size: %d %s", st, b)
	}
	if st, _, _ := s.do(t, "PUT", "/proxy/api/v1/items/1", `{"size": 5}`, "Content-Type", "application/json"); st != 200 {
		t.Errorf("put with a small size: %d", st)
	}
	if st, _, b := s.do(t, "POST", "/proxy/api/v1/upload", strings.Repeat("x", 2<<20)); st != 413 {
		t.Errorf("large body: %d %s", st, b)
	}
	if n := len(s.up.requests()); n != 1 {
		t.Errorf("the upstream saw %d requests, want only the allowed PUT", n)
	}
	denied := 0
	for _, ev := range s.rec.of(sluice.EventRequest) {
		if ev.Decision.Action == sluice.ActionDeny {
			denied++
		}
	}
	if denied != 3 {
		t.Errorf("%d denials recorded, want 3", denied)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	s := newSetup(t, okJSON, options{})
	s.up.srv.Close()
	st, _, b := s.do(t, "GET", "/proxy/api/v1/items", "")
	if st != http.StatusBadGateway || !strings.Contains(b, "cannot be reached") || strings.Contains(b, "127.0.0.1") {
		t.Errorf("got %d %s", st, b)
	}
	res := s.results(t, 1)[0].Result
	if res.Status != sluice.StatusError || res.Error == "" {
		t.Errorf("result %+v", res)
	}
}

// TestProxyScrubsEchoedCredential checks that an upstream that echoes the
// credential sluice sent shows it neither to the agent nor to the record.
func TestProxyScrubsEchoedCredential(t *testing.T) {
	s := newSetup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "you sent %s\n", r.Header.Get("Authorization"))
	}, options{})
	_, hdr, body := s.do(t, "GET", "/proxy/api/echo", "")
	if strings.Contains(body, upstreamToken) || strings.Contains(hdr.Get("X-Echo"), upstreamToken) || !strings.Contains(body, "Bearer ****") {
		t.Errorf("echo reached the agent: %q %q", body, hdr.Get("X-Echo"))
	}
	res := s.results(t, 1)[0].Result
	if strings.Contains(res.HTTP.Body, upstreamToken) || strings.Contains(fmt.Sprint(res.HTTP.Headers), upstreamToken) {
		t.Errorf("echo in the record: %+v", res.HTTP)
	}
}
