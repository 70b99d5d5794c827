package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration, tied to its key
// ("connections[1].address"); Key is empty for whole-file problems.
type Problem struct {
	Key     string
	Message string
}

func (p Problem) String() string {
	if p.Key == "" {
		return p.Message
	}
	return p.Key + ": " + p.Message
}

// Problems is every problem found in a configuration. It is an error when
// not empty.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("invalid configuration (%d problems):\n  %s", len(ps), strings.Join(lines, "\n  "))
}

func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// without returns the problems whose key is not in keys.
func (ps Problems) without(keys map[string]bool) Problems {
	var out Problems
	for _, p := range ps {
		if !keys[p.Key] {
			out = append(out, p)
		}
	}
	return out
}
