package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var connName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// SupportedAlgorithms are the JWT signature algorithms sluice can verify.
var SupportedAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// Validate checks the configuration without any I/O and returns every
// problem found. It expects ApplyDefaults to have run.
func (c *Config) Validate() Problems {
	var ps Problems
	if c.Listen.Postgres == "" && c.Listen.HTTP == "" {
		ps.add("listen", "no listener configured")
	}
	checkHostPort(&ps, "listen.postgres", c.Listen.Postgres, false)
	checkHostPort(&ps, "listen.http", c.Listen.HTTP, false)
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		ps.add("tls", "cert_file and key_file must be set together")
	}
	switch c.State.Driver {
	case "sqlite":
		if !c.State.DSN.IsZero() {
			ps.add("state.dsn", "only used with driver postgres")
		}
	case "postgres":
		if c.State.DSN.IsZero() {
			ps.add("state.dsn", "required with driver postgres")
		}
	default:
		ps.add("state.driver", "must be sqlite or postgres, not %q", c.State.Driver)
	}
	c.validateAuth(&ps)
	c.validateConnections(&ps)
	c.validatePolicies(&ps)
	c.validateAudit(&ps)
	c.MCP.validate(&ps)
	c.validateConsole(&ps)
	if c.Limits.MaxMessageBytes < 1024 || c.Limits.MaxMessageBytes > 24<<20 {
		ps.add("limits.max_message_bytes", "must be between 1024 and 25165824 (every statement must fit in one journal record)")
	}
	if c.Limits.StartupTimeout < 0 {
		ps.add("limits.startup_timeout", "must not be negative")
	}
	if c.Limits.MaxSessions < 1 {
		ps.add("limits.max_sessions", "must be at least 1")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		ps.add("log.level", "must be debug, info, warn or error")
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		ps.add("log.format", "must be text or json")
	}
	return ps
}

func checkHostPort(ps *Problems, key, addr string, needHost bool) {
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.add(key, "%q is not host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		ps.add(key, "%q has an invalid port", addr)
	}
	if needHost && host == "" {
		ps.add(key, "%q has no host", addr)
	}
}

func (c *Config) validateAuth(ps *Problems) {
	if len(c.Auth.OIDC) == 0 && !c.Auth.ServiceTokens {
		ps.add("auth", "no way to authenticate: configure oidc issuers or service_tokens: true")
	}
	seen := map[string]bool{}
	for i, o := range c.Auth.OIDC {
		key := fmt.Sprintf("auth.oidc[%d]", i)
		if err := CheckIssuerURL(o.Issuer); err != nil {
			ps.add(key+".issuer", "%v", err)
		}
		if seen[o.Issuer] {
			ps.add(key+".issuer", "issuer %q is configured twice", o.Issuer)
		}
		seen[o.Issuer] = true
		if len(o.Audience) == 0 || slices.Contains(o.Audience, "") {
			ps.add(key+".audience", "required: the audience sluice's tokens are issued for")
		}
		if o.Preset != "" && o.Preset != "entra" {
			ps.add(key+".preset", "unknown preset %q (known: entra)", o.Preset)
		}
		for _, a := range o.Algorithms {
			if !slices.Contains(SupportedAlgorithms, a) {
				ps.add(key+".algorithms", "%q is not allowed (allowed: %s)", a, strings.Join(SupportedAlgorithms, ", "))
			}
		}
		if o.JWKSURL != "" {
			if err := CheckIssuerURL(o.JWKSURL); err != nil {
				ps.add(key+".jwks_url", "%v", err)
			}
		}
		if o.Leeway < 0 || o.Leeway.D() > MaxLeeway {
			ps.add(key+".leeway", "must be between 0s and %s", MaxLeeway)
		}
	}
}

// CheckIssuerURL requires an absolute https URL, or http on a loopback host.
func CheckIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http is allowed only on loopback)", s)
	default:
		return fmt.Errorf("%q must use https", s)
	}
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

