// Package httpup is the outbound side of sluice's HTTP API proxy: a
// round tripper to one upstream base URL that presents the credential only
// sluice holds (a static header, a bearer token, basic authentication or an
// OAuth2 client credentials token) and never the agent's own.
package httpup

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Upstream sends requests to one HTTP upstream with sluice's credential.
// It is safe for concurrent use.
type Upstream struct {
	name      string
	base      *url.URL
	transport *http.Transport
	cred      Credential

	// header is the canonical name of the header carrying the credential
	// ("" for none); value is its value for the static kinds.
	header string
	value  string
	// basic is the encoded user:password of basic authentication.
	basic string
	// tokens is set for OAuth2.
	tokens *tokenSource
}

var _ http.RoundTripper = (*Upstream)(nil)

// strippedHeaders are removed from every request before the credential is
// set: they carry the agent's credentials, meant for sluice only.
var strippedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// New validates c and returns an Upstream for it. It reads the CA files
// but makes no network connection; an OAuth2 token is first fetched by Do.
func New(c Config) (*Upstream, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("connection %q: %w", c.Name, err)
	}
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("connection %q: base_url: %w", c.Name, err)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	roots, err := rootPool(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("connection %q: ca_file: %w", c.Name, err)
	}
	u := &Upstream{
		name:      c.Name,
		base:      base,
		transport: newTransport(roots, c.Timeout),
		cred:      c.Credential,
	}
	cr := &u.cred
	switch {
	case cr.Header != "":
		u.header, u.value = http.CanonicalHeaderKey(cr.Header), cr.Value
	case cr.Bearer != "":
		u.header, u.value = "Authorization", "Bearer "+cr.Bearer
	case cr.BasicUser != "":
		u.basic = base64.StdEncoding.EncodeToString([]byte(cr.BasicUser + ":" + cr.BasicPassword))
		u.header, u.value = "Authorization", "Basic "+u.basic
	case cr.OAuth2 != nil:
		o := *cr.OAuth2
		o.Scopes = append([]string(nil), o.Scopes...)
		cr.OAuth2 = &o
		u.header = "Authorization"
		if u.tokens, err = newTokenSource(c.Name, &o); err != nil {
			return nil, fmt.Errorf("connection %q: %w", c.Name, err)
		}
	}
	return u, nil
}

// Do sends req, which must be addressed to the upstream (see URL), with
// the credential injected, and returns the upstream's response as it is;
// redirects are not followed. The request sent is a clone of req: it loses
// the hop-by-hop headers, the agent's Authorization, Proxy-Authorization
// and Cookie headers and any header of the credential's name, and its Host
// is the upstream's. req itself is not modified, but its body is consumed
// and closed, also on error. An error getting the credential wraps
// ErrCredential; no error message contains a secret.
func (u *Upstream) Do(req *http.Request) (*http.Response, error) {
	if err := u.checkTarget(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.Host = ""
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	RemoveHopHeaders(out.Header)
	for _, h := range strippedHeaders {
		out.Header.Del(h)
	}
	if u.header != "" {
		out.Header.Del(u.header)
		value := u.value
		if u.tokens != nil {
			v, err := u.tokens.authorization()
			if err != nil {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, err
			}
			value = v
		}
		out.Header.Set(u.header, value)
	}
	resp, err := u.transport.RoundTrip(out)
	if err != nil {
		return nil, fmt.Errorf("connection %q: upstream request: %w", u.name, err)
	}
	return resp, nil
}

// RoundTrip is Do, so that an Upstream can serve as an http.Client's or
// httputil.ReverseProxy's transport.
func (u *Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	return u.Do(req)
}

// checkTarget refuses a request not addressed to the upstream's scheme and
// host, so that the credential goes nowhere else.
func (u *Upstream) checkTarget(req *http.Request) error {
	if req.URL == nil {
		return fmt.Errorf("connection %q: request has no URL", u.name)
	}
	if !strings.EqualFold(req.URL.Scheme, u.base.Scheme) || !strings.EqualFold(req.URL.Host, u.base.Host) {
		return fmt.Errorf("connection %q: request to %s://%s is not addressed to the upstream %s://%s",
			u.name, req.URL.Scheme, req.URL.Host, u.base.Scheme, u.base.Host)
	}
	return nil
}

// CredentialHeaders returns the lower-case names of the headers that carry
// the credential upstream, so that the journal and the agent-facing
// response can be scrubbed of them. It returns nil when there is no
// credential.
func (u *Upstream) CredentialHeaders() []string {
	if u.header == "" {
		return nil
	}
	return []string{strings.ToLower(u.header)}
}

// Secrets returns the secret values this upstream holds: the static header
// value, the bearer token, the basic password and its encoded
// user:password, the OAuth2 client secret and the most recently obtained
// access token. Callers use them to assert and scrub that no secret
// leaks. Empty values are left out.
func (u *Upstream) Secrets() []string {
	cr := &u.cred
	all := []string{cr.Value, cr.Bearer, cr.BasicPassword, u.basic}
	if u.tokens != nil {
		all = append(all, cr.OAuth2.ClientSecret, u.tokens.cached())
	}
	var out []string
	for _, s := range all {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Close closes the idle connections to the upstream and the token
// endpoint. It is idempotent; the Upstream stays usable.
func (u *Upstream) Close() {
	u.transport.CloseIdleConnections()
	if u.tokens != nil {
		u.tokens.close()
	}
}
