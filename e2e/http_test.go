package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sluicehq/sluice"
)

// Credentials only sluice holds, and what the fake Entra ID issues.
const (
	armClientSecret = "entra-client-secret-4d1c7e"
	armAccessToken  = "arm-access-token-93be0a"
	anthropicKey    = "sk-ant-api03-upstream-key-6f2d91"
)

// fakeAPI is a TLS server standing in for an outside API; it records every
// request's headers and body so the test can check what reached it.
type fakeAPI struct {
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	seen   []string // method path, headers and body of each request
}

func newFakeAPI(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeAPI {
	f := &fakeAPI{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.RequestURI())
		r.Header.Write(&b)
		b.Write(body)
		f.mu.Lock()
		f.seen = append(f.seen, b.String())
		f.mu.Unlock()
		h(w, r, body)
	}))
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// count returns how many requests started with prefix ("DELETE /x").
func (f *fakeAPI) count(prefix string) int {
	n := 0
	for _, r := range f.requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// fakeARM answers like Azure Resource Manager and Entra ID's token
// endpoint: tokens for the client credentials grant, and storage accounts
// for callers that present such a token.
func fakeARM(t *testing.T) *fakeAPI {
	return newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path == "/tenant1/oauth2/v2.0/token" {
			// The client authenticates in the form or with basic auth.
			form := string(body)
			user, pass, basic := r.BasicAuth()
			client := basic && user == "sluice-app" && pass == armClientSecret ||
				strings.Contains(form, "client_id=sluice-app") && strings.Contains(form, "client_secret="+armClientSecret)
			if !client || !strings.Contains(form, "grant_type=client_credentials") || !strings.Contains(form, "scope=https%3A%2F%2Fmanagement.azure.com%2F.default") {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, armAccessToken)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+armAccessToken {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":"InvalidAuthenticationToken"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case "GET":
			fmt.Fprint(w, `{"value":[{"name":"acct1","properties":{"primaryEndpoints":{"blob":"https://acct1.blob.core.windows.net/"}},"tags":{"owner":"jane.doe@example.com"}}]}`)
		case "DELETE":
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{}`)
		default:
			w.WriteHeader(405)
		}
	})
}

// fakeAnthropic answers like the Messages API, streaming when asked, and
// only for the key sluice holds.
func fakeAnthropic(t *testing.T) *fakeAPI {
	return newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Header.Get("X-Api-Key") != anthropicKey || r.Header.Get("Anthropic-Version") == "" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
			return
		}
		if r.URL.Path == "/v1/messages/count_tokens" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"input_tokens":17}`)
			return
		}
		var req struct {
			Stream bool `json:"stream"`
		}
		json.Unmarshal(body, &req)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"Hello from the model"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":5}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":30,"output_tokens":1}}}`,
			`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Streamed "}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"answer, from jane.d"}}`,
			`event: ping` + "\n" + `data: {"type": "ping"}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"oe@example.com"}}`,
			`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}`,
			`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
		} {
			fmt.Fprint(w, ev+"\n\n")
			w.(http.Flusher).Flush()
		}
	})
}

// httpConfig writes a config with the two HTTP connections.
func httpConfig(t *testing.T, arm, anth *fakeAPI, extra ...string) *sluiceConfig {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secret, []byte(armClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_TEST_ANTHROPIC_KEY", anthropicKey)
	yaml := fmt.Sprintf(`data_dir: %[1]s/data
