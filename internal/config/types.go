package config

import (
	"fmt"
	"log/slog"
	"time"

	"gopkg.in/yaml.v3"
)

// Secret is a configuration value that must never be shown: a password, a
// DSN, an API key. Written as a literal, as "${ENV}" (expanded like every
// value) or as "file:/path" (replaced by the file's content, without a
// trailing newline, when the configuration is loaded). Its String, GoString,
// LogValue and MarshalYAML methods never reveal the value.
type Secret struct {
	raw   string // as written, after ${ENV} expansion
	value string // resolved value
}

// NewSecret returns a Secret holding the literal value v.
func NewSecret(v string) Secret { return Secret{raw: v, value: v} }

// Value returns the resolved secret.
func (s Secret) Value() string { return s.value }

// IsZero reports whether no value was configured.
func (s Secret) IsZero() bool { return s.raw == "" }

// String hides the value.
func (s Secret) String() string {
	if s.raw == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return "config.Secret(" + s.String() + ")" }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML hides the value when a configuration is written back out.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML keeps the value as written; Load resolves file: references.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a string", n.Line)
	}
	s.raw, s.value = n.Value, n.Value
	return nil
}

// Duration is a time.Duration written as "30s", "2m" or "1h30m".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 30s, 2m, 1h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// StringList is a list of strings that may also be written as one string.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	return fmt.Errorf("line %d: expected a string or a list of strings", n.Line)
}