var sslModes = []string{"disable", "require", "verify-ca", "verify-full"}

func (c *Config) validateConnections(ps *Problems) {
	seen := map[string]bool{}
	for i, cn := range c.Connections {
		key := fmt.Sprintf("connections[%d]", i)
		if !connName.MatchString(cn.Name) {
			ps.add(key+".name", "%q is not a valid name (letters, digits, _ . -; at most 63)", cn.Name)
		} else if seen[cn.Name] {
			ps.add(key+".name", "connection %q is defined twice", cn.Name)
		}
		seen[cn.Name] = true
		if cn.Sandbox && cn.Type != "postgres" {
			ps.add(key+".sandbox", "applies to postgres connections only: replay re-executes SQL")
		}
		switch cn.Type {
		case "postgres":
		case "http":
			cn.HTTPConnection.validate(ps, key, &cn)
			continue
		default:
			ps.add(key+".type", "unsupported type %q (supported: postgres, http)", cn.Type)
			continue
		}
		if !reflect.ValueOf(cn.HTTPConnection).IsZero() {
			ps.add(key, "url, preset, credential and the other HTTP settings apply to type http only")
		}
		if host, port := cn.HostPort(); host == "" || port == 0 || strings.ContainsAny(host, "/ ") {
			ps.add(key+".address", "%q is not host or host:port", cn.Address)
		}
		if cn.Database == "" {
			ps.add(key+".database", "required")
		}
		if cn.User == "" {
			ps.add(key+".user", "required")
		}
		if !slices.Contains(sslModes, cn.SSLMode) {
			ps.add(key+".sslmode", "must be one of %s", strings.Join(sslModes, ", "))
		}
		if cn.SSLRootCert != "" && !strings.HasPrefix(cn.SSLMode, "verify-") {
			ps.add(key+".sslrootcert", "only used with sslmode verify-ca or verify-full")
		}
		if cn.ConnectTimeout <= 0 {
			ps.add(key+".connect_timeout", "must be positive")
		}
	}
}

func (c *Config) validatePolicies(ps *Problems) {
	seen := map[string]bool{}
	for i, p := range c.Policies {
		key := fmt.Sprintf("policies[%d]", i)
		if p.Name == "" {
			ps.add(key+".name", "required")
		} else if seen[p.Name] {
			ps.add(key+".name", "policy %q is defined twice", p.Name)
		}
		seen[p.Name] = true
		if len(p.Subjects) == 0 {
			ps.add(key+".subjects", "required: who this policy applies to")
		}
		for j, s := range p.Subjects {
			if err := checkSubject(s); err != nil {
				ps.add(fmt.Sprintf("%s.subjects[%d]", key, j), "%v", err)
			}
		}
		if len(p.Connections) == 0 {
			ps.add(key+".connections", "required: which connections this policy grants")
		}
		for j, cn := range p.Connections {
			if cn != "*" && c.Connection(cn) == nil {
				ps.add(fmt.Sprintf("%s.connections[%d]", key, j), "unknown connection %q", cn)
			}
		}
		for j, s := range p.Sources {
			if _, err := ParseSource(s); err != nil {
				ps.add(fmt.Sprintf("%s.sources[%d]", key, j), "%v", err)
			}
		}
		for j, r := range p.Rules {
			validateRule(ps, fmt.Sprintf("%s.rules[%d]", key, j), r)
		}
	}
}

