// Package config defines sluice's YAML configuration: its schema, defaults,
// secret references (${ENV} anywhere, file:PATH in secret fields) and
// validation. Load does the I/O (reading the file, the environment and
// secret files); Validate is pure and reports every problem with the key it
// belongs to.
package config

import (
	"net"
	"strconv"
	"time"
)

// Config is the whole configuration file. The zero value, after
// ApplyDefaults, is a gateway that listens on loopback and allows nothing.
type Config struct {
	// DataDir holds state.db, the journal, keys and generated certificates.
	// Relative paths are resolved against the config file's directory.
	// Default "./sluice-data".
	DataDir     string       `yaml:"data_dir"`
	Listen      Listen       `yaml:"listen"`
	TLS         TLS          `yaml:"tls"`
	State       State        `yaml:"state"`
	Auth        Auth         `yaml:"auth"`
	Connections []Connection `yaml:"connections"`
	Policies    []Policy     `yaml:"policies"`
	Audit       Audit        `yaml:"audit"`
	Reviews     Reviews      `yaml:"reviews"`
	Masking     Masking      `yaml:"masking"`
	MCP         MCP          `yaml:"mcp"`
	Console     Console      `yaml:"console"`
	Limits      Limits       `yaml:"limits"`
	Log         Log          `yaml:"log"`
}

// Listen holds the listener addresses. An empty address disables that
// listener.
type Listen struct {
	// Postgres is the PostgreSQL wire protocol listener. Default 127.0.0.1:5433.
	Postgres string `yaml:"postgres"`
	// HTTP serves the admin API, health and metrics. Default 127.0.0.1:8433.
	HTTP string `yaml:"http"`
}

// TLS configures the listeners' certificate. With neither file set, a
// self-signed certificate is generated in DataDir on first start.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// AllowPlaintextLoopback lets clients on a loopback address send their
	// token without TLS. For demos and tests only.
	AllowPlaintextLoopback bool `yaml:"allow_plaintext_loopback"`
}

// State selects the state store backend.
type State struct {
	// Driver is "sqlite" (default; DataDir/state.db) or "postgres".
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string for the postgres driver.
	DSN Secret `yaml:"dsn"`
}

// Auth configures how agents prove who they are.
type Auth struct {
	OIDC []OIDC `yaml:"oidc"`
	// ServiceTokens accepts tokens minted by `sluice token issue`.
	ServiceTokens bool `yaml:"service_tokens"`
}

// OIDC is one trusted OpenID Connect issuer of access tokens.
type OIDC struct {
	// Issuer is the issuer URL; it must be https unless on loopback.
	Issuer string `yaml:"issuer"`
	// Audience lists accepted `aud` values; at least one is required.
	Audience StringList `yaml:"audience"`
	// Preset "entra" sets the Entra ID (Azure AD) claim defaults below.
	Preset string `yaml:"preset"`
	// SubjectClaim names the claim that identifies the caller. Default
	// "sub" ("oid" with preset entra).
	SubjectClaim string `yaml:"subject_claim"`
	// GroupsClaim names the claims holding groups. Default ["groups"]
	// (["groups", "roles"] with preset entra).
	GroupsClaim StringList `yaml:"groups_claim"`
	// ClientClaim names the claims holding the OAuth client id. Default
	// ["azp", "appid"].
	ClientClaim StringList `yaml:"client_claim"`
	// Algorithms is the signature algorithm allow-list. Default: the RSA,
	// RSA-PSS, ECDSA and EdDSA algorithms; HMAC and "none" are never allowed.
	Algorithms []string `yaml:"algorithms"`
	// JWKSURL overrides the key set URL from discovery.
	JWKSURL string `yaml:"jwks_url"`
	// Leeway is the clock skew allowed on exp and nbf. Default 30s, at most 60s.
	Leeway Duration `yaml:"leeway"`
}

