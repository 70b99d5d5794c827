package testkit_test

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testkit"
)

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func TestUniqueName(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{
		"simple",
		"With Spaces/And-Dashes.Dots",
		"123 starts with digit",
		"ÜñíçødÉ",
		strings.Repeat("long", 40),
	} {
		t.Run(sub, func(t *testing.T) {
			a, b := testkit.UniqueName(t), testkit.UniqueName(t)
			for _, n := range []string{a, b} {
				if !identifier.MatchString(n) {
					t.Errorf("UniqueName = %q, not a plain identifier", n)
				}
			}
			if a == b {
				t.Errorf("UniqueName twice = %q", a)
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	// Another process may take a free port before the test binds it (test
	// packages run in parallel), so one of a few ports must be bindable.
	var errs []error
	for range 5 {
		port := testkit.FreePort(t)
		if port <= 0 || port > 65535 {
			t.Fatalf("FreePort returned %d", port)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			l.Close()
			return
		}
		errs = append(errs, err)
	}
	t.Fatalf("no port FreePort returned could be bound: %v", errs)
}
