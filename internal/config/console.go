package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"
)

// Console configures the web console, served under /console/ on the HTTP
// listener (docs/console.md). People log in with OIDC (authorization code
// with PKCE) or, for a local demo only, with the development login.
type Console struct {
	// URL is the console's public base URL ("https://sluice.example.com:8433"),
	// needed when a reverse proxy terminates TLS: state-changing requests
	// must come from its origin, and cookies are then always Secure.
	// Default: each request's own scheme and Host.
	URL string `yaml:"url"`
	// OIDC is the login for people; unset (no issuer) disables it.
	OIDC ConsoleOIDC `yaml:"oidc"`
	// DevLogin shows a form to log in as any subject with any groups. For
	// demos only: it is refused unless listen.http is a loopback address,
	// and every page says it is a development login. Default false.
	DevLogin bool `yaml:"dev_login"`
	// SessionTTL is how long a login lasts, from the moment it was made
	// (an absolute timeout, not extended by use). Default 8h, between 5m
	// and 24h.
	SessionTTL Duration `yaml:"session_ttl"`
	// IdleTimeout ends a login that opened no page and sent no form for
	// this long; live updates and the inbox's automatic refreshes do not
	// count as use. Default 30m, between 1m and session_ttl.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// ConsoleOIDC is the console's OpenID Connect client: the authorization
// code flow with PKCE (S256). The subject and groups of a person come from
// the ID token with the claim settings of the auth.oidc issuer with the same
// URL, so that a person is the same identity in the console as with their
// tokens; SubjectClaim, GroupsClaim and Preset apply only when no auth.oidc
// issuer has this URL.
type ConsoleOIDC struct {
	// Issuer is the issuer URL; https unless on loopback.
	Issuer string `yaml:"issuer"`
	// ClientID is the console's client (application) id at the issuer.
	ClientID string `yaml:"client_id"`
	// ClientSecret authenticates a confidential client at the token
	// endpoint; leave it empty for a public client (PKCE alone).
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL is where the issuer sends the browser back: the
	// console's /console/callback as people reach it, registered at the
	// issuer.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes asked for. Default [openid, profile, email]; openid is
	// required. Add the scope of sluice's API (for Entra ID
	// "api://sluice/.default") to get an access token the gateway accepts
	// from agents: its groups are then added to the ID token's.
	Scopes []string `yaml:"scopes"`
	// Preset, SubjectClaim and GroupsClaim are as in auth.oidc, for an
	// issuer that auth.oidc does not list.
	Preset       string     `yaml:"preset"`
	SubjectClaim string     `yaml:"subject_claim"`
	GroupsClaim  StringList `yaml:"groups_claim"`
}

// Enabled reports whether OIDC login is configured.
func (o *ConsoleOIDC) Enabled() bool { return o.Issuer != "" }

// Defaults of the console section.
const (
	DefaultConsoleSessionTTL  = 8 * time.Hour
	DefaultConsoleIdleTimeout = 30 * time.Minute
)

// DefaultConsoleScopes are the scopes the console asks for by default.
var DefaultConsoleScopes = []string{"openid", "profile", "email"}

// applyDefaults fills the console section's empty fields.
func (c *Console) applyDefaults() {
	if c.SessionTTL == 0 {
		c.SessionTTL = Duration(DefaultConsoleSessionTTL)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = Duration(min(DefaultConsoleIdleTimeout, c.SessionTTL.D()))
	}
	if c.OIDC.Enabled() && len(c.OIDC.Scopes) == 0 {
		c.OIDC.Scopes = slices.Clone(DefaultConsoleScopes)
	}
}

// ConsoleClaims returns the claim settings for the console's issuer: those
// of the auth.oidc entry with its URL, or the console's own (with preset
// entra's defaults) when there is none. Empty values mean authn's defaults.
func (c *Config) ConsoleClaims() (subject string, groups []string, client []string) {
	for _, o := range c.Auth.OIDC {
		if o.Issuer == c.Console.OIDC.Issuer {
			return o.SubjectClaim, o.GroupsClaim, o.ClientClaim
		}
	}
	o := c.Console.OIDC
	subject, groups = o.SubjectClaim, o.GroupsClaim
	if o.Preset == "entra" {
		if subject == "" {
			subject = "oid"
		}
		if len(groups) == 0 {
			groups = []string{"groups", "roles"}
		}
	}
	return subject, groups, nil
}

// validateConsole checks the console section.
func (c *Config) validateConsole(ps *Problems) {
	con := &c.Console
	if con.SessionTTL.D() < 5*time.Minute || con.SessionTTL.D() > 24*time.Hour {
		ps.add("console.session_ttl", "must be between 5m and 24h")
	}
	if con.IdleTimeout.D() < time.Minute || con.IdleTimeout.D() > con.SessionTTL.D() {
		ps.add("console.idle_timeout", "must be between 1m and console.session_ttl (%s)", con.SessionTTL.D())
	}
	if con.URL != "" {
		u, err := url.Parse(con.URL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			ps.add("console.url", "%q must be an absolute http(s) URL like https://sluice.example.com:8433", con.URL)
		}
	}
	if con.DevLogin {
		host, _, err := net.SplitHostPort(c.Listen.HTTP)
		if c.Listen.HTTP == "" || err != nil || !IsLoopbackHost(host) {
			ps.add("console.dev_login", "is for demos on this machine only: listen.http must be a loopback address (127.0.0.1, ::1 or localhost), not %q", c.Listen.HTTP)
		}
	}
	o := &con.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || o.RedirectURL != "" || !o.ClientSecret.IsZero() || len(o.Scopes) > 0 {
			ps.add("console.oidc.issuer", "required when console.oidc is set")
		}
		return
	}
	if err := CheckIssuerURL(o.Issuer); err != nil {
		ps.add("console.oidc.issuer", "%v", err)
	}
	if o.ClientID == "" {
		ps.add("console.oidc.client_id", "required: the console's client id at the issuer")
	}
	if o.RedirectURL == "" {
		ps.add("console.oidc.redirect_url", "required: the console's /console/callback URL as registered at the issuer")
	} else if u, err := url.Parse(o.RedirectURL); err != nil || CheckIssuerURL(o.RedirectURL) != nil || u.Fragment != "" {
		ps.add("console.oidc.redirect_url", "%q must be an absolute https URL (http only on loopback) without a fragment", o.RedirectURL)
	}
	if !slices.Contains(o.Scopes, "openid") {
		ps.add("console.oidc.scopes", "must include openid")
	}
	shared := slices.ContainsFunc(c.Auth.OIDC, func(a OIDC) bool { return a.Issuer == o.Issuer })
	if shared && (o.Preset != "" || o.SubjectClaim != "" || len(o.GroupsClaim) > 0) {
		ps.add("console.oidc", "preset, subject_claim and groups_claim come from auth.oidc for issuer %q; remove them here", o.Issuer)
	}
	if o.Preset != "" && o.Preset != "entra" {
		ps.add("console.oidc.preset", "unknown preset %q (known: entra)", o.Preset)
	}
	for i, s := range o.Scopes {
		if s == "" {
			ps.add(fmt.Sprintf("console.oidc.scopes[%d]", i), "empty scope")
		}
	}
}
