package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/admin"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/replay"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/script"
	"github.com/sluicehq/sluice/internal/sqlexec"
	"github.com/sluicehq/sluice/internal/store"
)

// mountRuns serves the admin API endpoints that run SQL inside the
// gateway, through the gate g: scripts submitted with `sluice run` and
// replays of recorded sessions on sandbox connections (`sluice audit
// replay --against`). When ctx ends (the gateway is stopping) the calls in
// progress are canceled, so that their statements are canceled upstream and
// their ends are journaled before the journal closes.
func mountRuns(ctx context.Context, mux *http.ServeMux, cfg *config.Config, g *gate.Gate, st store.Store,
	auth *authn.Authenticator, reviews *review.Service, auditors []policy.Subject, tables gate.TableNamer, log *slog.Logger) {
	exec := &sqlexec.Executor{Tables: tables, CaptureRows: *cfg.Audit.CaptureRows, CaptureBytes: *cfg.Audit.CaptureBytes,
		Log: log.With("part", "exec")}
	sandboxes := map[string]bool{}
	for _, c := range cfg.Connections {
		if c.Sandbox && c.Type == string(sluice.ConnPostgres) {
			sandboxes[c.Name] = true
		}
	}
	api := &admin.Server{Authn: auth, Store: st, Auditors: auditors, Reviews: reviews, Log: log.With("listener", "http"),
		Runs: &script.Service{Gate: g, Reviews: reviews, Upstream: targets(cfg), Exec: exec,
			Connections: connTypes(cfg), Log: log.With("part", "run")},
		Replays: &replay.Replayer{Gate: g, Upstream: targets(cfg), Sessions: st, JournalDir: journalDir(cfg), Exec: exec,
			Connections: connTypes(cfg), Sandboxes: sandboxes, Log: log.With("part", "replay")},
	}
	api.ExecRoutes(stopOnDone{mux: mux, ctx: ctx})
}

// stopOnDone registers handlers whose requests are canceled when ctx ends.
type stopOnDone struct {
	mux *http.ServeMux
	ctx context.Context
}

func (s stopOnDone) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(s.ctx, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
}
