package main

import (
	"slices"
	"testing"
)

func TestWithSysmonAwake(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		want    []string
		changed bool
	}{
		{"no GODEBUG", []string{"PATH=/bin", "HOME=/root"},
			[]string{"PATH=/bin", "HOME=/root", "GODEBUG=schedtrace=2147483647"}, true},
		{"other settings kept", []string{"GODEBUG=madvdontneed=1,gctrace=0", "PATH=/bin"},
			[]string{"PATH=/bin", "GODEBUG=madvdontneed=1,gctrace=0,schedtrace=2147483647"}, true},
		{"empty GODEBUG", []string{"GODEBUG="}, []string{"GODEBUG=schedtrace=2147483647"}, true},
		{"the runtime reads the first of two", []string{"GODEBUG=gctrace=0", "PATH=/bin", "GODEBUG=schedtrace=0"},
			[]string{"PATH=/bin", "GODEBUG=gctrace=0,schedtrace=2147483647"}, true},
		{"the operator's schedtrace wins", []string{"PATH=/bin", "GODEBUG=gctrace=0,schedtrace=0"},
			[]string{"PATH=/bin", "GODEBUG=gctrace=0,schedtrace=0"}, false},
		{"already awake: no second exec", []string{"GODEBUG=schedtrace=2147483647"},
			[]string{"GODEBUG=schedtrace=2147483647"}, false},
		{"a name that only ends in schedtrace", []string{"GODEBUG=noschedtrace=1"},
			[]string{"GODEBUG=noschedtrace=1,schedtrace=2147483647"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := withSysmonAwake(slices.Clone(tc.env))
			if changed != tc.changed || !slices.Equal(got, tc.want) {
				t.Errorf("withSysmonAwake(%q) = %q, %v; want %q, %v", tc.env, got, changed, tc.want, tc.changed)
			}
		})
	}
}
