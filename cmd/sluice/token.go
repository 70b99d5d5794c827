package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/spf13/cobra"
)

func tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Issue, list and revoke sluice service tokens"}
	cmd.AddCommand(tokenIssueCmd(), tokenRevokeCmd(), tokenListCmd())
	return cmd
}

func tokenIssueCmd() *cobra.Command {
	var path, subject string
	var groups []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "issue --subject NAME [--group G]... [--ttl 1h]",
		Short: "Mint a service token; prints the token alone on stdout",
		Long: "Mint a service token for an agent without an identity provider. The token is printed\n" +
			"alone on stdout and is not stored anywhere: only its id is, so it can be listed and\n" +
			"revoked. Works whether or not the gateway is running.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			if !cfg.Auth.ServiceTokens {
				return fmt.Errorf("service tokens are disabled: set auth.service_tokens: true in %s", path)
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			ts := serviceTokens(cfg, st)
			if err := ts.Open(ctx); err != nil {
				return err
			}
			tok, rec, err := ts.Issue(ctx, subject, splitList(groups), ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "issued token %s for %s, expires %s\n", rec.ID, rec.Subject, rec.ExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&subject, "subject", "", "the agent's name (required)")
	cmd.Flags().StringSliceVar(&groups, "group", nil, "a group the agent belongs to (repeatable)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid")
	cmd.MarkFlagRequired("subject")
	return cmd
}

func tokenRevokeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a service token: new connections are refused at once, open sessions end within seconds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			if err := serviceTokens(cfg, st).Revoke(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}

func tokenListCmd() *cobra.Command {
	var path string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List service tokens (ids, subjects, expiry; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			toks, err := serviceTokens(cfg, st).List(ctx)
			if err != nil {
				return err
			}
			return printTokens(cmd, toks, asJSON)
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printTokens(cmd *cobra.Command, toks []*sluice.ServiceToken, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		if toks == nil {
			toks = []*sluice.ServiceToken{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(toks)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSUBJECT\tGROUPS\tISSUED\tEXPIRES\tSTATUS")
	now := time.Now()
	for _, t := range toks {
		status := "active"
		switch {
		case !t.RevokedAt.IsZero():
			status = "revoked " + t.RevokedAt.Format(time.RFC3339)
		case now.After(t.ExpiresAt):
			status = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Subject, strings.Join(t.Groups, ","),
			t.IssuedAt.Format(time.RFC3339), t.ExpiresAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}
