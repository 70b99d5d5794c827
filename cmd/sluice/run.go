package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/client"
)

// Exit codes of `sluice run` (docs/run.md).
const (
	exitUsage   = 2 // bad flags, an unreadable script, a call the gateway refused as invalid
	exitDenied  = 3 // the policy or an approver denied the script, or no grant
	exitTimeout = 4 // still pending when --wait ran out, or the review expired
	exitFailed  = 5 // a statement failed (or the database was unreachable) while running
)

// longPoll is how long one status call waits for a decision.
const longPoll = 50 * time.Second

func runCmd() *cobra.Command {
	var (
		f                        serverFlags
		conn, file, reason, rvID string
		wait                     time.Duration
		noWait                   bool
	)
	cmd := &cobra.Command{
		Use:   "run --connection C --file script.sql",
		Short: "Run a SQL script through the gateway, with an approval when the policy asks for one (CI/CD)",
		Long: "Submit a script as one unit: the gateway classifies every statement and decides with your\n" +
			"policy. A script whose statements are all allowed runs at once; one that needs approval opens\n" +
			"one review (announced in the configured trackers) and this command waits for it, then the\n" +
			"gateway runs the script statement by statement, each journaled and bound to the approval.\n" +
			"Your token is SLUICE_TOKEN; the gateway is --server or SLUICE_SERVER.\n\n" +
			"Exit codes: 0 ran (or, with --no-wait, submitted: the review id is printed), 2 usage or\n" +
			"configuration error, 3 denied, 4 timed out or expired, 5 failed while running, 1 other errors.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rvID == "" && (conn == "" || file == "") {
				return &exitError{code: exitUsage, err: errors.New("pass --connection and --file (or --review ID to pick up a submitted script)")}
			}
			var text string
			if file != "" {
				b, err := readScript(cmd.InOrStdin(), file)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				text = string(b)
			}
			c, err := f.clientWith(-1)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r := &runner{c: c, out: cmd.OutOrStdout(), log: cmd.ErrOrStderr(), json: f.asJSON, script: text,
				deadline: time.Now().Add(wait), noWait: noWait, announced: map[string]bool{}}
			return r.run(ctx, conn, reason, rvID)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&conn, "connection", "", "the connection to run the script on")
	fl.StringVarP(&file, "file", "f", "", "the script (- for stdin)")
	fl.StringVar(&reason, "reason", "", "why, for approvers (shown in the review and its ticket)")
	fl.DurationVar(&wait, "wait", 30*time.Minute, "how long to wait for approval")
	fl.BoolVar(&noWait, "no-wait", false, "submit and print the review id instead of waiting (pick it up with --review)")
	fl.StringVar(&rvID, "review", "", "pick up a submitted script by its review id: wait for it and run it")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	return cmd
}

// readScript reads the script file, or stdin for "-".
func readScript(stdin io.Reader, file string) ([]byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read the script: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, fmt.Errorf("the script %s is empty", file)
	}
	return b, nil
}

// runner is one `sluice run`: it submits or picks up a script, waits for
// its review, has it run, and prints what happened.
type runner struct {
	c         *client.Client
	out, log  io.Writer
	json      bool
	script    string // "" with --review and no --file
	deadline  time.Time
	noWait    bool
	told      bool            // what the review waits for was said
	announced map[string]bool // notifiers whose announcement was said
}

func (r *runner) run(ctx context.Context, conn, reason, id string) error {
	var run *sluice.Run
	var err error
	if id == "" {
		if run, err = r.c.SubmitRun(ctx, conn, r.script, reason); err != nil {
			return callError(err)
		}
		r.plan(run)
	} else if run, err = r.c.Run(ctx, id, 0); err != nil {
		return callError(err)
	}
	for {
		r.tickets(run)
		switch run.Status {
		case sluice.RunSucceeded:
			return r.finish(run, nil)
		case sluice.RunFailed:
			return r.finish(run, &exitError{code: exitFailed, err: errors.New(run.Error)})
		case sluice.RunDenied, sluice.RunExecuted:
			return r.finish(run, &exitError{code: exitDenied, err: errors.New(withDetail(run))})
		case sluice.RunExpired:
			return r.finish(run, &exitError{code: exitTimeout, err: errors.New(run.Error)})
		case sluice.RunApproved:
			fmt.Fprintf(r.log, "review %s is approved; running the script\n", run.ID)
			if run, err = r.c.ExecuteRun(ctx, run.ID, r.script); err != nil {
				return callError(err)
			}
		case sluice.RunPending:
			if run.Error != "" {
				fmt.Fprintln(r.log, run.Error)
			}
			r.pending(run)
			if r.noWait {
				if r.json {
					return writeJSON(r.out, run)
				}
				fmt.Fprintln(r.out, run.ID)
				return nil
			}
			if run, err = r.await(ctx, run); err != nil {
				return err
			}
		default:
			return fmt.Errorf("the gateway answered with an unknown run status %q", run.Status)
		}
	}
}

