package httpproxy

import (
	"net/http"
	"slices"
	"strings"

	httpup "github.com/sluicehq/sluice/internal/upstream/http"
)

// errCredential marks a failure to obtain the upstream's credential.
var errCredential = httpup.ErrCredential

// clientOnly are request headers that stay at the gateway: the caller's
// credentials and cookies, what the transport sets itself, and forwarding
// headers a client could forge.
var clientOnly = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Cookie", "Host",
	"Accept-Encoding", "Content-Length", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
	"X-Forwarded-Proto", "X-Real-Ip"}

// outboundHeaders are the headers forwarded upstream: on a Claude API
// connection only the API's own, elsewhere everything but hop-by-hop
// headers and clientOnly ones. The upstream's credential is added later.
func outboundHeaders(in http.Header, cn *Conn) http.Header {
	out := http.Header{}
	if cn.Anthropic {
		for _, k := range anthropicHeaders {
			if vs := in.Values(k); len(vs) > 0 {
				out[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
			}
		}
		return out
	}
	for k, vs := range in {
		out[k] = slices.Clone(vs)
	}
	httpup.RemoveHopHeaders(out)
	for _, k := range clientOnly {
		out.Del(k)
	}
	for _, k := range cn.Upstream.CredentialHeaders() {
		out.Del(k)
	}
	return out
}

// secretish are words in header names whose values are credentials.
var secretish = []string{"auth", "token", "secret", "key", "password", "signature", "cookie", "session"}

// journalHeaders are the headers as the audit record keeps them:
// lower-case names, values joined, and the values of credentials replaced
// by "[removed]" so that the record shows they were there.
func journalHeaders(h http.Header, credentials []string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		name := strings.ToLower(k)
		v := strings.Join(vs, ", ")
		if slices.Contains(credentials, name) || slices.ContainsFunc(secretish, func(w string) bool { return strings.Contains(name, w) }) {
			v = "[removed]"
		}
		out[name] = v
	}
	return out
}
