package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

// newLogger builds the operational logger from the log section.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured state store, creating the data directory.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	switch cfg.State.Driver {
	case "postgres":
		return postgres.Open(ctx, cfg.State.DSN.Value())
	default:
		return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "state.db"))
	}
}

// serviceTokens returns the service token issuer/verifier for cfg.
func serviceTokens(cfg *config.Config, st store.Store) *authn.ServiceTokens {
	return authn.NewServiceTokens(cfg.DataDir, st)
}

// newAuthenticator builds the authenticator for the configured issuers and,
// when enabled, service tokens.
func newAuthenticator(cfg *config.Config, st store.Store, log *slog.Logger) (*authn.Authenticator, error) {
	ac := authn.Config{Logger: log}
	for _, o := range cfg.Auth.OIDC {
		ac.Issuers = append(ac.Issuers, authn.Issuer{
			URL:          o.Issuer,
			Audiences:    o.Audience,
			SubjectClaim: o.SubjectClaim,
			GroupsClaims: o.GroupsClaim,
			ClientClaims: o.ClientClaim,
			Algorithms:   o.Algorithms,
			JWKSURL:      o.JWKSURL,
			Leeway:       o.Leeway.D(),
		})
	}
	if cfg.Auth.ServiceTokens {
		ac.ServiceTokens = serviceTokens(cfg, st)
	}
	return authn.New(ac)
}

// targets maps postgres connections to their upstream servers.
func targets(cfg *config.Config) pgup.Targets {
	ts := pgup.Targets{}
	for _, c := range cfg.Connections {
		if c.Type != string(sluice.ConnPostgres) {
			continue
		}
		host, port := c.HostPort()
		ts[c.Name] = pgup.Target{
			Host: host, Port: port, Database: c.Database, User: c.User,
			Password: c.Password.Value(), SSLMode: c.SSLMode, SSLRootCert: c.SSLRootCert,
			ConnectTimeout: c.ConnectTimeout.D(),
		}
	}
	return ts
}

// connTypes lists every connection's type by name, for the gate.
func connTypes(cfg *config.Config) map[string]sluice.ConnType {
	m := map[string]sluice.ConnType{}
	for _, c := range cfg.Connections {
		m[c.Name] = sluice.ConnType(c.Type)
	}
	return m
}

// splitList splits comma-separated flag values and drops empty items.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// journalDir is where the audit journal lives.
func journalDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "journal") }

// openJournal opens (and recovers) the audit journal.
func openJournal(ctx context.Context, cfg *config.Config, log *slog.Logger) (*journal.Journal, error) {
	sync, err := journal.ParseSyncMode(cfg.Audit.Sync)
	if err != nil {
		return nil, err
	}
	j, err := journal.Open(ctx, journal.Options{
		Dir: journalDir(cfg), KeyFile: cfg.Audit.SigningKeyFile, Sync: sync,
		SegmentBytes: cfg.Audit.SegmentBytes, CheckpointEvery: cfg.Audit.CheckpointEvery,
		CheckpointInterval: cfg.Audit.CheckpointInterval.D(), FsyncInterval: cfg.Audit.FsyncInterval.D(),
		Origin: cfg.Audit.Origin, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open audit journal: %w", err)
	}
	return j, nil
}

// verifierKey returns the journal's public key: from the configured or
// default signing key file.
func verifierKey(cfg *config.Config) (string, error) {
	kf := cfg.Audit.SigningKeyFile
	if kf == "" {
		kf = journal.DefaultKeyFile(journalDir(cfg))
	}
	return journal.VerifierKey(kf)
}

// subjects parses subject patterns (group:NAME, subject:NAME, *).
func subjects(list []string) ([]policy.Subject, error) {
	out := make([]policy.Subject, 0, len(list))
	for _, s := range list {
		sub, err := policy.ParseSubject(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}