// Connection is one target sluice fronts, with the credential only sluice holds.
type Connection struct {
	// Name is what clients ask for (the PostgreSQL database name).
	Name string `yaml:"name"`
	// Type is "postgres" (default) or "http".
	Type string `yaml:"type"`
	// Address is host:port of the PostgreSQL server (port defaults to 5432).
	Address  string `yaml:"address"`
	Database string `yaml:"database"`
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// SSLMode is disable, require, verify-ca or verify-full (default).
	SSLMode string `yaml:"sslmode"`
	// SSLRootCert is a CA bundle for verify-ca and verify-full; the system
	// roots are used when empty.
	SSLRootCert string `yaml:"sslrootcert"`
	// ConnectTimeout bounds dialing and authenticating upstream. Default 10s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// Sandbox marks a PostgreSQL connection whose data may be changed for
	// trying things out (a staging database, a restored copy): only a
	// sandbox takes `sluice audit replay --against` (docs/replay.md).
	// Default false.
	Sandbox bool `yaml:"sandbox"`

	// The fields below apply to type http.
	HTTPConnection `yaml:",inline"`
}

// HTTPConnection is what an HTTP API connection adds: the base URL
// requests under /proxy/<name>/ go to, the credential sluice injects, how
// requests are classified and, for the Anthropic preset, token budgets.
type HTTPConnection struct {
	// URL is the upstream base URL, https (http only on loopback).
	URL string `yaml:"url"`
	// Preset "anthropic" fronts the Claude API: the agent's token may come
	// as x-api-key, anthropic-version and anthropic-beta are forwarded,
	// only the Messages endpoints are served, prompts are masked for
	// secrets and budgets apply.
	Preset string `yaml:"preset"`
	// CAFile adds a CA bundle to the system roots for the upstream's
	// certificate; verification is always on.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds the wait for the upstream's response headers.
	// Default 60s (10m with preset anthropic).
	Timeout Duration `yaml:"timeout"`
	// Credential is what sluice presents upstream.
	Credential Credential `yaml:"credential"`
	// Patterns are the built-in classification sets applied (azure, s3,
	// kubernetes, anthropic). Default: azure, s3 and kubernetes, plus
	// anthropic with that preset.
	Patterns []string `yaml:"patterns"`
	// Classify adds custom classification patterns, tried before the
	// built-in ones.
	Classify []HTTPPattern `yaml:"classify"`
	// Budgets cap each subject's daily tokens (preset anthropic); the
	// first entry whose subjects match applies, and no match means no cap.
	Budgets []Budget `yaml:"budgets"`
}

// Credential is the credential sluice holds for an HTTP upstream: a static
// header, a bearer token, basic auth or OAuth2 client credentials. Set one.
type Credential struct {
	Header string `yaml:"header"`
	Value  Secret `yaml:"value"`
	Bearer Secret `yaml:"bearer"`
	Basic  *Basic `yaml:"basic"`
	// OAuth2 gets tokens with the client credentials grant and caches
	// them until they expire.
	OAuth2 *OAuth2 `yaml:"oauth2"`
}

// Basic is HTTP basic authentication.
type Basic struct {
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
}

