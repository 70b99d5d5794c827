package httpup

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1 and their
// customary relatives); they describe one connection and are never
// forwarded.
var hopHeaders = []string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// RemoveHopHeaders deletes from h the hop-by-hop headers and the headers
// that h's Connection header names. A TE header that accepts trailers is
// reduced to "TE: trailers", which HTTP/2 and gRPC rely on; any other TE
// header is removed. It applies to requests and responses alike.
func RemoveHopHeaders(h http.Header) {
	trailers := acceptsTrailers(h.Values("Te"))
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	if trailers {
		h.Set("Te", "trailers")
	}
}

// acceptsTrailers reports whether a TE header's values list "trailers".
func acceptsTrailers(values []string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok, _, _ = strings.Cut(tok, ";")
			if strings.EqualFold(textproto.TrimString(tok), "trailers") {
				return true
			}
		}
	}
	return false
}
