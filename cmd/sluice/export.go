package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/export"
	exportazblob "github.com/sluicehq/sluice/internal/export/azblob"
	exports3 "github.com/sluicehq/sluice/internal/export/s3"
	"github.com/sluicehq/sluice/internal/export/siem"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/ocsf"
)

// newExporter builds the exporter of one configured sink.
func newExporter(ctx context.Context, cfg *config.Config, s *config.Sink) (export.Exporter, error) {
	dir := journalDir(cfg)
	if s.Archive() {
		st, err := openObjectStore(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", s.SinkName(), err)
		}
		return &export.Archive{Store: st, Dir: dir}, nil
	}
	var sink export.EventSink
	var err error
	switch s.Type {
	case "syslog":
		sink, err = siem.NewSyslog(siem.SyslogConfig{Address: s.Address, TLS: s.TLS, CAFile: s.CAFile, ServerName: s.ServerName})
	case "splunk":
		sink, err = siem.NewHEC(siem.HECConfig{URL: s.URL, Token: s.Token.Value(), Index: s.Index, Source: s.Source,
			SourceType: s.SourceType, CAFile: s.CAFile})
	case "webhook":
		sink, err = siem.NewWebhook(siem.WebhookConfig{URL: s.URL, Secret: s.Secret.Value(), CAFile: s.CAFile})
	default:
		err = fmt.Errorf("unknown sink type %q", s.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.SinkName(), err)
	}
	return &export.Events{Sink: sink, Dir: dir, Format: formatter(s.Format), Batch: s.Batch, Join: s.Format != "raw"}, nil
}

// openObjectStore opens an azblob or s3 sink's store.
func openObjectStore(ctx context.Context, s *config.Sink) (export.ObjectStore, error) {
	if s.Type == "azblob" {
		c := exportazblob.Config{ContainerURL: s.ContainerURL, Prefix: s.Prefix, ConnectionString: s.ConnectionString.Value(),
			Container: s.Container, AccountName: s.AccountName, AccountKey: s.AccountKey.Value(), SAS: s.SAS.Value(),
			CreateContainer: s.Create}
		if e := s.Entra; e != nil {
			c.Entra = &exportazblob.Entra{TenantID: e.TenantID, ClientID: e.ClientID, ClientSecret: e.ClientSecret.Value()}
		}
		return exportazblob.Open(ctx, c)
	}
	c := exports3.Config{Endpoint: s.Endpoint, Secure: !s.Insecure, CAFile: s.CAFile, Region: s.Region, Bucket: s.Bucket,
		Prefix: s.Prefix, AccessKey: s.AccessKey, SecretKey: s.SecretKey.Value(), CreateBucket: s.Create}
	if l := s.ObjectLock; l != nil {
		c.ObjectLockMode, c.ObjectLockRetain = l.Mode, l.Retain.D()
	}
	return exports3.Open(ctx, c)
}

// openArchiveURL opens an exported copy named by azure:// or s3:// URL.
func openArchiveURL(ctx context.Context, u string) (export.ObjectStore, error) {
	switch {
	case strings.HasPrefix(u, "azure://"):
		c, err := exportazblob.ParseURL(u)
		if err != nil {
			return nil, err
		}
		return exportazblob.Open(ctx, c)
	case strings.HasPrefix(u, "s3://"):
		c, err := exports3.ParseURL(u)
		if err != nil {
			return nil, err
		}
		return exports3.Open(ctx, c)
	}
	return nil, fmt.Errorf("--from takes azure://ACCOUNT/CONTAINER/PREFIX or s3://BUCKET/PREFIX, not %q", u)
}

// formatter returns the record format of SIEM sinks.
func formatter(format string) func(*journal.Record) ([]byte, error) {
	if format == "raw" {
		return ocsf.Raw
	}
	p := ocsf.Product{Name: "sluice", Vendor: "sluice", Version: version}
	return func(r *journal.Record) ([]byte, error) { return ocsf.Event(r, p) }
}