// OAuth2 is the client credentials grant. With Tenant set and TokenURL
// empty, the token endpoint is Entra ID's for that tenant.
type OAuth2 struct {
	TokenURL     string   `yaml:"token_url"`
	Tenant       string   `yaml:"tenant"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret Secret   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// Resource is sent as the resource parameter (Entra v1 endpoints).
	Resource string `yaml:"resource"`
	CAFile   string `yaml:"ca_file"`
}

// HTTPPattern classifies requests by method, path pattern ("*" is one
// segment, "**" any number), query parameter and host.
type HTTPPattern struct {
	Name    string   `yaml:"name"`
	Methods []string `yaml:"methods"`
	Path    string   `yaml:"path"`
	Query   string   `yaml:"query"`
	Host    string   `yaml:"host"`
	// Class lists the classes a match gives (read, write, destructive,
	// privileged); they replace the method's class.
	Class []string `yaml:"class"`
}

// Budget caps the tokens (input and output, as the API reports them in
// usage) subjects may use per UTC day on a connection.
type Budget struct {
	Subjects    []string `yaml:"subjects"`
	DailyTokens int64    `yaml:"daily_tokens"`
}

// Policy grants subjects the use of connections. Statement-level rules are
// evaluated by the gate for every request.
type Policy struct {
	Name string `yaml:"name"`
	// Subjects are "group:NAME", "subject:NAME" or "*" (any authenticated caller).
	Subjects []string `yaml:"subjects"`
	// Connections are connection names, or "*" for all.
	Connections []string `yaml:"connections"`
	// Sources limits client addresses to these CIDRs (a bare IP is a /32 or
	// /128). Empty allows any address.
	Sources []string `yaml:"sources"`
	// Rules decide each request, first match wins; when no rule matches the
	// request is denied. A policy without rules allows every request of the
	// connections it grants.
	Rules []Rule `yaml:"rules"`
	// Mask names the detector sets ("pii", "secrets") and single detectors
	// whose matches are masked in results for this policy's sessions; the
	// masking section's column rules apply to every policy.
	Mask []string `yaml:"mask"`
	// Unmasked are subjects ("group:dba") who see clear values; the journal
	// records each result they saw unmasked.
	Unmasked []string `yaml:"unmasked"`
	// ReadOnly opens the upstream connection with
	// default_transaction_read_only=on, a second line of defence behind the
	// rules. It is implied when every rule that can let a request through
	// has `when: read`.
	ReadOnly bool `yaml:"read_only"`
}

// Rule is one statement-level rule of a policy.
type Rule struct {
	// Name labels the rule in decisions and the audit trail. Default: its
	// position ("rule 2").
	Name string `yaml:"name"`
	// When is a CEL expression over the request and the identity (see
	// docs/policy.md); it must be true for the rule to apply. Default true.
	When string `yaml:"when"`
	// Methods and Paths limit the rule to HTTP requests with one of these
	// methods and a path matching one of these patterns ("*" is one
	// segment, "**" any number); empty means any.
	Methods []string `yaml:"methods"`
	Paths   []string `yaml:"paths"`
	// Action is allow, deny or review.
	Action string `yaml:"action"`
	// Message is shown to the agent when the rule denies.
	Message string `yaml:"message"`
	// Approvers, for review: subject patterns of who may approve.
	Approvers []string `yaml:"approvers"`
	// MinApprovals, for review: how many distinct approvers must approve.
	// Default 1.
	MinApprovals int `yaml:"min_approvals"`
	// Wait, for review: how long the agent's request is held. Default 2m.
	Wait Duration `yaml:"wait"`
}

// Audit configures what is recorded about each request.
type Audit struct {
	// Sync is "batch" (default: many sessions share one flush) or "always".
	Sync string `yaml:"sync"`
	// CaptureRows is how many result rows are kept per statement. Default 100.
	CaptureRows *int `yaml:"capture_rows"`
	// CaptureBytes caps the captured bytes per statement. Default 65536.
	CaptureBytes *int `yaml:"capture_bytes"`
	// SigningKeyFile is the journal's Ed25519 signing key (signed-note
	// signer format). Default data_dir/keys/journal.key, created on first
	// start; a configured file must exist.
	SigningKeyFile string `yaml:"signing_key_file"`
	// Origin names the journal in its signed checkpoints. Default
	// "sluice/journal".
	Origin string `yaml:"origin"`
	// CheckpointEvery and CheckpointInterval say how often a signed
	// checkpoint is written when there are new records. Default 10000
	// records or 1s.
	CheckpointEvery    int      `yaml:"checkpoint_every"`
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// SegmentBytes is the size of a journal segment file. Default 64 MiB.
	SegmentBytes int64 `yaml:"segment_bytes"`
	// FsyncInterval bounds how long a record written in batch mode may wait
	// for its fsync: what a power loss can cost. Default 100ms.
	FsyncInterval Duration `yaml:"fsync_interval"`
	// Retention removes journal segments whose newest record is older than
	// this. Zero (default) keeps everything.
	Retention Duration `yaml:"retention"`
	// Auditors may read the audit trail through the admin API: subjects as
	// in policies ("group:security", "subject:alice"). Empty: nobody.
	Auditors []string `yaml:"auditors"`
	// Sinks ship the journal elsewhere: write-once storage and SIEMs
	// (docs/export.md).
	Sinks []Sink `yaml:"sinks"`
}

// Masking configures what is masked in results before the agent sees
// them, and in the audit trail's copy of statements.
type Masking struct {
	// Key keys the hash and fake strategies (HMAC), so that masked values
	// stay the same across queries and joins line up. Required when a rule
	// uses hash or fake.
	Key Secret `yaml:"key"`
	// Strategy is the default for detector matches: redact (default),
	// partial, hash or fake.
	Strategy string `yaml:"strategy"`
	// Rules mask whole columns: patterns like "*.email", "users.ssn",
	// "crm.*.phone".
	Rules []MaskRule `yaml:"rules"`
	// JSONPaths mask fields of JSON bodies: "$.user.email", "$..card".
	JSONPaths []MaskPath `yaml:"json_paths"`
	// Detectors are custom content detectors.
	Detectors []MaskDetector `yaml:"detectors"`
}

// MaskRule masks the columns its patterns match with a strategy.
type MaskRule struct {
	Columns  []string `yaml:"columns"`
	Strategy string   `yaml:"strategy"`
}

// MaskPath masks the JSON fields its paths match with a strategy.
type MaskPath struct {
	Paths    []string `yaml:"paths"`
	Strategy string   `yaml:"strategy"`
}

// MaskDetector is a custom detector: a regular expression (RE2 syntax),
// with an optional literal every match contains (a cheap prefilter).
type MaskDetector struct {
	Name     string `yaml:"name"`
	Pattern  string `yaml:"pattern"`
	Trigger  string `yaml:"trigger"`
	Strategy string `yaml:"strategy"`
}

// Reviews configures the approval flow of held requests.
type Reviews struct {
	// Validity is how long an approval stays usable once the agent stopped
	// waiting: within it, the same subject may run exactly that statement
	// on that connection once. Default 1h.
	Validity Duration `yaml:"validity"`
	// ConsoleURL is the console's base URL, for links in notifications.
	ConsoleURL string `yaml:"console_url"`
	// Groups names the groups of approvers who decide in Slack, GitHub or
	// Jira, where sluice knows only the subject their account maps to:
	// group name to subjects.
	Groups map[string][]string `yaml:"groups"`
	// Notify announces reviews where approvers look, and (Slack, GitHub,
	// Jira) takes their decisions at /hooks/<name> on the HTTP listener.
	Notify []Notifier `yaml:"notify"`
}

// Notifier is one place reviews are announced. Which fields apply depends on
// Type; docs/reviews.md shows each.
type Notifier struct {
	// Name is unique; it names the notifier's hook path. Default: Type.
	Name string `yaml:"name"`
	// Type is webhook, slack, github or jira.
	Type string `yaml:"type"`
	// URL is the webhook's receiver, or Jira's site URL.
	URL string `yaml:"url"`
	// API overrides Slack's or GitHub's API base URL.
	API string `yaml:"api"`
	// Token is Slack's bot token, GitHub's token or Jira's API token.
	Token Secret `yaml:"token"`
	// Secret is the webhook's HMAC key, Slack's signing secret, or the
	// GitHub or Jira webhook secret.
	Secret Secret `yaml:"secret"`
	// Channel (and optionally TeamID) say where Slack posts.
	Channel string `yaml:"channel"`
	TeamID  string `yaml:"team_id"`
	// Repo is GitHub's owner/name; Labels apply to GitHub and Jira.
	Repo         string   `yaml:"repo"`
	Labels       []string `yaml:"labels"`
	ApproveLabel string   `yaml:"approve_label"`
	DenyLabel    string   `yaml:"deny_label"`
	// Jira: the bot account's email, the project key and issue type, and
	// the statuses and transition that decide and close.
	Email          string `yaml:"email"`
	Project        string `yaml:"project"`
	IssueType      string `yaml:"issue_type"`
	ApproveStatus  string `yaml:"approve_status"`
	DenyStatus     string `yaml:"deny_status"`
	DoneTransition string `yaml:"done_transition"`
	// Users maps the service's user ids (Slack user id, GitHub login, Jira
	// account id) to sluice subjects; only mapped users can decide.
	Users map[string]string `yaml:"users"`
}

// Limits protects the gateway from oversized or slow input.
type Limits struct {
	// MaxMessageBytes caps one client protocol message. Default 16 MiB, at
	// most 24 MiB: every statement must fit in one journal record.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// StartupTimeout bounds TLS, startup and authentication. Default 15s.
	StartupTimeout Duration `yaml:"startup_timeout"`
	// MaxSessions caps concurrent client sessions. Default 10000.
	MaxSessions int `yaml:"max_sessions"`
}

// Log configures the gateway's operational log (never the audit trail).
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is text (default) or json.
	Format string `yaml:"format"`
}

// Defaults for fields left empty.
const (
	DefaultDataDir         = "./sluice-data"
	DefaultPostgresListen  = "127.0.0.1:5433"
	DefaultHTTPListen      = "127.0.0.1:8433"
	DefaultCaptureRows     = 100
	DefaultCaptureBytes    = 65536
	DefaultMaxMessageBytes = 16 << 20
	DefaultStartupTimeout  = 15 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultMaxSessions     = 10000
	DefaultLeeway          = 30 * time.Second
	MaxLeeway              = 60 * time.Second
	DefaultReviewWait      = 2 * time.Minute
	DefaultReviewValidity  = time.Hour
)

// ApplyDefaults fills empty fields with their defaults. Listener addresses
// are defaulted only when the whole listen section is absent, so that a
// listener can be disabled by leaving its address empty.
func (c *Config) ApplyDefaults() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Listen == (Listen{}) {
		c.Listen = Listen{Postgres: DefaultPostgresListen, HTTP: DefaultHTTPListen}
	}
	if c.State.Driver == "" {
		c.State.Driver = "sqlite"
	}
	for i := range c.Auth.OIDC {
		o := &c.Auth.OIDC[i]
		entra := o.Preset == "entra"
		if o.SubjectClaim == "" {
			o.SubjectClaim = "sub"
			if entra {
				o.SubjectClaim = "oid"
			}
		}
		if len(o.GroupsClaim) == 0 {
			o.GroupsClaim = StringList{"groups"}
			if entra {
				o.GroupsClaim = StringList{"groups", "roles"}
			}
		}
		if len(o.ClientClaim) == 0 {
			o.ClientClaim = StringList{"azp", "appid"}
		}
		if o.Leeway == 0 {
			o.Leeway = Duration(DefaultLeeway)
		}
	}
	for i := range c.Connections {
		cn := &c.Connections[i]
		if cn.Type == "" {
			cn.Type = "postgres"
		}
		if cn.Type == "http" {
			cn.HTTPConnection.applyDefaults()
			continue
		}
		if cn.SSLMode == "" {
			cn.SSLMode = "verify-full"
		}
		if cn.ConnectTimeout == 0 {
			cn.ConnectTimeout = Duration(DefaultConnectTimeout)
		}
	}
	for i := range c.Policies {
		for j := range c.Policies[i].Rules {
			r := &c.Policies[i].Rules[j]
			if r.When == "" {
				r.When = "true"
			}
			if r.Action == "review" {
				if r.MinApprovals == 0 {
					r.MinApprovals = 1
				}
				if r.Wait == 0 {
					r.Wait = Duration(DefaultReviewWait)
				}
			}
		}
	}
	if c.Reviews.Validity == 0 {
		c.Reviews.Validity = Duration(DefaultReviewValidity)
	}
	c.MCP.applyDefaults()
	c.Console.applyDefaults()
	origin := c.Audit.Origin
	if origin == "" {
		origin = "sluice/journal"
	}
	for i := range c.Audit.Sinks {
		c.Audit.Sinks[i].applyDefaults(origin)
	}
	if c.Audit.Sync == "" {
		c.Audit.Sync = "batch"
	}
	if c.Audit.CaptureRows == nil {
		n := DefaultCaptureRows
		c.Audit.CaptureRows = &n
	}
	if c.Audit.CaptureBytes == nil {
		n := DefaultCaptureBytes
		c.Audit.CaptureBytes = &n
	}
	if c.Limits.MaxMessageBytes == 0 {
		c.Limits.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.Limits.StartupTimeout == 0 {
		c.Limits.StartupTimeout = Duration(DefaultStartupTimeout)
	}
	if c.Limits.MaxSessions == 0 {
		c.Limits.MaxSessions = DefaultMaxSessions
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

// Connection returns the connection with the given name, or nil.
func (c *Config) Connection(name string) *Connection {
	for i := range c.Connections {
		if c.Connections[i].Name == name {
			return &c.Connections[i]
		}
	}
	return nil
}

// HostPort returns the connection's host and port; the port defaults to 5432.
func (cn *Connection) HostPort() (host string, port uint16) {
	h, p, err := net.SplitHostPort(cn.Address)
	if err != nil {
		return cn.Address, 5432
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return h, 0
	}
	return h, uint16(n)
}
