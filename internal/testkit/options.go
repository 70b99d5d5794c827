package testkit

import "time"

// Options configure a server started by Start or StartPostgres. The zero
// value is useful: every field has a documented default.
type Options struct {
	// BinDir is the directory holding initdb and postgres. Default: the
	// SLUICE_PG_BINDIR environment variable, else `pg_config --bindir`, else
	// the newest /usr/lib/postgresql/*/bin, else the directory of initdb on
	// PATH.
	BinDir string

	// BaseDir is the parent of the server's temporary directory. Default:
	// os.TempDir(), or /tmp when running as root and os.TempDir() cannot be
	// traversed by the OSUser.
	BaseDir string

	// OSUser is the system user that runs initdb and postgres when the test
	// process runs as root. Default: "postgres". Ignored when not root.
	OSUser string

	// MaxConnections is max_connections. Default: 300, enough for pgbench
	// and for tests that open hundreds of sessions.
	MaxConnections int

	// Settings are extra postgresql.conf settings (name to unquoted value),
	// applied after the defaults, so they override them.
	Settings map[string]string

	// StartTimeout bounds each step of a start or restart: initdb, the wait
	// for the server to accept a real connection, the creation of the
	// roles. Default: 30s.
	StartTimeout time.Duration

	// StopTimeout bounds a fast shutdown before the server is killed.
	// Default: 30s.
	StopTimeout time.Duration
}

// Option changes Options; it is the form StartPostgres takes.
type Option func(*Options)

// WithSetting sets one postgresql.conf setting, overriding the default.
func WithSetting(name, value string) Option {
	return func(o *Options) {
		if o.Settings == nil {
			o.Settings = map[string]string{}
		}
		o.Settings[name] = value
	}
}

// WithMaxConnections sets max_connections.
func WithMaxConnections(n int) Option {
	return func(o *Options) { o.MaxConnections = n }
}

// WithStartTimeout sets Options.StartTimeout.
func WithStartTimeout(d time.Duration) Option {
	return func(o *Options) { o.StartTimeout = d }
}

// WithBinDir sets Options.BinDir.
func WithBinDir(dir string) Option {
	return func(o *Options) { o.BinDir = dir }
}

func (o Options) withDefaults() Options {
	if o.OSUser == "" {
		o.OSUser = "postgres"
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 300
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	return o
}
