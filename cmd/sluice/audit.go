package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/journal"
)

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify, prove, search and replay the audit journal"}
	cmd.AddCommand(auditVerifyCmd(), auditCheckpointCmd(), auditKeyCmd(), auditProveCmd(), auditCheckProofCmd(),
		auditSearchCmd(), auditReplayCmd(), auditReindexCmd(), auditExportCmd())
	return cmd
}

func auditVerifyCmd() *cobra.Command {
	var path, kept, key, from string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the journal's hashes and check every signed checkpoint; exit 1 naming the first bad record",
		Long: "Recompute every record's CRC, the hash chain and the Merkle tree, and check each signed\n" +
			"checkpoint. With --checkpoint, also check a checkpoint kept elsewhere (the output of\n" +
			"`sluice audit checkpoint`): that is how removing the newest records is caught. Pin the\n" +
			"journal's published public key with --key for a check that does not trust this machine.\n" +
			"With --from azure://ACCOUNT/CONTAINER/PREFIX or s3://BUCKET/PREFIX, verify an exported\n" +
			"copy instead, without the local journal (see docs/export.md for credentials).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg *config.Config
			var err error
			if from == "" || key == "" {
				if cfg, err = loadOffline(path); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if key == "" {
				if key, err = verifierKey(cfg); err != nil {
					return fmt.Errorf("read the journal's key (or pass --key): %w", err)
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "note: verifying with the key in data_dir; pass --key with the published key for an independent check")
			} else if key, err = readKeyArg(key); err != nil {
				return err
			}
			v, err := journal.NewVerifier(key)
			if err != nil {
				return fmt.Errorf("verifier key: %w", err)
			}
			var opts journal.VerifyOptions
			if kept != "" {
				if opts.KeptCheckpoint, err = os.ReadFile(kept); err != nil {
					return err
				}
			}
			dir := ""
			if from != "" {
				tmp, err := os.MkdirTemp("", "sluice-verify-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				latest, err := fetchArchive(cmd.Context(), from, tmp)
				if err != nil {
					return &exitError{code: 1, err: fmt.Errorf("read the copy at %s: %w", from, err)}
				}
				if opts.KeptCheckpoint == nil {
					opts.KeptCheckpoint = latest
				}
				dir = tmp
				fmt.Fprintf(out, "copy:         %s\n", from)
			} else {
				dir = journalDir(cfg)
			}
			r, verr := journal.Verify(dir, v, opts)
			if r != nil {
				printReport(out, r)
			}
			if verr != nil {
				var ve *journal.VerifyError
				if errors.As(verr, &ve) {
					return &exitError{code: 1, err: fmt.Errorf("journal FAILED verification: %s", ve.Problem)}
				}
				return &exitError{code: 1, err: verr}
			}
			if from != "" {
				fmt.Fprintln(out, "copy OK")
			} else {
				fmt.Fprintln(out, "journal OK")
			}
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&kept, "checkpoint", "", "a signed checkpoint kept elsewhere that the journal must still contain")
	cmd.Flags().StringVar(&key, "key", "", "the journal's public key (or a file holding it)")
	cmd.Flags().StringVar(&from, "from", "", "verify an exported copy: azure://ACCOUNT/CONTAINER/PREFIX or s3://BUCKET/PREFIX")
	return cmd
}

func printReport(w interface{ Write([]byte) (int, error) }, r *journal.Report) {
	fmt.Fprintf(w, "records:      %d (seq %d to %d) in %d segments\n", r.Records, r.First, r.Last, r.Segments)
	fmt.Fprintf(w, "checkpoints:  %d signed, %d checked; newest covers %d records\n", r.Signed, r.Checkpoints, r.LatestCheckpoint)
	if r.Unsigned > 0 {
		fmt.Fprintf(w, "unsigned:     %d records after the newest checkpoint (covered by the hash chain only)\n", r.Unsigned)
	}
	if r.KeptChecked {
		fmt.Fprintln(w, "kept checkpoint: matches")
	}
	if r.TornTail {
		fmt.Fprintln(w, "tail:         the newest segment ends in a torn frame (a crash mid-write); not damage")
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning:     ", warn)
	}
}

// readKeyArg accepts a file holding a verifier key, or the key itself.
func readKeyArg(s string) (string, error) {
	if b, err := os.ReadFile(s); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if _, err := journal.NewVerifier(s); err != nil {
		return "", fmt.Errorf("--key is neither a readable file nor a verifier key: %w", err)
	}
	return s, nil
}

func auditCheckpointCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the newest signed checkpoint, to keep it somewhere the gateway cannot alter",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			cp, err := journal.LatestCheckpoint(journalDir(cfg))
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(cp)
			return err
		},
	}
	configFlag(cmd, &path)
	return cmd
}

func auditKeyCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Print the journal's public (verifier) key, to publish it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			k, err := verifierKey(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}

func auditProveCmd() *cobra.Command {
	var path, cp string
	cmd := &cobra.Command{
		Use:   "prove SEQ",
		Short: "Print an inclusion proof of one record against a signed checkpoint (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || seq == 0 {
				return fmt.Errorf("SEQ must be a record's sequence number, not %q", args[0])
			}
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			var note []byte
			if cp != "" {
				if note, err = os.ReadFile(cp); err != nil {
					return err
				}
			}
			p, err := journal.Prove(journalDir(cfg), seq, note)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVar(&cp, "checkpoint", "", "prove against this signed checkpoint (default: the newest)")
	return cmd
}

func auditCheckProofCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "check-proof PROOF.json --key KEY",
		Short: "Check an inclusion proof with nothing but the journal's public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var p journal.Proof
			if err := json.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("%s is not a proof: %w", args[0], err)
			}
			k, err := readKeyArg(key)
			if err != nil {
				return err
			}
			if err := journal.CheckProof(&p, k); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("proof does NOT check: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "proof OK: record %d is in the journal of %d records signed by %s\n", p.Seq, p.TreeSize, strings.SplitN(k, "+", 2)[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the journal's public key (or a file holding it)")
	cmd.MarkFlagRequired("key")
	return cmd
}

func auditReindexCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index from the journal (stop the gateway first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadOffline(path)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// Opening the journal takes its lock: this fails while the
			// gateway runs, which must not index while the index is rebuilt.
			j, err := openJournal(ctx, cfg, newLogger(cfg.Log, cmd.ErrOrStderr()))
			if err != nil {
				return fmt.Errorf("%w (is the gateway running? stop it first)", err)
			}
			defer j.Close()
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := audit.Reindex(ctx, journalDir(cfg), st, newLogger(cfg.Log, cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "indexed %d journal records\n", n)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
