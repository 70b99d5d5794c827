package policy

import (
	"slices"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/mask"
)

// compileMask builds a policy's masking engine: the detector sets and
// detectors it names, plus the gateway-wide column rules, JSON paths and
// custom detectors.
func compileMask(mc config.Masking, names []string) (*mask.Engine, error) {
	return mask.New(maskConfig(mc, names))
}

func maskConfig(mc config.Masking, names []string) mask.Config {
	c := mask.Config{Strategy: mc.Strategy, Key: []byte(mc.Key.Value())}
	for _, n := range names {
		if slices.Contains(mask.Sets(), n) {
			c.Sets = append(c.Sets, n)
		} else {
			c.Detectors = append(c.Detectors, n)
		}
	}
	for _, r := range mc.Rules {
		for _, col := range r.Columns {
			c.Columns = append(c.Columns, mask.ColumnRule{Pattern: col, Strategy: r.Strategy})
		}
	}
	for _, r := range mc.JSONPaths {
		for _, p := range r.Paths {
			c.JSONPaths = append(c.JSONPaths, mask.PathRule{Path: p, Strategy: r.Strategy})
		}
	}
	for _, d := range mc.Detectors {
		c.Custom = append(c.Custom, mask.CustomDetector{Name: d.Name, Pattern: d.Pattern, Trigger: d.Trigger, Strategy: d.Strategy})
	}
	return c
}

// StatementMask builds the engine that masks secrets in the audit trail's
// copy of every statement and its parameters, whatever the policy: the
// `secrets` set plus the custom detectors.
func StatementMask(mc config.Masking) (*mask.Engine, error) {
	c := maskConfig(mc, []string{"secrets"})
	c.Columns, c.JSONPaths = nil, nil
	return mask.New(c)
}
