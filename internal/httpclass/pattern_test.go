package httpclass

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

func TestNewErrors(t *testing.T) {
	ok := Pattern{Name: "ok", Path: "/x", Class: read}
	tests := []struct {
		p    Pattern
		want string
	}{
		{Pattern{Path: "/x", Class: read}, "no name"},
		{Pattern{Name: "p", Path: "/x"}, "no class"},
		{Pattern{Name: "p", Path: "/x", Class: 1 << 10}, "undefined bits"},
		{Pattern{Name: "p", Methods: []string{"get"}, Path: "/x", Class: read}, `unknown method "get"`},
		{Pattern{Name: "p", Methods: []string{"GET", "FETCH"}, Path: "/x", Class: read}, `unknown method "FETCH"`},
		{Pattern{Name: "p", Path: "", Class: read}, `path "": must start with /`},
		{Pattern{Name: "p", Path: "v1/messages", Class: read}, "must start with /"},
		{Pattern{Name: "p", Path: "/a//b", Class: read}, "empty segment"},
		{Pattern{Name: "p", Path: "/a/b*", Class: read}, `segment "b*": * and ** must be whole segments`},
		{Pattern{Name: "p", Path: "/a/***", Class: read}, "whole segments"},
		{Pattern{Name: "p", Path: "/a/../b", Class: read}, "dot segments"},
		{Pattern{Name: "p", Path: "/a/%2e", Class: read}, "dot segments"},
		{Pattern{Name: "p", Path: "/a/%zz", Class: read}, "invalid URL escape"},
		{Pattern{Name: "p", Path: "/x", Query: "=x", Class: read}, "names no parameter"},
		{Pattern{Name: "p", Path: "/x", Query: "a&&b", Class: read}, "names no parameter"},
		{Pattern{Name: "p", Path: "/x", Query: "!a=b", Class: read}, "takes no value"},
		{Pattern{Name: "p", Path: "/x", Host: "[a", Class: read}, "bad glob"},
		{Pattern{Name: "p", Path: "/x", Host: "!", Class: read}, "empty glob"},
		{Pattern{Name: "p", Path: "/x", Host: "a/b", Class: read}, "no /"},
	}
	for _, tt := range tests {
		_, err := New([]Pattern{ok, ok, tt.p})
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Errorf("%+v: err = %v, want a *PatternError", tt.p, err)
			continue
		}
		if pe.Index != 2 || !strings.HasPrefix(err.Error(), "pattern 2 (") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %q (index %d), want pattern 2 and %q", tt.p, err, pe.Index, tt.want)
		}
	}
}

