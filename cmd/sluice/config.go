package main

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/spf13/cobra"
)

func configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	var path string
	check := &cobra.Command{
		Use:   "check",
		Short: "Report every problem in the configuration, with its key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			if _, err := compilePolicies(path, cfg); err != nil {
				return err
			}
			h, err := compileHTTP(path, cfg)
			if err != nil {
				return err
			}
			h.close()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d connections, %d policies, %d OIDC issuers, service tokens %s)\n",
				path, len(cfg.Connections), len(cfg.Policies), len(cfg.Auth.OIDC), onOff(cfg.Auth.ServiceTokens))
			return nil
		},
	}
	configFlag(check, &path)
	cmd.AddCommand(check)
	return cmd
}

// loadConfig loads and validates a configuration. Problems are printed one
// per line and turned into exit code 2.
func loadConfig(path string) (*config.Config, error) { return reportProblems(path, config.Load) }

// loadOffline loads a configuration for commands that never reach a target,
// which need not resolve the targets' credentials.
func loadOffline(path string) (*config.Config, error) {
	return reportProblems(path, config.LoadOffline)
}

func reportProblems(path string, load func(string) (*config.Config, error)) (*config.Config, error) {
	cfg, err := load(path)
	var ps config.Problems
	if errors.As(err, &ps) {
		msg := fmt.Sprintf("%s: %d problem(s):", path, len(ps))
		for _, p := range ps {
			msg += "\n  " + p.String()
		}
		return nil, &exitError{code: 2, err: errors.New(msg)}
	}
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// compilePolicies compiles the policies' rules, reporting bad conditions
// like other configuration problems (exit code 2, with their keys).
func compilePolicies(path string, cfg *config.Config) (*policy.Engine, error) {
	eng, err := policy.New(cfg.Policies, cfg.Masking)
	if err == nil {
		_, err = policy.StatementMask(cfg.Masking)
		if err != nil {
			err = config.Problems{{Key: "masking", Message: err.Error()}}
		}
	}
	if err != nil {
		_, perr := reportProblems(path, func(string) (*config.Config, error) { return nil, err })
		return nil, perr
	}
	return eng, nil
}
