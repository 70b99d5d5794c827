package authn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults and limits of the Issuer and ServiceTokens settings.
const (
	// DefaultLeeway is the clock skew tolerated on exp and nbf.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest leeway Validate accepts.
	MaxLeeway = 60 * time.Second
	// DefaultMinRefresh is the shortest interval between two fetches of an
	// issuer's discovery document or key set.
	DefaultMinRefresh = time.Minute
)

// supportedAlgorithms are the signature algorithms an Issuer may allow. They
// are all asymmetric: "none" and the HMAC family are never accepted, because
// an HMAC "key" from a public key set is no secret at all.
var supportedAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Issuer configures one trusted OpenID Connect issuer. The zero value of
// every field except URL and Audiences means its documented default.
type Issuer struct {
	// URL is the issuer identifier. Tokens must carry exactly this value in
	// iss, and discovery fetches URL + "/.well-known/openid-configuration".
	// It must be https, except for a loopback host (127.0.0.0/8, ::1,
	// localhost), which may use http for development and tests. For Entra
	// ID use the tenant-specific URL, e.g.
	// https://login.microsoftonline.com/TENANT/v2.0.
	URL string
	// Audiences are the accepted values of the aud claim. A token is accepted
	// when any of its audiences (aud may be a string or an array) is listed
	// here. At least one is required.
	Audiences []string
	// SubjectClaim names the claim that holds the caller's stable id.
	// Default "sub"; Entra ID uses "oid".
	SubjectClaim string
	// GroupsClaims name the claims whose values become Identity.Groups. Each
	// may hold a string or an array of strings; the values are merged and
	// deduplicated. Default ["groups"]; for Entra ID, ["groups", "roles"].
	GroupsClaims []string
	// ClientClaims name the claims that identify the OAuth client, tried in
	// order. Default ["azp", "appid"] (appid is Entra's v1 name).
	ClientClaims []string
	// NameClaims name the claims tried in order for a human-readable name.
	// Default ["preferred_username", "name", "email", "upn"].
	NameClaims []string
	// Algorithms is the allow-list of signature algorithms. Default all of
	// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA;
	// "none" and HS256/384/512 are rejected by Validate.
	Algorithms []string
	// JWKSURL overrides the key set location. When set, discovery is skipped;
	// otherwise jwks_uri from the discovery document is used. The same https
	// rule as URL applies.
	JWKSURL string
	// Leeway is the clock skew tolerated on exp and nbf. Default 30 s,
	// maximum 60 s.
	Leeway time.Duration
	// MinRefresh is the shortest interval between two fetches of the key set
	// (on a token with an unknown key id) or of the discovery document (after
	// discovery failed). It protects the issuer from a caller spraying random
	// key ids. Default 1 minute.
	MinRefresh time.Duration
}

// Validate reports the first problem with the configuration. It does no I/O.
func (c Issuer) Validate() error {
	if err := checkIssuerURL(c.URL); err != nil {
		return fmt.Errorf("issuer %q: %w", c.URL, err)
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("issuer %q: %w", c.URL, err)
	}
	return nil
}

func (c Issuer) validate() error {
	if len(c.Audiences) == 0 {
		return errors.New("at least one audience is required")
	}
	if slices.Contains(c.Audiences, "") {
		return errors.New("empty audience")
	}
	if c.JWKSURL != "" {
		if err := checkSecureURL(c.JWKSURL); err != nil {
			return fmt.Errorf("jwks url: %w", err)
		}
	}
	for _, alg := range c.Algorithms {
		if !slices.Contains(supportedAlgorithms, alg) {
			return fmt.Errorf("signature algorithm %q is not allowed (allowed: %s)",
				alg, strings.Join(supportedAlgorithms, ", "))
		}
	}
	for _, names := range [][]string{{c.SubjectClaim}, c.GroupsClaims, c.ClientClaims, c.NameClaims} {
		for _, n := range names {
			if strings.TrimSpace(n) != n {
				return fmt.Errorf("claim name %q has surrounding spaces", n)
			}
		}
	}
	if err := checkLeeway(c.Leeway); err != nil {
		return err
	}
	if c.MinRefresh < 0 {
		return fmt.Errorf("min refresh %s is negative", c.MinRefresh)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Issuer) withDefaults() Issuer {
	if c.SubjectClaim == "" {
		c.SubjectClaim = "sub"
	}
	if len(c.GroupsClaims) == 0 {
		c.GroupsClaims = []string{"groups"}
	}
	if len(c.ClientClaims) == 0 {
		c.ClientClaims = []string{"azp", "appid"}
	}
	if len(c.NameClaims) == 0 {
		c.NameClaims = []string{"preferred_username", "name", "email", "upn"}
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = slices.Clone(supportedAlgorithms)
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.MinRefresh == 0 {
		c.MinRefresh = DefaultMinRefresh
	}
	return c
}

// checkLeeway rejects a negative leeway or one above MaxLeeway.
func checkLeeway(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("leeway %s is negative", d)
	}
	if d > MaxLeeway {
		return fmt.Errorf("leeway %s is larger than the maximum %s", d, MaxLeeway)
	}
	return nil
}

// checkIssuerURL checks an issuer identifier: an absolute https URL (or http
// on a loopback host) with no query, fragment or user info.
func checkIssuerURL(s string) error {
	if s == "" {
		return errors.New("issuer url is required")
	}
	if err := checkSecureURL(s); err != nil {
		return err
	}
	u, _ := url.Parse(s) // checkSecureURL parsed it
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("issuer url must not have a query or fragment")
	}
	return nil
}

// checkSecureURL accepts an absolute https URL, or an http URL whose host is
// a loopback address.
func checkSecureURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid url: %w", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("url must be absolute with a host")
	}
	if u.User != nil {
		return errors.New("url must not contain user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("url must use https (http is allowed only for a loopback host)")
	default:
		return fmt.Errorf("url scheme %q is not https", u.Scheme)
	}
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
