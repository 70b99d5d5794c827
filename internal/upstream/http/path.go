package httpup

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBadPath is wrapped by the errors URL returns for a path or query it
// refuses; the proxy answers such requests with 400.
var ErrBadPath = errors.New("path not allowed")

// URL returns the upstream URL for a proxied path and raw query. path is
// the part of the request path below the connection's prefix, in escaped
// form as url.URL.EscapedPath returns it; percent-encoded bytes are kept as
// they are, so an encoded slash stays encoded. The result is the base URL's
// path joined with path, with empty segments dropped so that no double
// slash appears, and a trailing slash kept. A path with a "." or ".."
// segment (also percent-encoded, or hidden behind an encoded slash or a
// backslash) is refused, so a request can never leave the base path.
// URL is safe for concurrent use; each call returns a new *url.URL.
func (u *Upstream) URL(path, rawQuery string) (*url.URL, error) {
	segs, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if err := checkQuery(rawQuery); err != nil {
		return nil, err
	}
	escaped := strings.TrimRight(u.base.EscapedPath(), "/")
	switch {
	case len(segs) > 0:
		escaped += "/" + strings.Join(segs, "/")
		if strings.HasSuffix(path, "/") {
			escaped += "/"
		}
	case path == "" && u.base.EscapedPath() != "":
		escaped = u.base.EscapedPath()
	default:
		escaped += "/"
	}
	decoded, err := url.PathUnescape(escaped)
	if err != nil {
		// splitPath checked every segment and the base URL parsed.
		return nil, fmt.Errorf("%w: %q: %v", ErrBadPath, path, err)
	}
	out := &url.URL{
		Scheme:   u.base.Scheme,
		Host:     u.base.Host,
		Path:     decoded,
		RawPath:  escaped,
		RawQuery: rawQuery,
	}
	return out, nil
}

// splitPath splits an escaped path into its non-empty segments and refuses
// dot segments, malformed escapes and control characters.
func splitPath(path string) ([]string, error) {
	var segs []string
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		if strings.ContainsAny(seg, "?#") {
			return nil, fmt.Errorf("%w: %q has an unescaped ? or #", ErrBadPath, path)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a valid escaped path", ErrBadPath, path)
		}
		if hasControl(seg) || hasControl(dec) || strings.Contains(seg, " ") {
			return nil, fmt.Errorf("%w: %q contains a control character or space", ErrBadPath, path)
		}
		for part := range strings.FieldsFuncSeq(dec, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == "." || part == ".." {
				return nil, fmt.Errorf("%w: %q has a . or .. segment", ErrBadPath, path)
			}
		}
		segs = append(segs, escapeSegment(seg))
	}
	return segs, nil
}

// escapeSegment percent-encodes the bytes of a valid escaped segment that
// RFC 3986 does not allow unencoded in a path, keeping existing escapes as
// they are. Without this, url.URL would re-escape the whole decoded path
// and so turn an encoded slash into a real one.
func escapeSegment(seg string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			b.WriteString(seg[i : i+3])
			i += 2
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// checkQuery refuses a raw query with a fragment marker, space or control
// character; it does not otherwise reinterpret the query.
func checkQuery(q string) error {
	if strings.ContainsAny(q, "# ") || hasControl(q) {
		return fmt.Errorf("%w: query contains #, a space or a control character", ErrBadPath)
	}
	return nil
}

// hasControl reports whether s has an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
