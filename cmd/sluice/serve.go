package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/admin"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/export"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/listener/httpproxy"
	"github.com/sluicehq/sluice/internal/listener/pgwire"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/tlscert"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

func serveCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, path, cmd)
		},
	}
	configFlag(cmd, &path)
	return cmd
}

// shutdownGrace bounds a graceful shutdown.
const shutdownGrace = 30 * time.Second

func serve(ctx context.Context, path string, cmd *cobra.Command) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, cmd.ErrOrStderr())
	stopRecording, err := startRecording()
	if err != nil {
		return err
	}
	defer stopRecording()

	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open state store: %w", err)
	}
	defer st.Close()

	tlsConfig, fingerprint, err := tlscert.Load(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.DataDir)
	if err != nil {
		return err
	}
	auth, err := newAuthenticator(cfg, st, log)
	if err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	if err := auth.Open(ctx); err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	pol, err := compilePolicies(path, cfg)
	if err != nil {
		return err
	}
	j, err := openJournal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer j.Close()
	index := store.NewIndexer(st, log, 8192)
	index.Start()
	defer index.Close()
	if n, err := audit.CatchUp(ctx, journalDir(cfg), st, index); err != nil {
		return fmt.Errorf("index the journal: %w", err)
	} else if n > 0 {
		log.Info("indexed journal records", "records", n)
	}
	trail := audit.NewTrail(j, index, log)
	hc, err := compileHTTP(path, cfg)
	if err != nil {
		return err
	}
	defer hc.close()
	g := gate.New(pol, connTypes(cfg), trail, log)
	g.HTTP = hc.classifiers
	if g.StatementMask, err = policy.StatementMask(cfg.Masking); err != nil {
		return fmt.Errorf("masking: %w", err)
	}
	catalog := pgup.NewCatalog(targets(cfg), 10*time.Minute)
	defer catalog.Close()
	ns, err := notifiers(cfg, log)
	if err != nil {
		return err
	}
	reviews := &review.Service{Store: st, Recorder: trail, Estimator: targets(cfg), Validity: cfg.Reviews.Validity.D(),
		ConsoleURL: cfg.Reviews.ConsoleURL, Groups: cfg.Reviews.Groups, Notifiers: ns, Log: log.With("part", "reviews")}
	g.Reviews = reviews
	defer reviews.Drain()
	go reviews.ExpireEvery(ctx, 10*time.Second)
	if keep := cfg.Audit.Retention.D(); keep > 0 {
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go audit.RetainEvery(rctx, journalDir(cfg), keep, time.Hour, log)
	}

	var pgLn, httpLn net.Listener
	defer func() {
		for _, ln := range []net.Listener{pgLn, httpLn} {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	if cfg.Listen.Postgres != "" {
		if pgLn, err = net.Listen("tcp", cfg.Listen.Postgres); err != nil {
			return fmt.Errorf("listen postgres: %w", err)
		}
	}
	if cfg.Listen.HTTP != "" {
		if httpLn, err = net.Listen("tcp", cfg.Listen.HTTP); err != nil {
			return fmt.Errorf("listen http: %w", err)
		}
	}

	pgSrv := &pgwire.Server{
		Gate: g, Authn: auth, Upstream: targets(cfg), Tables: catalog,
		TLS: tlsConfig, AllowPlaintextLoopback: cfg.TLS.AllowPlaintextLoopback,
		MaxMessageBytes: cfg.Limits.MaxMessageBytes, StartupTimeout: cfg.Limits.StartupTimeout.D(),
		MaxSessions: cfg.Limits.MaxSessions, Log: log.With("listener", "postgres"),
		CaptureRows: *cfg.Audit.CaptureRows, CaptureBytes: *cfg.Audit.CaptureBytes,
	}
	runners, stopSinks, err := startSinks(ctx, cfg, j, st, log)
	if err != nil {
		return err
	}
	defer stopSinks()
	mux := adminMux(pgSrv, trail, j, runners)
	auditors, err := subjects(cfg.Audit.Auditors)
	if err != nil {
		return err
	}
	api := &admin.Server{Authn: auth, Store: st, JournalDir: journalDir(cfg), Auditors: auditors,
		VerifierKey: j.VerifierKey(), Reviews: reviews, Log: log.With("listener", "http")}
	api.Routes(mux)
	mountRuns(ctx, mux, cfg, g, st, auth, reviews, auditors, catalog, log)
	mountHooks(mux, ns, reviews)
	mountConsole(ctx, mux, cfg, st, reviews, auth, j, runners, httpLn, log)
	proxy := &httpproxy.Server{Gate: g, Authn: auth, Conns: hc.conns, Usage: st,
		MaxBodyBytes: cfg.Limits.MaxMessageBytes, CaptureBytes: *cfg.Audit.CaptureBytes,
		Log: log.With("listener", "proxy")}
	proxy.Routes(mux)
	defer proxy.Close()
	defer mountMCP(ctx, mux, cfg, g, pol, auth, reviews, auditors, catalog, proxy, log)()
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}

	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go sweep(sweepCtx, pgSrv, auth)

	errc := make(chan error, 2)
	if pgLn != nil {
		go func() { errc <- pgSrv.Serve(pgLn) }()
	}
	if httpLn != nil {
		go func() {
			var err error
			if cfg.TLS.AllowPlaintextLoopback && isLoopbackListener(httpLn) {
				err = httpSrv.Serve(httpLn)
			} else {
				err = httpSrv.ServeTLS(httpLn, "", "")
			}
			errc <- err
		}()
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "sluice %s serving\n", version)
	if pgLn != nil {
		fmt.Fprintf(out, "  postgres: %s\n", pgLn.Addr())
	}
	if httpLn != nil {
		fmt.Fprintf(out, "  http:     %s\n", httpLn.Addr())
	}
	fmt.Fprintf(out, "  tls:      %s\n  data_dir: %s\n", fingerprint, cfg.DataDir)
	log.Info("sluice serving", "postgres", addrOf(pgLn), "http", addrOf(httpLn), "tls", fingerprint)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, pgwire.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener failed", "err", err)
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	httpSrv.Shutdown(sctx)
	for _, n := range ns {
		if c, ok := n.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	if err := pgSrv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return nil
}

// sweepEvery is how often open sessions' credentials are checked again.
const sweepEvery = 5 * time.Second

// sweep ends sessions whose token expired or was revoked, until ctx ends.
func sweep(ctx context.Context, pg *pgwire.Server, auth *authn.Authenticator) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pg.Sweep(ctx, auth.Recheck)
		}
	}
}

