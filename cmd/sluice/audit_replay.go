package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/replay"
)

func auditReplayCmd() *cobra.Command {
	var path, against string
	var commit bool
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "replay SESSION [--against SANDBOX [--commit]]",
		Short: "Show one session as a timeline, or re-execute it on a sandbox and compare the results",
		Long: "Without --against: print one session as a timeline (each statement, its decision, captured\n" +
			"rows and timings), from the local index and journal (--config), whether or not the gateway runs.\n\n" +
			"With --against SANDBOX: the running gateway (--server, your token in SLUICE_TOKEN) re-executes\n" +
			"the session's forwarded statements, in order, on the connection SANDBOX, which must be marked\n" +
			"sandbox: true, in one transaction that is rolled back unless --commit, and prints per statement\n" +
			"the original result and the sandbox's, and how they differ. The replay is a session of yours in\n" +
			"the journal; you need to be an auditor and to hold a grant on the sandbox (docs/replay.md).\n\n" +
			"Exit codes: 0 replayed (differences are output, not failure), 2 usage error or not a sandbox,\n" +
			"3 no grant, 1 other errors.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if against != "" {
				return replayAgainst(cmd, &f, args[0], against, commit)
			}
			if commit {
				return &exitError{code: exitUsage, err: errors.New("--commit needs --against")}
			}
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			sess, err := st.GetSession(ctx, args[0])
			if err != nil {
				return fmt.Errorf("session %s: %w", args[0], err)
			}
			events, err := audit.SessionEvents(journalDir(cfg), sess)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSON(cmd.OutOrStdout(), events)
			}
			printTimeline(cmd.OutOrStdout(), sess, events)
			return nil
		},
	}
	configFlag(cmd, &path)
	f.add(cmd)
	cmd.Flags().StringVar(&against, "against", "", "re-execute the session on this sandbox connection, through the running gateway")
	cmd.Flags().BoolVar(&commit, "commit", false, "commit the replay's transaction on the sandbox instead of rolling it back")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	return cmd
}

// replayAgainst asks the gateway to replay session on the sandbox against
// and prints its report.
func replayAgainst(cmd *cobra.Command, f *serverFlags, session, against string, commit bool) error {
	c, err := f.clientWith(-1)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var rep replay.Report
	if err := c.Replay(ctx, session, against, commit, &rep); err != nil {
		return callError(err)
	}
	if f.asJSON {
		return writeJSON(cmd.OutOrStdout(), &rep)
	}
	rep.Print(cmd.OutOrStdout())
	return nil
}