func validateRule(ps *Problems, key string, r Rule) {
	switch r.Action {
	case "allow", "deny":
		if len(r.Approvers) > 0 || r.MinApprovals != 0 || r.Wait != 0 {
			ps.add(key, "approvers, min_approvals and wait apply to action review only")
		}
	case "review":
		if len(r.Approvers) == 0 {
			ps.add(key+".approvers", "required for review: who may approve")
		}
		for k, a := range r.Approvers {
			if kind, name, ok := strings.Cut(a, ":"); !ok || (kind != "group" && kind != "subject") || name == "" {
				ps.add(fmt.Sprintf("%s.approvers[%d]", key, k), "%q must be group:NAME or subject:NAME", a)
			}
		}
		if r.MinApprovals < 1 || r.MinApprovals > 10 {
			ps.add(key+".min_approvals", "must be between 1 and 10")
		}
		if r.Wait < 0 || r.Wait.D() > 24*time.Hour {
			ps.add(key+".wait", "must be between 0s and 24h")
		}
	default:
		ps.add(key+".action", "must be allow, deny or review, not %q", r.Action)
	}
	if r.Message != "" && r.Action != "deny" {
		ps.add(key+".message", "applies to action deny only")
	}
}

// ParseSource parses a CIDR, or a bare IP as a single-address prefix.
func ParseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (c *Config) validateAudit(ps *Problems) {
	c.validateSinks(ps)
	if c.Audit.Sync != "batch" && c.Audit.Sync != "always" {
		ps.add("audit.sync", "must be batch or always")
	}
	if c.Audit.CaptureRows != nil && *c.Audit.CaptureRows < 0 {
		ps.add("audit.capture_rows", "must not be negative")
	}
	if c.Audit.CaptureBytes != nil && (*c.Audit.CaptureBytes < 0 || *c.Audit.CaptureBytes > 16<<20) {
		ps.add("audit.capture_bytes", "must be between 0 and 16777216")
	}
	for j, s := range c.Audit.Auditors {
		if err := checkSubject(s); err != nil {
			ps.add(fmt.Sprintf("audit.auditors[%d]", j), "%v", err)
		}
	}
	if c.Audit.CheckpointEvery < 0 {
		ps.add("audit.checkpoint_every", "must not be negative")
	}
	if c.Audit.CheckpointInterval < 0 {
		ps.add("audit.checkpoint_interval", "must not be negative")
	}
	if c.Audit.SegmentBytes != 0 && c.Audit.SegmentBytes < 1<<20 {
		ps.add("audit.segment_bytes", "must be at least 1048576")
	}
	if c.Audit.FsyncInterval < 0 {
		ps.add("audit.fsync_interval", "must not be negative")
	}
	c.validateNotifiers(ps)
	if c.Reviews.Validity < 0 || c.Reviews.Validity.D() > 7*24*time.Hour {
		ps.add("reviews.validity", "must be between 0s and 168h")
	}
	if c.Audit.Retention < 0 || c.Audit.Retention > 0 && c.Audit.Retention.D() < time.Hour {
		ps.add("audit.retention", "must be at least 1h (or 0 to keep everything)")
	}
}

func (c *Config) validateNotifiers(ps *Problems) {
	seen := map[string]bool{}
	for i, n := range c.Reviews.Notify {
		key := fmt.Sprintf("reviews.notify[%d]", i)
		name := n.Name
		if name == "" {
			name = n.Type
		}
		if !connName.MatchString(name) {
			ps.add(key+".name", "%q is not a valid name", name)
		} else if seen[name] {
			ps.add(key+".name", "notifier %q is defined twice", name)
		}
		seen[name] = true
		need := func(field, value string) {
			if value == "" {
				ps.add(key+"."+field, "required for type %s", n.Type)
			}
		}
		switch n.Type {
		case "webhook":
			need("url", n.URL)
			need("secret", n.Secret.raw)
		case "slack":
			need("token", n.Token.raw)
			need("secret", n.Secret.raw)
			need("channel", n.Channel)
		case "github":
			need("repo", n.Repo)
			need("token", n.Token.raw)
			need("secret", n.Secret.raw)
		case "jira":
			need("url", n.URL)
			need("email", n.Email)
			need("token", n.Token.raw)
			need("secret", n.Secret.raw)
			need("project", n.Project)
		default:
			ps.add(key+".type", "must be webhook, slack, github or jira, not %q", n.Type)
		}
	}
}
