package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// MCP configures the MCP endpoint, /mcp on the HTTP listener.
type MCP struct {
	// ReviewWait is how long a tool call that a rule holds for review waits
	// for the approvers (sending progress notifications meanwhile) before it
	// returns a pending result that names the review; never longer than the
	// rule's own wait. The review stays open: once approved, the same query
	// runs once. Default 20s, at most 1h.
	ReviewWait Duration `yaml:"review_wait"`
	// AllowedOrigins are the browser origins ("https://console.example.com")
	// that may call /mcp. A request with any other Origin header is refused,
	// which stops DNS-rebinding attacks from web pages; requests without an
	// Origin header (agents, CLIs) are allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// SessionIdle ends an MCP session, with its gate sessions and upstream
	// connections, after this long without a request. Default 10m.
	SessionIdle Duration `yaml:"session_idle"`
	// URL is the endpoint's public URL ("https://sluice.example.com:8433/mcp"),
	// the resource its OAuth protected resource metadata names. Default:
	// taken from each request's Host.
	URL string `yaml:"url"`
}

// Defaults of the mcp section.
const (
	DefaultMCPReviewWait  = 20 * time.Second
	DefaultMCPSessionIdle = 10 * time.Minute
)

// applyDefaults fills the mcp section's empty fields.
func (m *MCP) applyDefaults() {
	if m.ReviewWait == 0 {
		m.ReviewWait = Duration(DefaultMCPReviewWait)
	}
	if m.SessionIdle == 0 {
		m.SessionIdle = Duration(DefaultMCPSessionIdle)
	}
}

// validate checks the mcp section.
func (m *MCP) validate(ps *Problems) {
	if m.ReviewWait < 0 || m.ReviewWait.D() > time.Hour {
		ps.add("mcp.review_wait", "must be between 0s and 1h")
	}
	if m.SessionIdle < Duration(time.Second) || m.SessionIdle.D() > 24*time.Hour {
		ps.add("mcp.session_idle", "must be between 1s and 24h")
	}
	for i, o := range m.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			ps.add(fmt.Sprintf("mcp.allowed_origins[%d]", i), "%v", err)
		}
	}
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			ps.add("mcp.url", "%q must be an absolute http(s) URL like https://sluice.example.com:8433/mcp", m.URL)
		}
	}
}

// checkOrigin requires a browser origin: scheme://host[:port], nothing more.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(o, "/") {
		return fmt.Errorf("%q is not an origin like https://console.example.com", o)
	}
	return nil
}
