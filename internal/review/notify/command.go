package notify

import (
	"regexp"
	"strings"
	"unicode"
)

// maxReason caps a reason taken from a comment.
const maxReason = 500

// reviewIDPattern is what a review id found in a message or ticket must
// look like before it is passed to the Decider.
var reviewIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// titleMarker finds the review id in a title or summary made by title().
var titleMarker = regexp.MustCompile(`^\[sluice ([A-Za-z0-9][A-Za-z0-9._:-]{0,127})\] `)

// reviewFromTitle returns the review id of a title that starts with the
// marker "[sluice <id>] ".
func reviewFromTitle(t string) (string, bool) {
	m := titleMarker.FindStringSubmatch(t)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// parseCommand reads a decision from the first non-blank line of a comment:
// "/approve" or "/deny" (any case), optionally followed by a reason. ok is
// false when that line is not a command; "/approved" is not one.
func parseCommand(text string) (approve bool, reason string, ok bool) {
	text = strings.TrimLeftFunc(text, unicode.IsSpace)
	first, _, _ := strings.Cut(text, "\n")
	first = strings.TrimSpace(first)
	word, rest := first, ""
	if i := strings.IndexFunc(first, unicode.IsSpace); i >= 0 {
		word, rest = first[:i], first[i:]
	}
	switch strings.ToLower(word) {
	case "/approve":
		approve = true
	case "/deny":
	default:
		return false, "", false
	}
	return approve, truncate(line(strings.TrimSpace(rest)), maxReason), true
}