listen: {postgres: 127.0.0.1:0, http: 127.0.0.1:0}
tls: {allow_plaintext_loopback: true}
auth: {service_tokens: true}
log: {level: debug}
connections:
  - name: azure
    type: http
    url: %[2]s
    ca_file: %[3]s
    credential:
      oauth2:
        token_url: %[2]s/tenant1/oauth2/v2.0/token
        client_id: sluice-app
        client_secret: file:%[4]s
        scopes: [https://management.azure.com/.default]
        ca_file: %[3]s
  - name: anthropic
    type: http
    preset: anthropic
    url: %[5]s
    ca_file: %[6]s
    credential: {header: x-api-key, value: "${SLUICE_TEST_ANTHROPIC_KEY}"}
    budgets: [{subjects: ["group:agents"], daily_tokens: 1000}]
policies:
  - name: agents
    subjects: [group:agents]
    connections: [azure, anthropic]
    mask: [pii]
    rules:
      - {name: risky deletes, when: destructive, action: review, approvers: [group:dba], wait: 2m}
      - {when: "true", action: allow}
  - name: dba
    subjects: [group:dba]
    connections: [azure]
`, dir, arm.srv.URL, arm.caFile, secret, anth.srv.URL, anth.caFile) + strings.Join(extra, "\n")
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &sluiceConfig{t: t, path: path, dataDir: filepath.Join(dir, "data")}
}

// curl runs curl against the gateway and returns its output: the body,
// then the status code on the last line.
func curl(t *testing.T, args ...string) (status, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	s := string(out)
	i := strings.LastIndex(s, "\n")
	return s[i+1:], s[:i]
}

// TestHTTPConnections drives the HTTP front door with curl and the
// Anthropic Go SDK: an Azure-style API behind OAuth2 client credentials,
// a storage account DELETE held until an approver approves it, and the
// Claude API preset streaming and not. Neither the agent's token nor the
// credentials sluice holds may cross to the other side or into any file.
func TestHTTPConnections(t *testing.T) {
	arm, anth := fakeARM(t), fakeAnthropic(t)
	cfg := httpConfig(t, arm, anth)
	if r := cfg.run("config", "check"); r.code != 0 {
		t.Fatalf("config check: %d %s %s", r.code, r.stdout, r.stderr)
	}
	g := startGateway(t, cfg)
	agentTok := cfg.issue("agent-7", "agents")
	approverTok := cfg.issue("alice", "dba")
	base := "http://" + g.httpAddr

	list := base + "/proxy/azure/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01"
	status, body := curl(t, "-H", "Authorization: Bearer "+agentTok, list)
	if status != "200" || !strings.Contains(body, `"name":"acct1"`) || strings.Contains(body, "jane.doe@example.com") {
		t.Fatalf("list storage accounts: %s %s", status, body)
	}
	if status, _ := curl(t, list); status != "401" {
		t.Errorf("without a token: %s", status)
	}

	// The DELETE is held while curl waits, and runs once alice approves.
	account := base + "/proxy/azure/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct1?api-version=2023-05-01"
	type answer struct{ status, body string }
	done := make(chan answer, 1)
	go func() {
		s, b := curl(t, "-X", "DELETE", "-H", "Authorization: Bearer "+agentTok, account)
		done <- answer{s, b}
	}()
	rs := &reviewSetup{g: g}
	var held []*sluice.Review
	waitUntil(t, 15*time.Second, "a pending review", func() bool {
		r := rs.reviews(t, approverTok, "list", "--json")
		held = nil
		json.Unmarshal([]byte(r.stdout), &held)
		return len(held) == 1
	})
	rv := held[0]
	if rv.Request.Kind != sluice.KindHTTP || !strings.HasPrefix(rv.Request.Text, "DELETE /subscriptions/s1/") ||
		!strings.Contains(strings.Join(rv.Request.HTTP.Patterns, ","), "azure.delete_storage_account") {
		t.Errorf("held request %+v %+v", rv.Request, rv.Request.HTTP)
	}
	if n := arm.count("DELETE "); n != 0 {
		t.Fatalf("the DELETE reached the API %d times before approval", n)
	}
	if r := rs.reviews(t, approverTok, "approve", rv.ID, "--reason", "decommissioned"); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	a := <-done
	if a.status != "200" || arm.count("DELETE ") != 1 {
		t.Errorf("approved DELETE: %s %s; API saw %d", a.status, a.body, arm.count("DELETE "))
	}
	if arm.count("POST /tenant1/oauth2/v2.0/token") != 1 {
		t.Errorf("token endpoint called %d times, want 1 (cached)", arm.count("POST /tenant1/oauth2/v2.0/token"))
	}

	// The Claude API with curl, the way ANTHROPIC_BASE_URL clients call it.
	msg := `{"model":"claude-test","max_tokens":64,"messages":[{"role":"user","content":"deploy with AKIAIOSFODNN7EXAMPLE please"}]}`
	status, body = curl(t, "-H", "x-api-key: "+agentTok, "-H", "anthropic-version: 2023-06-01", "-H", "content-type: application/json",
		"-d", msg, base+"/proxy/anthropic/v1/messages")
	if status != "200" || !strings.Contains(body, "Hello from the model") {
		t.Fatalf("messages with curl: %s %s", status, body)
	}
	for _, r := range anth.requests() {
		if strings.Contains(r, "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("a secret in the prompt reached the model: %s", r)
		}
	}

	// And with the official Go SDK, pointed at sluice.
	client := anthropic.NewClient(option.WithBaseURL(base+"/proxy/anthropic"), option.WithAPIKey(agentTok), option.WithMaxRetries(0))
	ctx := context.Background()
	m, err := client.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-test", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}})
	if err != nil || len(m.Content) != 1 || m.Content[0].Text != "Hello from the model" || m.Usage.InputTokens != 12 {
		t.Fatalf("SDK message: %v %+v", err, m)
	}
	stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "claude-test", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("stream please"))}})
	acc := anthropic.Message{}
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	// The address the model streamed in two deltas reaches the SDK masked.
	if err := stream.Err(); err != nil || len(acc.Content) != 1 || !strings.HasPrefix(acc.Content[0].Text, "Streamed answer, from ") ||
		strings.Contains(acc.Content[0].Text, "jane.d") || strings.Contains(acc.Content[0].Text, "example.com") || acc.Usage.OutputTokens != 9 {
		t.Fatalf("SDK stream: %v %+v", err, acc)
	}
	count, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-test",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count"))}})
	if err != nil || count.InputTokens != 17 {
		t.Fatalf("SDK count_tokens: %v %+v", err, count)
	}
	// Used so far: 12+5 (curl) + 12+5 (SDK) + 30+9 (stream) = 73 of 1000.
	bad := anthropic.NewClient(option.WithBaseURL(base+"/proxy/anthropic"), option.WithAPIKey("sk-ant-not-sluice"), option.WithMaxRetries(0))
	_, err = bad.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-test", MaxTokens: 8,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("a key that is not a sluice token: %v", err)
	}

	// What crossed: the upstreams never saw the agent's token, and the
	// credentials sluice holds are nowhere the agent or an auditor reads.
	for _, r := range append(arm.requests(), anth.requests()...) {
		if strings.Contains(r, agentTok) {
			t.Errorf("the agent's token reached an upstream:\n%s", r)
		}
	}
	g.stopClean()
	for _, secret := range []string{armClientSecret, armAccessToken, anthropicKey} {
		if strings.Contains(g.logs(), secret) {
			t.Errorf("the gateway's log holds an upstream credential")
		}
		checkNoSecret(t, cfg.dataDir, secret)
	}
	st := stateStore(t, cfg.dataDir)
	_, stmts := sessionsOf(t, st, "agent-7")
	var texts []string
	for _, ss := range stmts {
		for _, s := range ss {
			texts = append(texts, s.Text)
		}
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"GET /subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01",
		"DELETE /subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/acct1?api-version=2023-05-01",
		"POST /v1/messages", "POST /v1/messages/count_tokens"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the audit index lacks %q:\n%s", want, joined)
		}
	}
	if r := cfg.run("audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// checkNoSecret fails if any file under dir holds secret.
func checkNoSecret(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds an upstream credential", p)
		}
		return nil
	})
}

// TestMCPHTTPRequest calls the Azure-style API with the MCP http_request
// tool: a read runs at once, a DELETE comes back pending review, and the
// same call runs once after approval.
func TestMCPHTTPRequest(t *testing.T) {
	arm, anth := fakeARM(t), fakeAnthropic(t)
	cfg := httpConfig(t, arm, anth, "mcp: {review_wait: 1s}\n")
	g := startGateway(t, cfg)
	agentTok := cfg.issue("agent-9", "agents")
	approverTok := cfg.issue("alice", "dba")
	cs := mustMCPClient(t, g, agentTok, "", nil)

	conns := decode[struct {
		Connections []struct{ Name, Type string }
	}](t, call(t, cs, "list_connections", nil))
	if len(conns.Connections) != 2 || conns.Connections[0].Name != "anthropic" || conns.Connections[1].Type != "http" {
		t.Errorf("connections %+v", conns.Connections)
	}
	type httpOut struct {
		Status     string `json:"status"`
		HTTPStatus int    `json:"http_status"`
		Body       string `json:"body"`
		Review     *struct {
			ID string `json:"id"`
		} `json:"review"`
	}
	path := "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts"
	out := decode[httpOut](t, call(t, cs, "http_request", map[string]any{"connection": "azure", "method": "GET",
		"path": path + "?api-version=2023-05-01"}))
	if out.Status != "ok" || out.HTTPStatus != 200 || !strings.Contains(out.Body, "acct1") || strings.Contains(out.Body, "jane.doe@example.com") {
		t.Errorf("GET: %+v", out)
	}
	del := map[string]any{"connection": "azure", "method": "DELETE", "path": path + "/acct1?api-version=2023-05-01"}
	out = decode[httpOut](t, call(t, cs, "http_request", del))
	if out.Status != "pending_review" || out.Review == nil || arm.count("DELETE ") != 0 {
		t.Fatalf("DELETE: %+v, API saw %d", out, arm.count("DELETE "))
	}
	rs := &reviewSetup{g: g}
	if r := rs.reviews(t, approverTok, "approve", out.Review.ID, "--reason", "ok"); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	out = decode[httpOut](t, call(t, cs, "http_request", del))
	if out.Status != "ok" || out.HTTPStatus != 200 || arm.count("DELETE ") != 1 {
		t.Errorf("DELETE after approval: %+v, API saw %d", out, arm.count("DELETE "))
	}
	if msg := toolError(t, call(t, cs, "query", map[string]any{"connection": "azure", "sql": "select 1"})); !strings.Contains(msg, "http_request") {
		t.Errorf("query on an HTTP connection: %s", msg)
	}
	for _, r := range arm.requests() {
		if strings.Contains(r, agentTok) {
			t.Errorf("the agent's token reached the API")
		}
	}
}
