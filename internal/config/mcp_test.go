package config

import (
	"slices"
	"testing"
	"time"
)

const mcpBase = `
auth: {service_tokens: true}
`

func TestMCPDefaults(t *testing.T) {
	cfg, ps := Parse([]byte(mcpBase), "/etc/sluice", testSource(nil, nil))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if cfg.MCP.ReviewWait.D() != 20*time.Second || cfg.MCP.SessionIdle.D() != 10*time.Minute || cfg.MCP.URL != "" || cfg.MCP.AllowedOrigins != nil {
		t.Fatalf("defaults: %+v", cfg.MCP)
	}
	cfg, ps = Parse([]byte(mcpBase+`mcp: {review_wait: 5s, session_idle: 1h, allowed_origins: ["https://console.example.com", "http://localhost:3000"], url: "https://sluice.example.com:8433/mcp"}`),
		"/etc/sluice", testSource(nil, nil))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if cfg.MCP.ReviewWait.D() != 5*time.Second || cfg.MCP.SessionIdle.D() != time.Hour || len(cfg.MCP.AllowedOrigins) != 2 ||
		cfg.MCP.URL != "https://sluice.example.com:8433/mcp" {
		t.Fatalf("set: %+v", cfg.MCP)
	}
}

func TestMCPValidation(t *testing.T) {
	cases := []struct {
		yaml string
		keys []string
	}{
		{`mcp: {review_wait: -1s}`, []string{"mcp.review_wait"}},
		{`mcp: {review_wait: 2h}`, []string{"mcp.review_wait"}},
		{`mcp: {session_idle: 10ms}`, []string{"mcp.session_idle"}},
		{`mcp: {allowed_origins: ["https://ok.example", "https://a.example/path", "*", "null", "ftp://x", "https://b.example/"]}`,
			[]string{"mcp.allowed_origins[1]", "mcp.allowed_origins[2]", "mcp.allowed_origins[3]", "mcp.allowed_origins[4]", "mcp.allowed_origins[5]"}},
		{`mcp: {url: "sluice.example.com/mcp"}`, []string{"mcp.url"}},
		{`mcp: {url: "https://sluice.example.com/mcp?x=1"}`, []string{"mcp.url"}},
		{`mcp: {review_wiat: 5s}`, []string{"mcp.review_wiat"}},
	}
	for _, c := range cases {
		_, ps := Parse([]byte(mcpBase+c.yaml), "/etc/sluice", testSource(nil, nil))
		var keys []string
		for _, p := range ps {
			keys = append(keys, p.Key)
		}
		if !slices.Equal(keys, c.keys) {
			t.Errorf("%s: problems %v, want keys %v", c.yaml, ps, c.keys)
		}
	}
}
