package httpclass

import (
	"slices"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		path      string
		segs      []string // as matched
		split     []string // with %2F, %5C and \ read as /
		ambiguous bool
		problem   string
	}{
		{path: "", segs: nil},
		{path: "/", segs: nil},
		{path: "//", segs: nil},
		{path: "/a/b", segs: []string{"a", "b"}},
		{path: "/a/b/", segs: []string{"a", "b"}},
		{path: "//a///b//", segs: []string{"a", "b"}},
		{path: "/a/./b/.", segs: []string{"a", "b"}},
		{path: "/a/../b", segs: []string{"b"}},
		{path: "/a/b/..", segs: []string{"a"}},
		{path: "/a/..", segs: nil},
		{path: "/a/%2e%2E/b", segs: []string{"b"}},
		{path: "/a/%2E/b", segs: []string{"a", "b"}},
		{path: "/a%20b/c+d", segs: []string{"a b", "c+d"}},
		{path: "/%252F", segs: []string{"%2F"}}, // decoded once
		{path: "/bucket/a%2Fb", segs: []string{"bucket", "a/b"}, split: []string{"bucket", "a", "b"}, ambiguous: true},
		{path: "/a%2f..%2fb", segs: []string{"a/../b"}, split: []string{"b"}, ambiguous: true},
		{path: `/a\b`, segs: []string{`a\b`}, split: []string{"a", "b"}, ambiguous: true},
		{path: "/a%5Cb", segs: []string{`a\b`}, split: []string{"a", "b"}, ambiguous: true},
		{path: "/%2F", segs: []string{"/"}, split: nil, ambiguous: true},
		{path: "/..", problem: problemClimbs},
		{path: "/a/../..", problem: problemClimbs},
		{path: "/%2e%2e", problem: problemClimbs},
		{path: "/a%", problem: problemEscape},
		{path: "/a%zz", problem: problemEscape},
		{path: "a/b", problem: problemNoSlash},
		{path: "*", problem: problemNoSlash},
	}
	for _, tt := range tests {
		segs, ambiguous, problem := cleanPath(tt.path, false, nil)
		if problem != tt.problem || ambiguous != tt.ambiguous || !slices.Equal(segs, tt.segs) {
			t.Errorf("cleanPath(%q) = %q, %v, %q; want %q, %v, %q", tt.path, segs, ambiguous, problem, tt.segs, tt.ambiguous, tt.problem)
		}
		if !tt.ambiguous || tt.problem != "" {
			continue
		}
		split, _, problem := cleanPath(tt.path, true, nil)
		if problem != "" || !slices.Equal(split, tt.split) {
			t.Errorf("cleanPath(%q, split) = %q, %q; want %q", tt.path, split, problem, tt.split)
		}
	}
}

func TestNormHost(t *testing.T) {
	tests := map[string]string{
		"":                               "",
		"management.azure.com":           "management.azure.com",
		"Management.Azure.COM:443":       "management.azure.com",
		"bucket.s3.amazonaws.com.":       "bucket.s3.amazonaws.com",
		"[::1]:8443":                     "::1",
		"[::1]":                          "::1",
		"::1":                            "::1",
		"kube.internal:6443":             "kube.internal",
		"10.0.0.1:6443":                  "10.0.0.1",
		"evidence.blob.core.windows.net": "evidence.blob.core.windows.net",
	}
	for in, want := range tests {
		if got := normHost(in); got != want {
			t.Errorf("normHost(%q) = %q, want %q", in, got, want)
		}
	}
}
