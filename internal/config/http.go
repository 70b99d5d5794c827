package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// HTTP connection presets and defaults.
const (
	PresetAnthropic         = "anthropic"
	DefaultHTTPTimeout      = 60 * time.Second
	DefaultAnthropicTimeout = 10 * time.Minute
)

// HTTPPatternSets are the built-in classification sets of HTTP connections.
var HTTPPatternSets = []string{"azure", "s3", "kubernetes", "anthropic"}

// applyDefaults fills an HTTP connection's empty fields.
func (h *HTTPConnection) applyDefaults() {
	if h.Timeout == 0 {
		h.Timeout = Duration(DefaultHTTPTimeout)
		if h.Preset == PresetAnthropic {
			h.Timeout = Duration(DefaultAnthropicTimeout)
		}
	}
	if h.Patterns == nil {
		h.Patterns = []string{"azure", "s3", "kubernetes"}
		if h.Preset == PresetAnthropic {
			h.Patterns = append(h.Patterns, "anthropic")
		}
	}
}

// validate checks an HTTP connection; key is the connection's key and
// pg the whole connection, whose PostgreSQL fields must be empty.
func (h *HTTPConnection) validate(ps *Problems, key string, pg *Connection) {
	if pg.Address != "" || pg.Database != "" || pg.User != "" || !pg.Password.IsZero() || pg.SSLRootCert != "" {
		ps.add(key, "address, database, user, password and sslrootcert apply to type postgres only")
	}
	if h.URL == "" {
		ps.add(key+".url", "required for type http")
	} else if err := CheckIssuerURL(h.URL); err != nil {
		ps.add(key+".url", "%v", err)
	}
	if h.Preset != "" && h.Preset != PresetAnthropic {
		ps.add(key+".preset", "unknown preset %q (supported: anthropic)", h.Preset)
	}
	if h.Timeout <= 0 {
		ps.add(key+".timeout", "must be positive")
	}
	h.Credential.validate(ps, key+".credential")
	if h.Preset == PresetAnthropic && h.Credential.Header == "" {
		ps.add(key+".credential", "preset anthropic needs {header: x-api-key, value: ...}")
	}
	for i, s := range h.Patterns {
		if !slices.Contains(HTTPPatternSets, s) {
			ps.add(fmt.Sprintf("%s.patterns[%d]", key, i), "unknown pattern set %q (known: %s)", s, strings.Join(HTTPPatternSets, ", "))
		}
	}
	for i, p := range h.Classify {
		pk := fmt.Sprintf("%s.classify[%d]", key, i)
		if p.Name == "" {
			ps.add(pk+".name", "required")
		}
		if !strings.HasPrefix(p.Path, "/") {
			ps.add(pk+".path", "required: a path pattern starting with /")
		}
		if len(p.Class) == 0 {
			ps.add(pk+".class", "required: read, write, ddl, destructive or privileged")
		}
	}
	for i, b := range h.Budgets {
		bk := fmt.Sprintf("%s.budgets[%d]", key, i)
		if h.Preset != PresetAnthropic {
			ps.add(bk, "budgets apply to preset anthropic only")
		}
		if len(b.Subjects) == 0 {
			ps.add(bk+".subjects", "required: whom the budget applies to")
		}
		for j, s := range b.Subjects {
			if err := checkSubject(s); err != nil {
				ps.add(fmt.Sprintf("%s.subjects[%d]", bk, j), "%v", err)
			}
		}
		if b.DailyTokens <= 0 {
			ps.add(bk+".daily_tokens", "must be positive")
		}
	}
}

// validate checks that exactly one kind of credential is complete.
func (c *Credential) validate(ps *Problems, key string) {
	kinds := 0
	if c.Header != "" || !c.Value.IsZero() {
		kinds++
		if c.Header == "" || c.Value.IsZero() {
			ps.add(key, "header and value must be set together")
		}
	}
	if !c.Bearer.IsZero() {
		kinds++
	}
	if c.Basic != nil {
		kinds++
		if c.Basic.User == "" {
			ps.add(key+".basic.user", "required")
		}
	}
	if o := c.OAuth2; o != nil {
		kinds++
		ok := key + ".oauth2"
		switch {
		case o.TokenURL == "" && o.Tenant == "":
			ps.add(ok+".token_url", "required (or set tenant for Entra ID)")
		case o.TokenURL != "":
			if err := CheckIssuerURL(o.TokenURL); err != nil {
				ps.add(ok+".token_url", "%v", err)
			}
		}
		if o.ClientID == "" {
			ps.add(ok+".client_id", "required")
		}
		if o.ClientSecret.IsZero() {
			ps.add(ok+".client_secret", "required")
		}
	}
	if kinds > 1 {
		ps.add(key, "set only one of header, bearer, basic and oauth2")
	}
}

// checkSubject accepts "group:NAME", "subject:NAME" or "*".
func checkSubject(s string) error {
	if s == "*" {
		return nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" || (kind != "group" && kind != "subject") {
		return fmt.Errorf("%q must be group:NAME, subject:NAME or *", s)
	}
	return nil
}

// secrets adds an HTTP connection's secrets to m under key.
func (h *HTTPConnection) secrets(m map[string]*Secret, key string) {
	c := &h.Credential
	m[key+".credential.value"] = &c.Value
	m[key+".credential.bearer"] = &c.Bearer
	if c.Basic != nil {
		m[key+".credential.basic.password"] = &c.Basic.Password
	}
	if c.OAuth2 != nil {
		m[key+".credential.oauth2.client_secret"] = &c.OAuth2.ClientSecret
	}
}
