package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/listener/mcp"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
)

// mountMCP serves the MCP endpoint (/mcp) and its OAuth protected resource
// metadata on mux. When ctx ends (the gateway is stopping) every MCP session
// is ended, so that the HTTP server's shutdown need not wait for their
// streams; the returned function does the same and waits until every gate
// session is recorded as ended: defer it, so that it runs before the journal
// closes.
func mountMCP(ctx context.Context, mux *http.ServeMux, cfg *config.Config, g *gate.Gate, pol *policy.Engine,
	auth *authn.Authenticator, reviews *review.Service, auditors []policy.Subject, tables gate.TableNamer,
	proxy mcp.HTTPCaller, log *slog.Logger) (closeMCP func()) {
	srv := &mcp.Server{
		Gate: g, Authn: auth, Policies: pol, Upstream: targets(cfg), Reviews: reviews,
		Connections: connTypes(cfg), Auditors: auditors, HTTP: proxy,
		URL: cfg.MCP.URL, AllowedOrigins: cfg.MCP.AllowedOrigins,
		ReviewWait: cfg.MCP.ReviewWait.D(), SessionIdle: cfg.MCP.SessionIdle.D(),
		CaptureRows: *cfg.Audit.CaptureRows, CaptureBytes: *cfg.Audit.CaptureBytes,
		Masker: mcp.EngineMasker{Tables: tables}, Version: version, Log: log.With("listener", "mcp"),
	}
	for _, o := range cfg.Auth.OIDC {
		srv.Issuers = append(srv.Issuers, o.Issuer)
	}
	srv.Routes(mux)
	stop := context.AfterFunc(ctx, srv.Close)
	return func() {
		stop()
		srv.Close()
	}
}