// startRecording starts what the environment asks for, for performance
// work: SLUICE_CPUPROFILE=path writes a CPU profile of the whole run to
// path.PID and, when the run ends, the profile of its allocations to
// path.PID.allocs; SLUICE_TRACE=path writes an execution trace of the run
// to path.PID (go tool trace). The returned func stops them.
func startRecording() (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	for _, r := range []struct {
		env   string
		start func(io.Writer) error
		stop  func(name string) // name is the file's
	}{
		{"SLUICE_CPUPROFILE", pprof.StartCPUProfile, func(name string) {
			pprof.StopCPUProfile()
			writeAllocs(name + ".allocs")
		}},
		{"SLUICE_TRACE", trace.Start, func(string) { trace.Stop() }},
	} {
		path := os.Getenv(r.env)
		if path == "" {
			continue
		}
		f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
		if err == nil {
			if err = r.start(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			stop()
			return nil, fmt.Errorf("%s: %w", r.env, err)
		}
		stops = append(stops, func() {
			r.stop(f.Name())
			f.Close()
		})
	}
	return stop, nil
}

// writeAllocs writes the profile of the run's allocations to name, as well
// as it can at exit.
func writeAllocs(name string) {
	if a, err := os.Create(name); err == nil {
		pprof.Lookup("allocs").WriteTo(a, 0) //nolint:errcheck // best effort, at exit
		a.Close()
	}
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

func isLoopbackListener(ln net.Listener) bool {
	a, ok := ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// adminMux serves health and metrics. Later the admin API, console and MCP
// endpoints join it.
func adminMux(pg *pgwire.Server, trail *audit.Trail, j *journal.Journal, sinks []*export.Runner) *http.ServeMux {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_postgres_sessions", Help: "PostgreSQL client sessions relaying now.",
	}, func() float64 { return float64(pg.Sessions()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_journal_records_total", Help: "Records written to the audit journal.",
	}, func() float64 { return float64(j.Stats().Records) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_journal_fsyncs_total", Help: "Fsyncs of the audit journal.",
	}, func() float64 { return float64(j.Stats().Fsyncs) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_journal_healthy", Help: "1 when the audit journal can write, 0 when requests are refused.",
	}, func() float64 {
		if trail.Healthy() != nil {
			return 0
		}
		return 1
	}))
	registerSinkMetrics(reg, sinks)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if err := trail.Healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unhealthy: audit journal cannot write, requests are refused: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
		// A lagging export does not refuse requests: the journal holds
		// what is not shipped yet.
		for _, r := range sinks {
			if warn := r.Health(); warn != "" {
				fmt.Fprintln(w, "warning: "+warn)
			}
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
