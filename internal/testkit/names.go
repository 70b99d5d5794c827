package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1.
const maxIdentifierLen = 63

// UniqueName returns a fresh lowercase identifier for a database, role or
// table of this test: the test name with every run of other characters
// turned into "_", cut to fit, plus "_" and 8 random hex digits. It needs
// no quoting and is at most 63 bytes long.
func UniqueName(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	underscore := true // drops leading separators
	for _, r := range strings.ToLower(tb.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			underscore = false
		case !underscore:
			b.WriteByte('_')
			underscore = true
		}
	}
	name := strings.TrimRight(b.String(), "_")
	switch {
	case name == "":
		name = "t"
	case name[0] >= '0' && name[0] <= '9':
		name = "t_" + name
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix) // never fails on supported platforms
	if limit := maxIdentifierLen - 1 - 2*len(suffix); len(name) > limit {
		name = strings.TrimRight(name[:limit], "_")
	}
	return name + "_" + hex.EncodeToString(suffix)
}
