package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/client"
)

// serverFlags are the flags of the commands that act through a running
// gateway, with the caller's token from SLUICE_TOKEN.
type serverFlags struct {
	server, ca, fingerprint string
	asJSON                  bool
}

func (f *serverFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", os.Getenv("SLUICE_SERVER"), "the gateway's HTTP address, https://host:port (env SLUICE_SERVER)")
	cmd.Flags().StringVar(&f.ca, "ca", os.Getenv("SLUICE_CA"), "CA bundle for the gateway's certificate (env SLUICE_CA)")
	cmd.Flags().StringVar(&f.fingerprint, "fingerprint", os.Getenv("SLUICE_FINGERPRINT"),
		"pin the gateway's certificate by the SHA256 fingerprint `serve` prints (env SLUICE_FINGERPRINT)")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
}

func (f *serverFlags) client() (*client.Client, error) {
	return client.New(client.Options{Server: f.server, Token: os.Getenv("SLUICE_TOKEN"), CAFile: f.ca, Fingerprint: f.fingerprint})
}

func reviewsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "reviews", Short: "List, show, approve and deny held requests (through a running gateway)"}
	var f serverFlags
	var statuses []string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the reviews you may see (pending by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var st []sluice.ReviewStatus
			for _, s := range splitList(statuses) {
				st = append(st, sluice.ReviewStatus(s))
			}
			rs, err := c.Reviews(cmd.Context(), st...)
			if err != nil {
				return err
			}
			if f.asJSON {
				if rs == nil {
					rs = []*sluice.Review{}
				}
				return writeJSON(cmd.OutOrStdout(), rs)
			}
			printReviews(cmd.OutOrStdout(), rs)
			return nil
		},
	}
	f.add(list)
	list.Flags().StringSliceVar(&statuses, "status", []string{"pending"}, "statuses: pending, approved, denied, expired, executed")

	var sf serverFlags
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one review: the statement, its classes, the requester, the votes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			rv, may, err := c.Review(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if sf.asJSON {
				return writeJSON(cmd.OutOrStdout(), rv)
			}
			printReview(cmd.OutOrStdout(), rv, may)
			return nil
		},
	}
	sf.add(show)
	cmd.AddCommand(list, show, decideCmd(true), decideCmd(false))
	return cmd
}

func decideCmd(approve bool) *cobra.Command {
	var f serverFlags
	var reason string
	use, short := "deny ID --reason WHY", "Deny a held request"
	if approve {
		use, short = "approve ID --reason WHY", "Approve a held request (it then runs once)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			rv, err := c.Decide(cmd.Context(), args[0], approve, reason)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSON(cmd.OutOrStdout(), rv)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "review %s is %s (%d of %d approvals)\n", rv.ID, rv.Status, rv.Approvals(), rv.MinApprovals)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	if !approve {
		cmd.MarkFlagRequired("reason")
	}
	return cmd
}

func printReviews(w io.Writer, rs []*sluice.Review) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tREQUESTER\tCONNECTION\tCLASSES\tEST. ROWS\tWAITING\tSTATEMENT")
	for _, r := range rs {
		rows := "?"
		if r.EstimatedRows >= 0 {
			rows = fmt.Sprint(r.EstimatedRows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Request.Subject, r.Request.Connection,
			r.Request.Class.String(), rows, time.Since(r.CreatedAt).Round(time.Second), oneLine(r.Request.Text, 70))
	}
	tw.Flush()
}

func printReview(w io.Writer, r *sluice.Review, may bool) {
	fmt.Fprintf(w, "review %s: %s\n", r.ID, r.Status)
	fmt.Fprintf(w, "requester:  %s (groups %s) on %s, session %s\n", r.Request.Subject, strings.Join(r.Request.Groups, ","), r.Request.Connection, r.Request.SessionID)
	if r.Request.Note != "" {
		fmt.Fprintf(w, "reason:     %s\n", r.Request.Note)
	}
	fmt.Fprintf(w, "rule:       %s of policy %s; needs %d approval(s) from %s\n", r.Rule, r.Policy, r.MinApprovals, strings.Join(r.Approvers, ", "))
	fmt.Fprintf(w, "classes:    %s\n", r.Request.Class.String())
	for _, reason := range r.Reasons {
		fmt.Fprintf(w, "            %s\n", reason)
	}
	if r.EstimatedRows >= 0 {
		fmt.Fprintf(w, "impact:     %s\n", r.Impact)
	}
	fmt.Fprintf(w, "created:    %s; held until %s; an approval is usable until %s\n",
		r.CreatedAt.Local().Format(time.DateTime), r.WaitUntil.Local().Format(time.TimeOnly), r.ValidUntil.Local().Format(time.TimeOnly))
	fmt.Fprintf(w, "statement:\n    %s\n", strings.ReplaceAll(r.Request.Text, "\n", "\n    "))
	if len(r.Request.Params) > 0 {
		fmt.Fprintf(w, "parameters: %s\n", renderValues(r.Request.Params))
	}
	for _, d := range r.Decisions {
		fmt.Fprintf(w, "vote:       %s by %s via %s at %s: %s\n", verbOf(d.Approve), d.By, d.Via, d.At.Local().Format(time.TimeOnly), d.Reason)
	}
	if may && r.Status == sluice.ReviewPending {
		fmt.Fprintf(w, "\nyou may decide: sluice reviews approve %s --reason '...'  |  sluice reviews deny %s --reason '...'\n", r.ID, r.ID)
	}
}

func verbOf(approve bool) string {
	if approve {
		return "approved"
	}
	return "denied"
}