func TestNewAccepts(t *testing.T) {
	ps := []Pattern{
		{Name: "root", Path: "/", Class: read},
		{Name: "trailing", Path: "/a/b/", Class: read},
		{Name: "all", Path: "/**", Class: read},
		{Name: "anymid", Path: "/**/x/**/**/y", Class: read},
		{Name: "escaped", Path: "/a%20b", Class: read},
		{Name: "methods", Methods: []string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"}, Path: "/x", Class: read},
		{Name: "query", Path: "/x", Query: "a&b=c&!d", Class: read},
		{Name: "host", Path: "/x", Host: "!*.Example.COM", Class: read},
		{Name: "allclasses", Path: "/x", Class: allClasses},
	}
	if _, err := New(ps); err != nil {
		t.Fatal(err)
	}
	if c, err := New(nil); err != nil || c == nil {
		t.Fatalf("New(nil) = %v, %v", c, err)
	}
}

func TestMatchSegments(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/", "/", true},
		{"/", "/a", false},
		{"/*", "/", false},
		{"/*", "/a", true},
		{"/*", "/a/b", false},
		{"/**", "/", true},
		{"/**", "/a/b/c", true},
		{"/a/**", "/a", true},
		{"/a/**", "/b", false},
		{"/a/**/b", "/a/b", true},
		{"/a/**/b", "/a/x/y/b", true},
		{"/a/**/b", "/a/x/y/b/c", false},
		{"/a/**/b", "/a/b/b/b", true},
		{"/**/b/*", "/b/b/b", true},
		{"/**/b/*", "/x/b", false},
		{"/**/x/**/y", "/x/y", true},
		{"/**/x/**/y", "/a/x/b/x/c/y", true},
		{"/**/x/**/y", "/a/y/x", false},
		{"/*/*/**", "/a", false},
		{"/*/*/**", "/a/b", true},
		{"/Subscriptions/*", "/subscriptions/x", true},
		{"/subscriptions/*", "/SUBSCRIPTIONS/x", true},
		{"/a%20b", "/a b", true},
		{"/k", "/\u212a", false}, // the Kelvin sign folds to k only in Unicode
		{"/s", "/\u017f", false}, // so does the long s
	}
	for _, tt := range tests {
		segs, err := compilePath(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		path, _, problem := cleanPath(tt.path, false, nil)
		if problem != "" {
			t.Fatal(problem)
		}
		if got := matchSegments(segs, path); got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestQueryHolds(t *testing.T) {
	tests := []struct {
		cond, query string
		want        bool
	}{
		{"delete", "delete", true},
		{"delete", "delete=", true},
		{"delete", "delete=x", true},
		{"delete", "a=1&delete", true},
		{"delete", "DELETE", true},
		{"delete", "%64elete", true},
		{"delete", "deleted", false},
		{"delete", "x=delete", false},
		{"delete", "", false},
		{"delete", "de%zzlete", false},
		{"restype=container", "restype=container", true},
		{"restype=container", "restype=Container&comp=list", true},
		{"restype=container", "restype=share", false},
		{"restype=container", "restype", false},
		{"restype=container", "restype=share&restype=container", true},
		{"a b=c d", "a+b=c%20d", true},
		{"!tagging&!uploadId", "versionId=1", true},
		{"!tagging&!uploadId", "versionId=1&uploadId=2", false},
		{"!tagging&!uploadId", "Tagging", false},
		{"comp=batch&restype=container", "restype=container&comp=batch", true},
		{"comp=batch&restype=container", "comp=batch", false},
	}
	for _, tt := range tests {
		conds, err := compileQuery(tt.cond)
		if err != nil {
			t.Fatal(err)
		}
		if got := queryHolds(tt.query, conds); got != tt.want {
			t.Errorf("%q on ?%s = %v, want %v", tt.cond, tt.query, got, tt.want)
		}
	}
}

func TestHostGlobs(t *testing.T) {
	tests := []struct {
		glob, host string
		want       bool
	}{
		{"*.blob.core.*", "acct.blob.core.windows.net", true},
		{"*.blob.core.*", "ACCT.Blob.Core.Windows.Net:443", true},
		{"*.blob.core.*", "acct.blob.core.windows.net.", true},
		{"*.blob.core.*", "acct.file.core.windows.net", false},
		{"*.blob.core.*", "blob.core.windows.net", false},
		{s3VirtualHost, "bucket.s3.amazonaws.com", true},
		{s3VirtualHost, "bucket.s3.eu-west-1.amazonaws.com", true},
		{s3VirtualHost, "bucket.s3-eu-west-1.amazonaws.com", true},
		{s3VirtualHost, "bucket.s3.dualstack.eu-west-1.amazonaws.com", true},
		{s3VirtualHost, "bucket--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com", true},
		{s3VirtualHost, "s3.amazonaws.com", false},
		{s3VirtualHost, "s3.eu-west-1.amazonaws.com", false},
		{s3VirtualHost, "s3-eu-west-1.amazonaws.com", false},
		{s3VirtualHost, "s3.dualstack.eu-west-1.amazonaws.com", false},
		{s3VirtualHost, "minio.internal:9000", false},
		{"!" + s3VirtualHost, "minio.internal:9000", true},
		{"!" + s3VirtualHost, "bucket.s3.amazonaws.com", false},
		{"::1", "[::1]:8443", true},
		{"localhost", "localhost:8080", true},
		{"localhost", "", false},
	}
	for _, tt := range tests {
		c, err := New([]Pattern{{Name: "p", Path: "/**", Host: tt.glob, Class: sluice.ClassPrivileged}})
		if err != nil {
			t.Fatal(err)
		}
		got := c.Classify("GET", tt.host, "/", "").Class == sluice.ClassPrivileged
		if got != tt.want {
			t.Errorf("%s on %s = %v, want %v", tt.glob, tt.host, got, tt.want)
		}
	}
}

// Many distinct host globs each keep their own result.
func TestManyHostGlobs(t *testing.T) {
	var ps []Pattern
	for i := range 70 {
		ps = append(ps, Pattern{Name: "p", Path: "/", Host: strings.Repeat("a", i+1), Class: read})
	}
	ps = append(ps, Pattern{Name: "last", Path: "/", Host: strings.Repeat("a", 70), Class: sluice.ClassPrivileged})
	c, err := New(ps)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Classify("POST", strings.Repeat("a", 70), "/", "")
	if got.Class != read|sluice.ClassPrivileged || len(got.Patterns) != 2 {
		t.Fatalf("got %s %q", got.Class, got.Patterns)
	}
}
