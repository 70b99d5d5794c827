// Command sluice is the gateway between AI agents and production systems:
// `sluice serve` runs it; the other subcommands manage its configuration,
// tokens and audit trail. This is the only package that wires components
// together.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "An identity-aware, auditing gateway between AI agents and production systems",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(serveCmd(), configCmd(), tokenCmd(), auditCmd(), reviewsCmd(), policyCmd(), mcpCmd(), connectCmd(), runCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// configFlag adds the --config flag every local command takes.
func configFlag(cmd *cobra.Command, path *string) {
	def := os.Getenv("SLUICE_CONFIG")
	if def == "" {
		def = "sluice.yaml"
	}
	cmd.Flags().StringVarP(path, "config", "c", def, "configuration file (env SLUICE_CONFIG)")
}
