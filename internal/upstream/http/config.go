package httpup

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout is the response-header timeout used when Config.Timeout is
// zero.
const DefaultTimeout = 60 * time.Second

// Config describes one HTTP upstream. Secrets are already resolved: the
// credential fields hold the plain values sluice presents upstream.
type Config struct {
	// Name is the connection name; it appears in error messages.
	Name string
	// BaseURL is the upstream's base URL, such as
	// https://management.azure.com. It must be https, or http on a loopback
	// host. Its path, if any, is the prefix every proxied path goes below.
	BaseURL string
	// CAFile is an optional PEM bundle added to the system roots for
	// verifying the upstream's certificate. Verification is always on.
	CAFile string
	// Timeout bounds the wait for the upstream's response headers.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// Credential is what sluice presents upstream. The zero value presents
	// nothing.
	Credential Credential
}

// Credential is the credential sluice holds for an upstream. At most one
// kind is set: a static header (Header and Value), a bearer token, basic
// authentication (BasicUser and BasicPassword) or OAuth2 client
// credentials.
type Credential struct {
	// Header is a static header name, such as x-api-key; Value is its value.
	Header string
	Value  string
	// Bearer is sent as "Authorization: Bearer <Bearer>".
	Bearer string
	// BasicUser and BasicPassword are sent as HTTP basic authentication.
	BasicUser     string
	BasicPassword string
	// OAuth2 gets access tokens with the client credentials grant and
	// sends them as bearer tokens.
	OAuth2 *OAuth2
}

// OAuth2 is the OAuth2 client credentials grant. Tokens are cached until
// shortly before they expire.
type OAuth2 struct {
	// TokenURL is the token endpoint, https unless on a loopback host. It
	// may be empty when Tenant is set.
	TokenURL string
	// Tenant is an Entra ID tenant. When set, TokenURL defaults to
	// https://login.microsoftonline.com/<Tenant>/oauth2/v2.0/token and the
	// client secret is sent in the form body, as Entra ID expects.
	Tenant       string
	ClientID     string
	ClientSecret string
	// Scopes are requested space-separated in the scope parameter, such as
	// https://management.azure.com/.default.
	Scopes []string
	// Resource, when set, is sent as the resource parameter (Entra ID v1
	// endpoints).
	Resource string
	// CAFile is an optional PEM bundle added to the system roots for the
	// token endpoint's certificate.
	CAFile string
}

// entraHosts are the Entra ID login hosts; their token endpoints want the
// client secret in the form body.
var entraHosts = []string{
	"login.microsoftonline.com",
	"login.microsoftonline.us",
	"login.chinacloudapi.cn",
	"login.partner.microsoftonline.cn",
}

// tokenURL returns the token endpoint, derived from the tenant when
// TokenURL is empty.
func (o *OAuth2) tokenURL() string {
	if o.TokenURL != "" || o.Tenant == "" {
		return o.TokenURL
	}
	return "https://login.microsoftonline.com/" + o.Tenant + "/oauth2/v2.0/token"
}

// entra reports whether the token endpoint is Entra ID's.
func (o *OAuth2) entra() bool {
	if o.Tenant != "" {
		return true
	}
	u, err := url.Parse(o.TokenURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range entraHosts {
		if host == h {
			return true
		}
	}
	return false
}

// Validate reports every problem with c, each naming the field at fault.
// Messages never contain a secret value.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.BaseURL == "" {
		add("base_url", "required")
	} else if err := checkBaseURL(c.BaseURL); err != nil {
		add("base_url", "%v", err)
	}
	if c.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	c.Credential.validate(add)
	return errors.Join(errs...)
}

// validate checks that at most one kind of credential is set and that it
// is complete.
func (cr *Credential) validate(add func(field, format string, args ...any)) {
	var kinds []string
	if cr.Header != "" || cr.Value != "" {
		kinds = append(kinds, "header")
		switch {
		case cr.Header == "":
			add("credential.header", "required when credential.value is set")
		case !validHeaderName(cr.Header):
			add("credential.header", "%q is not a valid header name", cr.Header)
		case reservedHeader(cr.Header):
			add("credential.header", "%q cannot carry a credential", cr.Header)
		}
		if cr.Value == "" {
			add("credential.value", "required when credential.header is set")
		} else if !validHeaderValue(cr.Value) {
			add("credential.value", "contains a control character")
		}
	}
	if cr.Bearer != "" {
		kinds = append(kinds, "bearer")
		if !validHeaderValue(cr.Bearer) {
			add("credential.bearer", "contains a control character")
		}
	}
	if cr.BasicUser != "" || cr.BasicPassword != "" {
		kinds = append(kinds, "basic")
		if cr.BasicUser == "" {
			add("credential.basic.user", "required when credential.basic.password is set")
		} else if strings.Contains(cr.BasicUser, ":") {
			add("credential.basic.user", "must not contain a colon")
		}
	}
	if o := cr.OAuth2; o != nil {
		kinds = append(kinds, "oauth2")
		o.validate(add)
	}
	if len(kinds) > 1 {
		add("credential", "set only one of header, bearer, basic, oauth2 (%s are set)", strings.Join(kinds, " and "))
	}
}

// validate checks the client credentials grant's settings.
func (o *OAuth2) validate(add func(field, format string, args ...any)) {
	const p = "credential.oauth2."
	if o.Tenant != "" && !validTenant(o.Tenant) {
		add(p+"tenant", "%q is not a tenant ID or domain", o.Tenant)
	}
	switch {
	case o.TokenURL == "" && o.Tenant == "":
		add(p+"token_url", "required (or set tenant for Entra ID)")
	case o.TokenURL != "":
		if err := checkTokenURL(o.TokenURL); err != nil {
			add(p+"token_url", "%v", err)
		}
	}
	if o.ClientID == "" {
		add(p+"client_id", "required")
	}
	if o.ClientSecret == "" {
		add(p+"client_secret", "required")
	}
	for i, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			add(fmt.Sprintf("%sscopes[%d]", p, i), "must be one non-empty scope without spaces")
		}
	}
}

// checkBaseURL accepts an absolute http(s) URL without user info, query,
// fragment or dot segments; plain http only on a loopback host, since the
// credential travels with every request.
func checkBaseURL(s string) error {
	u, err := checkAbsolute(s)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", s)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%q must not contain . or .. path segments", s)
		}
	}
	return nil
}

// checkTokenURL accepts an absolute URL that is https, or http on a
// loopback host, without user info.
func checkTokenURL(s string) error {
	_, err := checkAbsolute(s)
	return err
}

// checkAbsolute parses s and checks the scheme, host and user info.
func checkAbsolute(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an absolute URL", s)
	}
	if u.User != nil {
		// Don't echo s: the user info may hold a password.
		return nil, errors.New("must not contain user info; put the credential under credential")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("%q must use https (http is allowed only on loopback)", s)
		}
	default:
		return nil, fmt.Errorf("%q must use https", s)
	}
	return u, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validTenant accepts a tenant ID (a GUID) or a domain name: letters,
// digits, dots and hyphens, so that it is safe as a URL path segment.
func validTenant(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
		case r == '.':
		default:
			return false
		}
	}
	return s != "." && s != ".." && !strings.HasPrefix(s, ".")
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s has no control characters other than
// horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// reservedHeader reports whether name is a header the transport manages or
// a hop-by-hop header, which cannot carry a static credential.
func reservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "content-type":
		return true
	}
	for _, h := range hopHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}
