package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"

	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/console"
	"github.com/sluicehq/sluice/internal/export"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
)

// mountConsole serves the web console on the HTTP listener ln: /console/,
// with / and /reviews/{id} (the links in review notifications) redirecting
// to it. When ctx ends (the gateway is stopping) its live update streams
// end, so that the HTTP server's shutdown need not wait for them. A
// console that cannot start (its key in data_dir/keys cannot be read) is
// logged and answers 503; the gateway goes on serving agents.
func mountConsole(ctx context.Context, mux *http.ServeMux, cfg *config.Config, st store.Store, reviews *review.Service,
	auth *authn.Authenticator, j *journal.Journal, runners []*export.Runner, ln net.Listener, log *slog.Logger) {
	if ln == nil {
		return
	}
	log = log.With("part", "console")
	auditors, _ := subjects(cfg.Audit.Auditors) // validated with the config
	srv := &console.Server{Store: st, Reviews: reviews, JournalDir: journalDir(cfg), VerifierKey: j.VerifierKey(),
		Auditors: auditors, Approvers: approvers(cfg), DevLogin: cfg.Console.DevLogin, SessionTTL: cfg.Console.SessionTTL.D(),
		IdleTimeout: cfg.Console.IdleTimeout.D(), DataDir: cfg.DataDir, URL: cfg.Console.URL, Log: log}
	if len(runners) > 0 {
		srv.Sinks = func() []console.SinkStatus {
			out := make([]console.SinkStatus, 0, len(runners))
			for _, r := range runners {
				out = append(out, console.SinkStatus{Name: r.Name, Lag: r.Lag(), Cursor: r.Cursor(), Errors: r.Errors(), Health: r.Health()})
			}
			return out
		}
	}
	if o := &cfg.Console.OIDC; o.Enabled() {
		sub, groups, client := cfg.ConsoleClaims()
		srv.OIDC = &console.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret.Value(),
			RedirectURL: o.RedirectURL, Scopes: o.Scopes, AccessTokens: auth,
			Claims: authn.Issuer{SubjectClaim: sub, GroupsClaims: groups, ClientClaims: client}}
	}
	if srv.DevLogin && !isLoopbackListener(ln) {
		log.Error("console: the development login is off: the HTTP listener is not on a loopback address", "listen", ln.Addr())
		srv.DevLogin = false
	}
	if err := srv.Open(ctx); err != nil {
		log.Error("console unavailable", "err", err)
		mux.HandleFunc("/console/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the console is unavailable; see the gateway log", http.StatusServiceUnavailable)
		})
		return
	}
	srv.Routes(mux)
	context.AfterFunc(ctx, srv.Close)
	if srv.DevLogin {
		log.Warn("console: the development login is on: anyone on this machine can log in as anyone (console.dev_login)")
	}
}

// approvers lists every subject that some review rule names as an
// approver.
func approvers(cfg *config.Config) []policy.Subject {
	var out []policy.Subject
	for _, p := range cfg.Policies {
		for _, r := range p.Rules {
			for _, a := range r.Approvers {
				if s, err := policy.ParseSubject(a); err == nil && !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