// cursorKey names a sink's cursor: the sink and the journal it reads.
func cursorKey(cfg *config.Config, s *config.Sink) string {
	origin := cfg.Audit.Origin
	if origin == "" {
		origin = "sluice/journal"
	}
	return s.SinkName() + "@" + origin
}

// startSinks starts a runner per configured sink; stop ends them, waits
// for them and closes the sinks.
func startSinks(ctx context.Context, cfg *config.Config, j *journal.Journal, cursors export.Cursors, log *slog.Logger) ([]*export.Runner, func(), error) {
	var runners []*export.Runner
	var exps []export.Exporter
	closeAll := func() {
		for _, e := range exps {
			e.Close()
		}
	}
	for i := range cfg.Audit.Sinks {
		s := &cfg.Audit.Sinks[i]
		e, err := newExporter(ctx, cfg, s)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		exps = append(exps, e)
		runners = append(runners, &export.Runner{Name: s.SinkName(), Key: cursorKey(cfg, s), Exporter: e, Cursors: cursors,
			Size: j.Size, Interval: s.Interval.D(), LagWarning: s.LagWarning, Log: log.With("part", "export")})
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, len(runners))
	for _, r := range runners {
		go func() { r.Run(ctx); done <- struct{}{} }()
	}
	return runners, func() {
		cancel()
		for range runners {
			<-done
		}
		closeAll()
	}, nil
}

// registerSinkMetrics exports each runner's lag, cursor and errors.
func registerSinkMetrics(reg *prometheus.Registry, runners []*export.Runner) {
	for _, r := range runners {
		labels := prometheus.Labels{"sink": r.Name}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_export_lag_records", ConstLabels: labels,
				Help: "Journal records an export sink has not shipped yet."}, func() float64 { return float64(r.Lag()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_export_cursor", ConstLabels: labels,
				Help: "The last journal sequence number an export sink shipped."}, func() float64 { return float64(r.Cursor()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_export_errors_total", ConstLabels: labels,
				Help: "Failed export attempts of a sink."}, func() float64 { return float64(r.Errors()) }))
	}
}

func auditExportCmd() *cobra.Command {
	var path, sink string
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Ship a range of the journal to a configured sink again (idempotent: what the sink holds is not shipped twice)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			var s *config.Sink
			for i := range cfg.Audit.Sinks {
				if cfg.Audit.Sinks[i].SinkName() == sink {
					s = &cfg.Audit.Sinks[i]
				}
			}
			if s == nil {
				return &exitError{code: 2, err: fmt.Errorf("no sink %q in audit.sinks", sink)}
			}
			ctx := cmd.Context()
			e, err := newExporter(ctx, cfg, s)
			if err != nil {
				return err
			}
			defer e.Close()
			if to == 0 {
				to = math.MaxUint64
			}
			next := max(from, 1)
			for next <= to {
				last, err := e.Export(ctx, next, to)
				if err != nil {
					return fmt.Errorf("sink %s: %w", sink, err)
				}
				if last < next {
					break
				}
				next = last + 1
			}
			if next == max(from, 1) {
				return &exitError{code: 1, err: errors.New("nothing to ship: the journal has no signed records in that range")}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sink %s holds records %d to %d\n", sink, max(from, 1), next-1)
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&sink, "sink", "", "the sink's name (audit.sinks)")
	cmd.Flags().Uint64Var(&from, "from", 1, "the first sequence number to ship")
	cmd.Flags().Uint64Var(&to, "to", 0, "the last sequence number to ship (default: the newest)")
	cmd.MarkFlagRequired("sink")
	return cmd
}

// fetchArchive downloads the copy at u into dir and returns its newest
// signed checkpoint.
func fetchArchive(ctx context.Context, u, dir string) ([]byte, error) {
	st, err := openArchiveURL(ctx, u)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return export.Fetch(ctx, st, dir)
}
