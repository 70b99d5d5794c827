package httpup

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		base, path, query string
		want              string // "" means refused with ErrBadPath
	}{
		{"https://api.example.com", "/v1/items", "", "https://api.example.com/v1/items"},
		{"https://api.example.com", "", "", "https://api.example.com/"},
		{"https://api.example.com", "/", "", "https://api.example.com/"},
		{"https://api.example.com/base", "", "", "https://api.example.com/base"},
		{"https://api.example.com/base", "/", "", "https://api.example.com/base/"},
		{"https://api.example.com/base/", "/v1", "", "https://api.example.com/base/v1"},
		{"https://api.example.com/base/", "v1/", "", "https://api.example.com/base/v1/"},
		{"https://api.example.com/base", "//v1///items//", "", "https://api.example.com/base/v1/items/"},
		{"https://api.example.com/base", "/subscriptions/s/resourceGroups", "api-version=2022-09-01&$filter=a%20eq%20b",
			"https://api.example.com/base/subscriptions/s/resourceGroups?api-version=2022-09-01&$filter=a%20eq%20b"},
		{"https://api.example.com", "/projects/group%2Fname/issues", "", "https://api.example.com/projects/group%2Fname/issues"},
		{"https://api.example.com", "/a%20b/c", "", "https://api.example.com/a%20b/c"},
		{"https://api.example.com", "/files/..data/x.", "", "https://api.example.com/files/..data/x."},
		{"http://127.0.0.1:8080/p", "/x", "", "http://127.0.0.1:8080/p/x"},
		{"https://api.example.com", "/\"%2F/é", "", "https://api.example.com/%22%2F/%C3%A9"},

		{"https://api.example.com/base", "/../x", "", ""},
		{"https://api.example.com/base", "/a/../../x", "", ""},
		{"https://api.example.com/base", "/proxy/conn/../../x", "", ""},
		{"https://api.example.com/base", "/./x", "", ""},
		{"https://api.example.com/base", "..", "", ""},
		{"https://api.example.com/base", "/%2e%2e/x", "", ""},
		{"https://api.example.com/base", "/%2E./x", "", ""},
		{"https://api.example.com/base", "/a%2F..%2F..%2Fx", "", ""},
		{"https://api.example.com/base", "/a%5C..%5Cx", "", ""},
		{"https://api.example.com/base", "/a\\..\\x", "", ""},
		{"https://api.example.com/base", "/a%zz", "", ""},
		{"https://api.example.com/base", "/a%00b", "", ""},
		{"https://api.example.com/base", "/a\nb", "", ""},
		{"https://api.example.com/base", "/a b", "", ""},
		{"https://api.example.com/base", "/a?b", "", ""},
		{"https://api.example.com/base", "/a#b", "", ""},
		{"https://api.example.com/base", "/a", "x=1#frag", ""},
		{"https://api.example.com/base", "/a", "x=1\r\nHost: evil", ""},
		{"https://api.example.com/base", "/a", "x= 1", ""},
	}
	for _, tt := range tests {
		u := &Upstream{base: mustParse(t, tt.base)}
		got, err := u.URL(tt.path, tt.query)
		if tt.want == "" {
			if !errors.Is(err, ErrBadPath) {
				t.Errorf("URL(%q, %q) on %s = %v, %v; want ErrBadPath", tt.path, tt.query, tt.base, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("URL(%q, %q) on %s: %v", tt.path, tt.query, tt.base, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("URL(%q, %q) on %s = %s, want %s", tt.path, tt.query, tt.base, got, tt.want)
		}
	}
}

func TestURLReturnsCopies(t *testing.T) {
	u := &Upstream{base: mustParse(t, "https://api.example.com/base")}
	a, _ := u.URL("/a", "")
	a.Host = "evil.example.com"
	b, _ := u.URL("/b", "")
	if b.Host != "api.example.com" || u.base.Host != "api.example.com" {
		t.Fatal("URL shares state between calls")
	}
}

// FuzzURL checks that whatever the path and query, an accepted URL stays on
// the upstream host and below the base path, without dot segments.
func FuzzURL(f *testing.F) {
	for _, p := range []string{"/v1/items", "/a/../b", "/%2e%2e/x", "/a%2F..%2Fb", "//x//", "/a\\..\\b", "/é/%C3%A9", "/a;b=c/d,e"} {
		f.Add(p, "a=1&b=%20")
	}
	base, _ := url.Parse("https://api.example.com/base/v1")
	u := &Upstream{base: base}
	f.Fuzz(func(t *testing.T, path, query string) {
		got, err := u.URL(path, query)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("error %v does not wrap ErrBadPath", err)
			}
			return
		}
		if got.Scheme != "https" || got.Host != "api.example.com" {
			t.Fatalf("URL left the host: %s", got)
		}
		if got.Path != "/base/v1" && !strings.HasPrefix(got.Path, "/base/v1/") {
			t.Fatalf("path %q left the base path", got.Path)
		}
		for _, seg := range strings.FieldsFunc(got.Path, func(r rune) bool { return r == '/' || r == '\\' }) {
			if seg == "." || seg == ".." {
				t.Fatalf("path %q has a dot segment", got.Path)
			}
		}
		if got.EscapedPath() != got.RawPath {
			t.Fatalf("escaped path %q differs from RawPath %q", got.EscapedPath(), got.RawPath)
		}
		// What goes on the wire parses back to the same path.
		back, err := url.ParseRequestURI(got.RequestURI())
		if err != nil {
			t.Fatalf("request URI %q does not parse: %v", got.RequestURI(), err)
		}
		if back.Path != got.Path || back.RawQuery != query {
			t.Fatalf("request URI %q parses to %q ? %q", got.RequestURI(), back.Path, back.RawQuery)
		}
		if strings.Contains(got.EscapedPath(), "//") {
			t.Fatalf("path %q has a double slash", got.EscapedPath())
		}
	})
}

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
