package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func testSource(env map[string]string, files map[string]string) Source {
	return Source{
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
}

const full = `
data_dir: ./data
listen:
  postgres: 127.0.0.1:5433
  http: 127.0.0.1:8433
tls: {allow_plaintext_loopback: true}
state: {driver: sqlite}
auth:
  oidc:
    - {issuer: https://login.microsoftonline.com/t/v2.0, audience: api://sluice, preset: entra}
    - {issuer: http://127.0.0.1:9999, audience: [a, b], subject_claim: email, groups_claim: roles}
  service_tokens: true
connections:
  - {name: orders, type: postgres, address: db.internal:5432, database: orders,
     user: sluice_agent, password: "${ORDERS_PASSWORD}", sslmode: verify-full}
  - {name: billing, address: billing.internal, database: billing, user: u, password: "file:secrets/billing"}
  - {name: staging, address: staging.internal, database: orders, user: u, sandbox: true}
policies:
  - name: agents-orders
    subjects: ["group:ai-agents", "subject:alice"]
    connections: [orders]
    sources: [10.0.0.0/8, 192.168.1.7]
audit: {sync: always, capture_rows: 0}
`

func TestParseFull(t *testing.T) {
	src := testSource(map[string]string{"ORDERS_PASSWORD": "s3cr3t-orders"},
		map[string]string{"/etc/sluice/secrets/billing": "billing-pw\n"})
	cfg, ps := Parse([]byte(full), "/etc/sluice", src)
	if len(ps) > 0 {
		t.Fatalf("unexpected problems: %v", ps)
	}
	if cfg.DataDir != "/etc/sluice/data" {
		t.Errorf("data_dir = %q, want resolved against the config dir", cfg.DataDir)
	}
	if got := cfg.Connections[0].Password.Value(); got != "s3cr3t-orders" {
		t.Errorf("env password = %q", got)
	}
	if got := cfg.Connections[1].Password.Value(); got != "billing-pw" {
		t.Errorf("file password = %q (trailing newline must be trimmed)", got)
	}
	b := cfg.Connections[1]
	if b.Type != "postgres" || b.SSLMode != "verify-full" || b.ConnectTimeout.D() != 10*time.Second {
		t.Errorf("connection defaults not applied: %+v", b)
	}
	if b.Sandbox || !cfg.Connections[2].Sandbox {
		t.Errorf("sandbox: %v %v, want false (default) and true", b.Sandbox, cfg.Connections[2].Sandbox)
	}
	if h, p := b.HostPort(); h != "billing.internal" || p != 5432 {
		t.Errorf("HostPort = %s %d", h, p)
	}
	entra := cfg.Auth.OIDC[0]
	if entra.SubjectClaim != "oid" || strings.Join(entra.GroupsClaim, ",") != "groups,roles" ||
		strings.Join(entra.ClientClaim, ",") != "azp,appid" || entra.Leeway.D() != 30*time.Second {
		t.Errorf("entra preset defaults: %+v", entra)
	}
	other := cfg.Auth.OIDC[1]
	if other.SubjectClaim != "email" || strings.Join(other.Audience, ",") != "a,b" || strings.Join(other.GroupsClaim, ",") != "roles" {
		t.Errorf("explicit claims: %+v", other)
	}
	if *cfg.Audit.CaptureRows != 0 || *cfg.Audit.CaptureBytes != DefaultCaptureBytes || cfg.Audit.Sync != "always" {
		t.Errorf("audit: rows=%d bytes=%d sync=%s", *cfg.Audit.CaptureRows, *cfg.Audit.CaptureBytes, cfg.Audit.Sync)
	}
	if cfg.Connection("orders") == nil || cfg.Connection("nope") != nil {
		t.Error("Connection lookup")
	}
}

func TestEmptyConfigNeedsAuth(t *testing.T) {
	cfg, ps := Parse(nil, "/x", testSource(nil, nil))
	if cfg == nil || cfg.Listen.Postgres != DefaultPostgresListen || cfg.DataDir != DefaultDataDir {
		t.Fatalf("defaults: %+v", cfg)
	}
	if len(ps) != 1 || ps[0].Key != "auth" {
		t.Fatalf("problems = %v, want one about auth", ps)
	}
}

// TestProblems checks that every problem is reported with its key.
func TestProblems(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // "key: substring of message"
	}{
		{"typo suggests", "auth: {service_tokens: true}\nlisten: {postgress: ':1'}",
			[]string{`listen.postgress: unknown key (did you mean "postgres"?)`}},
		{"unknown nested key", "auth: {service_tokens: true}\nconnections: [{name: a, address: h, database: d, user: u, pasword: x}]",
			[]string{`connections[0].pasword: unknown key (did you mean "password"?)`}},
		{"missing env", "auth: {service_tokens: true}\nconnections: [{name: a, address: h, database: d, user: u, password: '${NOPE}'}]",
			[]string{"connections[0].password: environment variable NOPE is not set"}},
		{"missing secret file", "auth: {service_tokens: true}\nconnections: [{name: a, address: h, database: d, user: u, password: 'file:/run/x'}]",
			[]string{"connections[0].password: cannot read secret file /run/x: file does not exist"}},
		{"bad issuer", "auth: {oidc: [{issuer: 'http://idp.example.com', audience: x}, {issuer: 'https://ok.example.com'}]}",
			[]string{"auth.oidc[0].issuer: ", "must use https", "auth.oidc[1].audience: required"}},
		{"leeway too large and bad alg", "auth: {oidc: [{issuer: 'https://i.example', audience: x, leeway: 2m, algorithms: [HS256, none]}]}",
			[]string{"auth.oidc[0].leeway: must be between", `auth.oidc[0].algorithms: "HS256" is not allowed`, `auth.oidc[0].algorithms: "none" is not allowed`}},
		{"bad duration", "auth: {oidc: [{issuer: 'https://i.example', audience: x, leeway: soon}]}",
			[]string{`"soon" is not a duration`}},
		{"connection problems", "auth: {service_tokens: true}\nconnections: [{name: 'bad name', type: mysql}, {name: x}, {name: x, address: 'h:99999', database: d, user: u, sslmode: prefer}]",
			[]string{`connections[0].name: "bad name" is not a valid name`, `connections[0].type: unsupported type "mysql"`,
				"connections[1].address: ", "connections[1].database: required", "connections[1].user: required",
				`connections[2].name: connection "x" is defined twice`, "connections[2].address: ", "connections[2].sslmode: must be one of"}},
		{"policy problems", "auth: {service_tokens: true}\npolicies: [{name: p, subjects: [ai-agents, 'group:'], connections: [nope], sources: [10.0.0.0/33, bogus]}, {name: p}]",
			[]string{`policies[0].subjects[0]: "ai-agents" must be`, `policies[0].subjects[1]: "group:" must be`,
				`policies[0].connections[0]: unknown connection "nope"`, `policies[0].sources[0]: "10.0.0.0/33" is not a CIDR`,
				`policies[0].sources[1]: "bogus" is not an IP`, `policies[1].name: policy "p" is defined twice`,
				"policies[1].subjects: required", "policies[1].connections: required"}},
		{"http connection problems", "auth: {service_tokens: true}\nconnections: [" +
			"{name: a, type: http, url: 'http://api.example.com', address: h, credential: {bearer: x, basic: {user: u}}}, " +
			"{name: b, type: http, preset: openai, credential: {header: x-api-key}, patterns: [gcp], classify: [{name: c, path: nope}]}, " +
			"{name: c, type: http, url: 'https://x.example', credential: {oauth2: {client_id: i}}, budgets: [{subjects: [x], daily_tokens: 0}]}, " +
			"{name: d, type: http, url: 'https://x.example', preset: anthropic}, " +
			"{name: e, address: h, database: d, user: u, url: 'https://x.example'}]",
			[]string{`connections[0]: address, database, user, password and sslrootcert apply to type postgres only`,
				`connections[0].url: "http://api.example.com" must use https`, "connections[0].credential: set only one of",
				"connections[1].url: required", `connections[1].preset: unknown preset "openai"`,
				"connections[1].credential: header and value must be set together", `connections[1].patterns[0]: unknown pattern set "gcp"`,
				"connections[1].classify[0].path: required", "connections[1].classify[0].class: required",
				"connections[2].credential.oauth2.token_url: required", "connections[2].credential.oauth2.client_secret: required",
				"connections[2].budgets[0]: budgets apply to preset anthropic only", `connections[2].budgets[0].subjects[0]: "x" must be`,
				"connections[2].budgets[0].daily_tokens: must be positive", "connections[3].credential: preset anthropic needs",
				"connections[4]: url, preset, credential and the other HTTP settings apply to type http only"}},
		{"sink problems", "auth: {service_tokens: true}\naudit: {sinks: [" +
			"{type: azblob, container_url: 'https://a.blob.core.windows.net/c', sas: x, account_key: y, format: raw}, " +
			"{type: s3, access_key: a, object_lock: {mode: forever}}, {type: syslog}, {name: syslog, type: syslog, address: 'h:514'}, " +
			"{type: splunk, url: 'http://splunk.example.com:8088'}, {type: webhook, url: 'https://x.example', format: cef}, {type: kafka}]}",
			[]string{"audit.sinks[0]: set one of connection_string", "audit.sinks[0].format: applies to syslog, splunk and webhook",
				"audit.sinks[1].endpoint: required", "audit.sinks[1].bucket: required", "audit.sinks[1]: access_key and secret_key must be set together",
				"audit.sinks[1].object_lock.mode: must be GOVERNANCE or COMPLIANCE", "audit.sinks[1].object_lock.retain: must be positive",
				"audit.sinks[2].address: required", `audit.sinks[3].name: sink "syslog" is defined twice`,
				`audit.sinks[4].url: "http://splunk.example.com:8088" must use https`, "audit.sinks[4].token: required",
				"audit.sinks[5].secret: required", "audit.sinks[5].format: must be ocsf or raw", `audit.sinks[6].type: must be one of`}},
		{"sandbox on http", "auth: {service_tokens: true}\nconnections: [{name: a, type: http, url: 'https://x.example', sandbox: true, credential: {bearer: x}}]",
			[]string{"connections[0].sandbox: applies to postgres connections only"}},
		{"state", "auth: {service_tokens: true}\nstate: {driver: postgres}", []string{"state.dsn: required"}},
		{"tls pair", "auth: {service_tokens: true}\ntls: {cert_file: a.pem}", []string{"tls: cert_file and key_file"}},
		{"type error", "auth: {service_tokens: true}\nlisten: [a, b]", []string{"cannot unmarshal"}},
		{"not yaml", "listen: [", []string{"not valid YAML"}},
		{"listen off", "auth: {service_tokens: true}\nlisten: {postgres: 'nohost'}", []string{`listen.postgres: "nohost" is not host:port`}},
		{"audit", "auth: {service_tokens: true}\naudit: {sync: sometimes, capture_rows: -1}", []string{"audit.sync: must be batch or always", "audit.capture_rows: must not be negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := Parse([]byte(tc.yaml), "/etc/sluice", testSource(nil, nil))
			text := make([]string, len(ps))
			for i, p := range ps {
				text[i] = p.String()
			}
			all := strings.Join(text, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing problem %q in:\n%s", w, all)
				}
			}
			if len(ps) == 0 {
				t.Fatal("no problems reported")
			}
		})
	}
}

