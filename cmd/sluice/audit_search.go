package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

func auditSearchCmd() *cobra.Command {
	var (
		path, since, until, class, decision string
		f                                   store.StatementFilter
		asJSON                              bool
	)
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Find statements in the audit index (works while the gateway runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			now := time.Now()
			if f.Since, err = parseWhen(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if f.Until, err = parseWhen(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			for _, name := range splitList([]string{class}) {
				c, ok := sluice.ParseClass(name)
				if !ok {
					return fmt.Errorf("--class: unknown class %q (read, write, ddl, destructive, privileged, unknown)", name)
				}
				f.Class |= c
			}
			if decision != "" {
				f.Decision = sluice.Action(decision)
				if f.Decision != sluice.ActionAllow && f.Decision != sluice.ActionDeny && f.Decision != sluice.ActionReview {
					return fmt.Errorf("--decision must be allow, deny or review")
				}
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			stmts, err := st.SearchStatements(ctx, f)
			if err != nil {
				return err
			}
			if asJSON {
				if stmts == nil {
					stmts = []*sluice.StatementRecord{}
				}
				return writeJSON(cmd.OutOrStdout(), stmts)
			}
			printStatements(cmd.OutOrStdout(), stmts)
			return nil
		},
	}
	configFlag(cmd, &path)
	fl := cmd.Flags()
	fl.StringVar(&f.Subject, "subject", "", "who sent it")
	fl.StringVar(&f.Group, "group", "", "one of the sender's groups")
	fl.StringVar(&f.Connection, "connection", "", "connection name")
	fl.StringVar(&f.Session, "session", "", "session id")
	fl.StringVar(&since, "since", "", "from this time (RFC 3339, or a duration ago like 24h)")
	fl.StringVar(&until, "until", "", "before this time (RFC 3339, or a duration ago)")
	fl.StringVar(&f.Text, "text", "", "part of the statement text (case-insensitive)")
	fl.StringVar(&class, "class", "", "statement classes, comma-separated (any matches)")
	fl.StringVar(&decision, "decision", "", "allow, deny or review")
	fl.StringVar(&f.Error, "error", "", `part of the error, or "*" for any error`)
	fl.StringVar(&f.ReviewID, "review", "", "review id")
	fl.IntVar(&f.Limit, "limit", 100, "at most this many statements")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// parseWhen parses an RFC 3339 time or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", s)
	}
	return t, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatements(w io.Writer, stmts []*sluice.StatementRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSUBJECT\tCONNECTION\tDECISION\tSTATUS\tROWS\tDURATION\tSEQ\tSTATEMENT")
	for _, s := range stmts {
		status := s.Status
		if s.Error != "" {
			status += " " + oneLine(s.Error, 40)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", s.StartedAt.Local().Format("2006-01-02 15:04:05"),
			s.Subject, s.Connection, s.Decision, status, s.Rows, s.Duration.Round(time.Microsecond), s.RequestSeq, oneLine(s.Text, 80))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d statements\n", len(stmts))
}

// oneLine squeezes whitespace and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func printTimeline(w io.Writer, s *sluice.Session, events []*sluice.Event) {
	end := "still open"
	if !s.EndedAt.IsZero() {
		end = fmt.Sprintf("ended %s (%s) after %s", s.EndedAt.Local().Format("15:04:05"), s.EndReason, s.EndedAt.Sub(s.StartedAt).Round(time.Millisecond))
	}
	fmt.Fprintf(w, "session %s\n  %s (groups %s, %s) on %s from %s via %s\n  started %s, %s\n\n", s.ID,
		s.Identity.Subject, strings.Join(s.Identity.Groups, ","), s.Identity.Method, s.Connection, s.ClientAddr, s.Protocol,
		s.StartedAt.Local().Format("2006-01-02 15:04:05"), end)
	for _, ev := range events {
		at := fmt.Sprintf("+%8.3fs  #%d", ev.Time.Sub(s.StartedAt).Seconds(), ev.Seq)
		switch ev.Type {
		case sluice.EventRequest:
			d := ev.Decision
			rule := d.Policy + "/" + d.Rule
			fmt.Fprintf(w, "%s  %s %-6s [%s] %s\n", at, ev.Request.Class.String(), d.Action, rule, oneLine(ev.Request.Text, 100))
			if len(ev.Request.Params) > 0 {
				fmt.Fprintf(w, "%s  params %s\n", strings.Repeat(" ", len(at)), renderValues(ev.Request.Params))
			}
			if d.Action == sluice.ActionDeny {
				fmt.Fprintf(w, "%s  denied: %s\n", strings.Repeat(" ", len(at)), d.Message)
			}
		case sluice.EventResult:
			r := ev.Result
			line := fmt.Sprintf("%s, %d rows, %s", r.Status, r.Rows, r.Duration.Round(time.Microsecond))
			if r.Tag != "" {
				line += ", " + r.Tag
			}
			if r.Error != "" {
				line += ", " + r.Error
			}
			fmt.Fprintf(w, "%s  → %s\n", at, line)
			if c := r.Capture; c != nil && len(c.Rows) > 0 {
				printCapture(w, strings.Repeat(" ", len(at)+4), c)
			}
		case sluice.EventSessionEnd:
			fmt.Fprintf(w, "%s  session end: %s\n", at, ev.Reason)
		case sluice.EventSessionStart:
			fmt.Fprintf(w, "%s  session start\n", at)
		default:
			fmt.Fprintf(w, "%s  %s %s\n", at, ev.Type, ev.Reason)
		}
	}
}

func renderValues(vs []*string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		if v == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = fmt.Sprintf("%q", oneLine(*v, 40))
		}
	}
	return strings.Join(parts, ", ")
}

func printCapture(w io.Writer, indent string, c *sluice.Capture) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	names := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		names[i] = col.Name
	}
	fmt.Fprintf(tw, "%s%s\n", indent, strings.Join(names, "\t"))
	for _, row := range c.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			if v == nil {
				cells[i] = "NULL"
			} else {
				cells[i] = oneLine(*v, 40)
			}
		}
		fmt.Fprintf(tw, "%s%s\n", indent, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if c.Truncated {
		fmt.Fprintf(w, "%s… (more rows than were captured)\n", indent)
	}
}
