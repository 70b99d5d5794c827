package httpclass

import (
	"net/url"
	"strings"
)

// Why a path cannot be classified. Such a path is unknown.
const (
	problemNoSlash = "path does not start with /"
	problemEscape  = "path is not valid percent-encoding"
	problemClimbs  = "path climbs above the root"
)

// cleanPath appends to segs the segments of the escaped request path p as
// the patterns see them: split at "/", each segment percent-decoded once,
// empty segments dropped (so "//" and a trailing slash do not matter), and
// "." and ".." resolved, also when encoded as %2E, which RFC 3986 makes
// equal to ".". The empty path is the root.
//
// An encoded slash does not split a segment: "/bucket/a%2Fb" has the two
// segments "bucket" and "a/b". Some upstreams read it differently: any Go
// net/http server routes on the decoded path (the Kubernetes API server
// does), and IIS-style servers take "\" for "/". With split set, cleanPath
// reads the path that way, splitting also at "\" and at every "/" or "\" a
// segment decodes to. ambiguous reports whether p holds anything the two
// readings treat differently.
//
// problem is set when p cannot be classified: it does not start with "/",
// holds a bad escape, or ".." climbs above the root.
func cleanPath(p string, split bool, segs []string) (_ []string, ambiguous bool, problem string) {
	if p == "" {
		return segs, false, ""
	}
	if p[0] != '/' {
		return nil, false, problemNoSlash
	}
	// plain is set when no segment needs decoding or holds a backslash,
	// as in most paths.
	plain := strings.IndexAny(p, `%\`) < 0
	for rest := p[1:]; rest != ""; {
		part := rest
		if i := nextSep(rest, split); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if plain {
			var ok bool
			if segs, ok = push(segs, part); !ok {
				return nil, false, problemClimbs
			}
			continue
		}
		if strings.IndexByte(part, '\\') >= 0 {
			ambiguous = true
		}
		if strings.IndexByte(part, '%') >= 0 {
			d, err := url.PathUnescape(part)
			if err != nil {
				return nil, false, problemEscape
			}
			part = d
			if strings.ContainsAny(d, `/\`) {
				ambiguous = true
				if split {
					for sub := range strings.FieldsFuncSeq(d, isSlash) {
						var ok bool
						if segs, ok = push(segs, sub); !ok {
							return nil, false, problemClimbs
						}
					}
					continue
				}
			}
		}
		var ok bool
		if segs, ok = push(segs, part); !ok {
			return nil, false, problemClimbs
		}
	}
	return segs, ambiguous, ""
}

// nextSep returns the index of the first "/" in s, or with split also "\",
// or -1.
func nextSep(s string, split bool) int {
	if split {
		return strings.IndexAny(s, `/\`)
	}
	return strings.IndexByte(s, '/')
}

func isSlash(r rune) bool { return r == '/' || r == '\\' }

// push applies one decoded segment to segs: "" and "." change nothing, ".."
// removes the last segment and fails at the root.
func push(segs []string, s string) ([]string, bool) {
	switch s {
	case "", ".":
		return segs, true
	case "..":
		if len(segs) == 0 {
			return segs, false
		}
		return segs[:len(segs)-1], true
	}
	return append(segs, s), true
}

// normHost returns host without port, brackets or trailing dot, in lower
// case: "Bucket.S3.amazonaws.com:443" → "bucket.s3.amazonaws.com",
// "[::1]:8443" → "::1".
func normHost(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	return lowerASCII(strings.TrimSuffix(host, "."))
}
