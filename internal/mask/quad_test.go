package mask

import (
	"strings"
	"testing"
	"time"
)

// TestLinearTime guards against inputs that make a detector rescan the
// same bytes for every trigger (quadratic time on adversarial rows).
func TestLinearTime(t *testing.T) {
	e := fuzzEngine(t)
	for _, unit := range []string{
		"eyJa-", "AIza-", "glpat-", "xoxb-", "-----BEGIN PRIVATE KEY-----!", "password='[redacted ", "a@b.", "1.", "1-", "1 ",
		"::", "a:", "+1 ", "Bearer a", "sluice_st_", "EMP-", "#s", "https://a:b", "DE89 ", "4111 ", "sig=", "x=\"", "\\\"", "eyJhbGciOiJub25lIn0.", "a@" + strings.Repeat("b.", 200), "password=\"", "-----BEGIN ",
		"2001:db8:", "AKIA", "ghp_", "[0:1]={", "::ffff:1.2.3.4 ", "PASSWORD '", "password ''",
	} {
		in := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
		start := time.Now()
		e.Text(nil, in, nil)
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("%q repeated to 1 MiB took %v", unit, d)
		}
	}
}
