package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/sqlclass"
)

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Try the policies on a statement"}
	var path, subject, conn, client string
	var groups []string
	var asJSON bool
	test := &cobra.Command{
		Use:   `test --subject S [--group G]... --connection C "SQL"`,
		Short: "Print the decision, the rule and the classes for a statement, without running anything",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			eng, err := policy.New(cfg.Policies, cfg.Masking)
			if err != nil {
				return err
			}
			addr, err := netip.ParseAddr(client)
			if err != nil {
				return fmt.Errorf("--client: %w", err)
			}
			id := &sluice.Identity{Subject: subject, Groups: splitList(groups)}
			a := sqlclass.Classify(args[0])
			in := &policy.Input{Kind: sluice.KindSQL, Text: args[0], Class: a.Class, Tables: a.Tables, Functions: a.Functions,
				Settings: a.Settings, WhereMissing: a.WhereMissing, Statements: len(a.Statements), Identity: id,
				Connection: conn, ClientAddr: addr}
			for _, st := range a.Statements {
				in.Kinds = append(in.Kinds, st.Kind)
			}
			p := eng.Grant(id, conn, addr)
			d := sluice.Decision{Action: sluice.ActionDeny, Rule: "no grant",
				Message: fmt.Sprintf("no policy grants %q connection %q from %s", subject, conn, addr)}
			if p != nil {
				d = eng.Decide(p, in)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{"decision": d, "class": a.Class.Names(), "tables": a.Tables,
					"functions": a.Functions, "where_missing": a.WhereMissing, "statements": a.Statements, "read_only_upstream": p != nil && p.ReadOnly})
			}
			fmt.Fprintf(out, "decision:   %s\n", d.Action)
			if p != nil {
				fmt.Fprintf(out, "rule:       %s of policy %q\n", d.Rule, d.Policy)
			} else {
				fmt.Fprintf(out, "rule:       %s\n", d.Rule)
			}
			if d.Message != "" {
				fmt.Fprintf(out, "message:    %s\n", d.Message)
			}
			if d.Action == sluice.ActionReview {
				fmt.Fprintf(out, "approvers:  %s (%d needed), held up to %s\n", strings.Join(d.Approvers, ", "), d.MinApprovals, d.Wait)
			}
			fmt.Fprintf(out, "classes:    %s\n", a.Class.String())
			if len(a.Tables) > 0 {
				fmt.Fprintf(out, "tables:     %s\n", strings.Join(a.Tables, ", "))
			}
			if len(a.Functions) > 0 {
				fmt.Fprintf(out, "functions:  %s\n", strings.Join(a.Functions, ", "))
			}
			for _, st := range a.Statements {
				fmt.Fprintf(out, "statement:  %s [%s] %s\n", st.Kind, st.Class.String(), oneLine(st.Text, 60))
				for _, r := range st.Reasons {
					fmt.Fprintf(out, "            - %s\n", r)
				}
			}
			if a.Err != nil {
				fmt.Fprintf(out, "parse error: %v\n", a.Err)
			}
			return nil
		},
	}
	configFlag(test, &path)
	test.Flags().StringVar(&subject, "subject", "", "the requester's subject")
	test.Flags().StringSliceVar(&groups, "group", nil, "a group of the requester (repeatable)")
	test.Flags().StringVar(&conn, "connection", "", "the connection name")
	test.Flags().StringVar(&client, "client", "127.0.0.1", "the client address")
	test.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	test.MarkFlagRequired("subject")
	test.MarkFlagRequired("connection")
	cmd.AddCommand(test)
	return cmd
}
