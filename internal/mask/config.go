package mask

import "fmt"

// Config describes what an Engine masks. The zero value masks nothing.
type Config struct {
	// Sets names detector sets to enable: "pii", "secrets".
	Sets []string
	// Detectors names individual built-in detectors to enable, in
	// addition to Sets.
	Detectors []string
	// Custom adds regular-expression detectors.
	Custom []CustomDetector
	// Columns masks whole columns by name pattern; the first matching
	// rule wins.
	Columns []ColumnRule
	// JSONPaths masks members of JSON documents by path; the first
	// matching rule wins.
	JSONPaths []PathRule
	// Strategy rewrites detector hits: "redact" (the default), "partial",
	// "hash" or "fake".
	Strategy string
	// Key is the HMAC-SHA256 key of the hash and fake strategies. It is
	// required, at least 16 bytes, when any rule or the default uses them.
	Key []byte
}

// CustomDetector is a detector defined in the config.
type CustomDetector struct {
	// Name names the detector in placeholders and counts: lower-case
	// letters, digits and '_', not a built-in detector's name.
	Name string
	// Pattern is a Go (RE2) regular expression; the whole match is masked.
	// It must not match the empty string.
	Pattern string
	// Trigger is a literal every match contains. Text looks for it first
	// and runs the expression only on the line around each occurrence
	// (within 4 KiB of it). Without Trigger, the literal prefix of Pattern
	// is used if it has one; otherwise the expression runs over all of
	// the input, which costs as much as the regexp package does.
	Trigger string
	// Strategy overrides Config.Strategy for this detector's hits.
	Strategy string
}

// ColumnRule masks every value of the columns its pattern matches.
//
// Pattern is "column", "table.column" or "schema.table.column"; each part
// may contain '*' globs ("*.email", "users.*_token", "*.*"). Matching is
// case-insensitive, as PostgreSQL folds unquoted names. A pattern without a
// table part, or with table part "*", matches columns whose table is
// unknown (expressions); a schema part matches any schema when the caller
// does not know it.
type ColumnRule struct {
	Pattern  string
	Strategy string // default "redact"
}

// PathRule masks the members of JSON documents its path selects.
//
// Path is a JSONPath subset: "$" then ".name", "['name']", ".*", "[*]",
// "[3]", and ".." before any of them for recursive descent ("$..email").
// Member names match exactly (JSON is case-sensitive).
type PathRule struct {
	Path     string
	Strategy string // default "redact"
}

// Strategy says how a sensitive value is rewritten.
type Strategy uint8

const (
	// Redact replaces a detector hit with "[redacted:<detector>]" and a
	// value matched by a column or path rule with "[redacted]".
	Redact Strategy = iota
	// Partial keeps the last 4 letters or digits and replaces the others
	// with '*', keeping separators (4111-1111-1111-1111 becomes
	// ****-****-****-1111). At least 4 characters are always masked, so a
	// value of 8 characters or fewer keeps fewer than 4.
	Partial
	// Hash replaces a value with "h:" and the first 12 hex digits of
	// HMAC-SHA256(Key, value): equal values give equal hashes, so joins and
	// group-bys still line up, and nobody without the key can test a guess.
	Hash
	// Fake replaces a value with one of the same kind, derived from
	// HMAC-SHA256(Key, value): an email at example.invalid, a Luhn-valid
	// card of the same length and layout, a phone number in the same
	// format, an SSN in the never-issued 9xx area, an IP in a documentation
	// range, a valid UUID; anything else keeps its length, layout and
	// character classes.
	Fake
)

var strategyNames = [...]string{Redact: "redact", Partial: "partial", Hash: "hash", Fake: "fake"}

// String returns the strategy's config name.
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", s)
}

// ParseStrategy parses a strategy name; "" is Redact.
func ParseStrategy(name string) (Strategy, error) {
	switch name {
	case "", "redact":
		return Redact, nil
	case "partial":
		return Partial, nil
	case "hash":
		return Hash, nil
	case "fake":
		return Fake, nil
	}
	return 0, fmt.Errorf("unknown strategy %q (want redact, partial, hash or fake)", name)
}

// needsKey reports whether s uses Config.Key.
func (s Strategy) needsKey() bool { return s == Hash || s == Fake }
