package notify

import (
	"net/url"
	"slices"
	"strings"
)

// redacted replaces a secret in any text sluice produces.
const redacted = "[REDACTED]"

// scrubber removes known secrets from text: the secrets themselves and the
// encodings in which a service might echo them. It is immutable and safe for
// concurrent use.
type scrubber struct {
	r *strings.Replacer
}

func newScrubber(secrets ...string) *scrubber {
	var all []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		all = append(all, s, url.QueryEscape(s), url.PathEscape(s))
	}
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) }) // longest first
	all = slices.Compact(all)
	var pairs []string
	for _, s := range all {
		pairs = append(pairs, s, redacted)
	}
	return &scrubber{r: strings.NewReplacer(pairs...)}
}

// clean returns text with every known secret replaced.
func (s *scrubber) clean(text string) string {
	if s == nil {
		return text
	}
	return s.r.Replace(text)
}