// await waits, with long polls, until the run's review is no longer
// pending or the deadline passes. Calls that fail on the way (the gateway
// restarting) are retried with backoff.
func (r *runner) await(ctx context.Context, run *sluice.Run) (*sluice.Run, error) {
	backoff := time.Second
	// The first poll is short: the announcements in the trackers arrive
	// within seconds, and the log should say where to approve.
	poll := 5 * time.Second
	for {
		left := time.Until(r.deadline)
		if left <= 0 {
			msg := fmt.Sprintf("review %s is still pending; pick the script up later with: sluice run --review %s", run.ID, run.ID)
			return nil, r.finish(run, &exitError{code: exitTimeout, err: errors.New(msg)})
		}
		next, err := r.c.Run(ctx, run.ID, min(left, poll))
		poll = longPoll
		var ce *client.Error
		switch {
		case err == nil:
			if next.Status != sluice.RunPending {
				return next, nil
			}
			r.tickets(next)
			backoff = time.Second
			continue
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &ce) && ce.Status < 500:
			return nil, callError(err)
		}
		fmt.Fprintf(r.log, "waiting for review %s: %v; trying again in %s\n", run.ID, err, backoff)
		t := time.NewTimer(min(backoff, time.Until(r.deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// plan prints how the gateway classified and decided the submitted script.
func (r *runner) plan(run *sluice.Run) {
	if r.json {
		return
	}
	fmt.Fprintf(r.log, "script on %s: %d statement(s), classes %s\n", run.Connection, len(run.Statements), run.Class)
	tw := tabwriter.NewWriter(r.log, 0, 4, 2, ' ', 0)
	for i, st := range run.Statements {
		fmt.Fprintf(tw, "  #%d\t%s\t[%s]\t%s\t%s\n", i+1, st.Kind, st.Class, st.Decision, oneLine(st.Text, 60))
	}
	tw.Flush()
}

// pending says, once, what a pending run waits for.
func (r *runner) pending(run *sluice.Run) {
	rv := run.Review
	if rv == nil {
		return
	}
	if !r.told {
		r.told = true
		fmt.Fprintf(r.log, "review %s: needs %d approval(s) from %s (%s of policy %s)\n",
			rv.ID, max(rv.MinApprovals, 1), strings.Join(rv.Approvers, ", "), rv.Rule, rv.Policy)
		if rv.Impact != "" {
			fmt.Fprintf(r.log, "impact: %s\n", rv.Impact)
		}
		if !r.noWait {
			fmt.Fprintf(r.log, "waiting for approval until %s (approvers: sluice reviews approve %s --reason '...')\n",
				r.deadline.Local().Format(time.TimeOnly), rv.ID)
		}
	}
}

// tickets says, once each, where the run's review was announced.
func (r *runner) tickets(run *sluice.Run) {
	rv := run.Review
	if rv == nil {
		return
	}
	names := make([]string, 0, len(rv.Tickets))
	for n := range rv.Tickets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !r.announced[n] {
			r.announced[n] = true
			fmt.Fprintf(r.log, "announced on %s: %s\n", n, rv.Tickets[n])
		}
	}
}

// finish prints the run's outcome and returns err.
func (r *runner) finish(run *sluice.Run, err error) error {
	if r.json {
		if werr := writeJSON(r.out, run); werr != nil {
			return werr
		}
		return err
	}
	if run.Statements != nil && (run.Status == sluice.RunSucceeded || run.Status == sluice.RunFailed) {
		printRunResults(r.out, run)
	}
	if err == nil {
		fmt.Fprintf(r.log, "script ran on %s: %d statement(s) (session %s)\n", run.Connection, len(run.Statements), run.Session)
	}
	return err
}

// printRunResults prints each statement's outcome, with the rows of those
// that returned some.
func printRunResults(w io.Writer, run *sluice.Run) {
	for i, st := range run.Statements {
		res := st.Result
		if res == nil {
			fmt.Fprintf(w, "#%d %s\n   not run\n", i+1, oneLine(st.Text, 100))
			continue
		}
		status := res.Tag
		if res.Error != "" {
			status = "ERROR " + res.Error
		}
		fmt.Fprintf(w, "#%d %s\n   %s (%s)\n", i+1, oneLine(st.Text, 100), status, res.Duration.Round(time.Millisecond))
		if len(res.Columns) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "   %s\n", strings.Join(res.Columns, "\t"))
		for _, row := range res.Values {
			cells := make([]string, len(row))
			for j, v := range row {
				if v == nil {
					cells[j] = "NULL"
				} else {
					cells[j] = oneLine(*v, 60)
				}
			}
			fmt.Fprintf(tw, "   %s\n", strings.Join(cells, "\t"))
		}
		tw.Flush()
		if res.Truncated {
			fmt.Fprintf(w, "   (%d rows shown of %d)\n", len(res.Values), res.Rows)
		} else {
			fmt.Fprintf(w, "   (%d rows)\n", len(res.Values))
		}
	}
}

// withDetail is a denial with the gateway's detail and hint.
func withDetail(run *sluice.Run) string {
	msg := run.Error
	if run.Detail != "" {
		msg += "\n  " + run.Detail
	}
	if run.Hint != "" {
		msg += "\n  " + run.Hint
	}
	return msg
}

// clientWith is the admin API client with the given timeout per call
// (negative: none but the context's).
func (f *serverFlags) clientWith(timeout time.Duration) (*client.Client, error) {
	return client.New(client.Options{Server: f.server, Token: os.Getenv("SLUICE_TOKEN"), CAFile: f.ca,
		Fingerprint: f.fingerprint, Timeout: timeout})
}

// callError maps an admin API error to the exit codes of `sluice run` and
// `sluice audit replay --against`.
func callError(err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case sluice.EForbidden:
		return &exitError{code: exitDenied, err: err}
	case sluice.EUnauthenticated, sluice.EInvalid, sluice.ENotFound, sluice.ETooLarge, sluice.EConflict:
		return &exitError{code: exitUsage, err: err}
	}
	return err
}