// TestEnvCannotInjectStructure checks that an environment value is taken as
// a plain string and never parsed as YAML.
func TestEnvCannotInjectStructure(t *testing.T) {
	y := "auth: {service_tokens: true}\nconnections: [{name: a, address: h, database: d, user: '${U}'}]"
	cfg, ps := Parse([]byte(y), "/", testSource(map[string]string{"U": "x}, {name: evil"}, nil))
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if len(cfg.Connections) != 1 || cfg.Connections[0].User != "x}, {name: evil" {
		t.Fatalf("connections = %+v", cfg.Connections)
	}
}

// TestSecretNeverPrinted checks every way a secret could be formatted.
func TestSecretNeverPrinted(t *testing.T) {
	const pw = "canary-7f3a9c"
	cfg, ps := Parse([]byte("auth: {service_tokens: true}\nconnections: [{name: a, address: h, database: d, user: u, password: "+pw+"}]"),
		"/", testSource(nil, nil))
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "conn", cfg.Connections[0].Password, "all", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.Connections[0].Password) + logs.String()
	if strings.Contains(out, pw) {
		t.Fatalf("secret leaked: %s", out)
	}
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("expected a redaction marker in %s", out)
	}
	if cfg.Connections[0].Password.Value() != pw {
		t.Fatal("Value must return the secret")
	}
}

func TestProblemsError(t *testing.T) {
	var ps Problems
	if ps.Err() != nil {
		t.Fatal("no problems must be a nil error")
	}
	ps.add("a.b", "bad %d", 1)
	var target Problems
	if !errors.As(ps.Err(), &target) || !strings.Contains(ps.Error(), "a.b: bad 1") {
		t.Fatalf("error = %v", ps.Err())
	}
}

func TestLoadOfflineIgnoresTargetCredentials(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/sluice.yaml"
	y := "auth: {service_tokens: true}\nconnections: [{name: a, address: h, database: d, user: u, password: '${SLUICE_TEST_UNSET_PW}'}, " +
		"{name: b, type: http, url: 'https://x.example', credential: {oauth2: {token_url: 'https://t.example', client_id: i, client_secret: 'file:/nonexistent/secret'}}}]\n"
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "SLUICE_TEST_UNSET_PW") {
		t.Fatalf("Load = %v, want the unset variable reported", err)
	}
	cfg, err := LoadOffline(path)
	if err != nil {
		t.Fatalf("LoadOffline = %v", err)
	}
	if cfg.Connections[0].Password.Value() != "" {
		t.Fatal("an unresolved credential must stay empty")
	}
	bad := y + "listen: {postgress: x}\n"
	os.WriteFile(path, []byte(bad), 0o600)
	if _, err := LoadOffline(path); err == nil {
		t.Fatal("LoadOffline must still report other problems")
	}
}
