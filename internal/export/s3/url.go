package s3

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Environment variables read by ParseURL.
const (
	EnvAccessKey     = "AWS_ACCESS_KEY_ID"
	EnvSecretKey     = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken  = "AWS_SESSION_TOKEN"
	EnvRegion        = "AWS_REGION"
	EnvDefaultRegion = "AWS_DEFAULT_REGION"
)

// ParseURL turns a URL of the form
//
//	s3://<bucket>[/<prefix>][?endpoint=<host[:port]>&region=<region>&insecure=1&ca=<file>]
//
// as given to `sluice audit verify --from`, into a Config for reading. The
// path after the bucket is the Prefix, with a "/" added at its end when
// missing: s3://audit/sluice/prod-1 reads the objects "sluice/prod-1/...".
//
// Parameters:
//
//   - endpoint: the service, as host[:port] or as an http:// or https://
//     URL without a path (http:// means insecure=1). Default: Amazon S3,
//     s3.<region>.amazonaws.com when the region is known, else
//     s3.amazonaws.com.
//   - region: the bucket's region. Default: the environment variable
//     AWS_REGION, else AWS_DEFAULT_REGION, else asked of the service.
//   - insecure: 1 or true for plain http; https is the default.
//   - ca: a PEM file of CA certificates trusted for the endpoint, in
//     addition to the system's.
//
// The credential comes from the environment: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, with AWS_SESSION_TOKEN for temporary
// credentials. Without AWS_ACCESS_KEY_ID, Open looks for one in the
// shared credentials file and the instance metadata service (see
// Config.AccessKey). Credentials in the URL itself are refused, so they
// never end up in shell history or process listings.
func ParseURL(u string) (Config, error) {
	return parseURL(u, os.Getenv)
}

func parseURL(raw string, getenv func(string) string) (Config, error) {
	const form = "s3://<bucket>/<prefix>"
	u, err := url.Parse(raw)
	if err != nil {
		// Its message quotes the URL, which may hold a secret.
		return Config{}, errors.New("s3: not a URL (expected " + form + ")")
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("s3: URL scheme must be s3, not %q", u.Scheme)
	}
	if u.User != nil {
		return Config{}, fmt.Errorf("s3: s3:// URL must not hold credentials; set %s and %s", EnvAccessKey, EnvSecretKey)
	}
	if u.Fragment != "" {
		return Config{}, errors.New("s3: s3:// URL must not have a fragment")
	}
	if u.Opaque != "" || u.Host == "" {
		return Config{}, errors.New("s3: s3:// URL names no bucket (expected " + form + ")")
	}
	c := Config{Bucket: u.Host, Secure: true}
	if prefix := strings.TrimPrefix(u.Path, "/"); prefix != "" {
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		c.Prefix = prefix
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, errors.New("s3: s3:// URL has a malformed query")
	}
	for k, v := range q {
		switch k {
		case "endpoint", "region", "insecure", "ca":
			if len(v) > 1 {
				return Config{}, fmt.Errorf("s3: parameter %q given more than once in s3:// URL", k)
			}
		default:
			return Config{}, fmt.Errorf("s3: unknown parameter %q in s3:// URL (known: endpoint, region, insecure, ca; credentials come from the environment)", k)
		}
	}
	switch v := q.Get("insecure"); strings.ToLower(v) {
	case "", "0", "false":
	case "1", "true":
		c.Secure = false
	default:
		return Config{}, fmt.Errorf("s3: parameter insecure=%q: want 1 or 0", v)
	}
	c.CAFile = q.Get("ca")

	c.Region = q.Get("region")
	if c.Region == "" {
		c.Region = getenv(EnvRegion)
	}
	if c.Region == "" {
		c.Region = getenv(EnvDefaultRegion)
	}

	c.Endpoint = q.Get("endpoint")
	if scheme, hostport, ok := strings.Cut(c.Endpoint, "://"); ok {
		switch scheme {
		case "https":
			if !c.Secure {
				return Config{}, errors.New("s3: endpoint is an https:// URL but insecure is set")
			}
		case "http":
			if q.Get("insecure") != "" && c.Secure {
				return Config{}, errors.New("s3: endpoint is an http:// URL but insecure is 0")
			}
			c.Secure = false
		default:
			return Config{}, fmt.Errorf("s3: endpoint scheme must be http or https, not %q", scheme)
		}
		c.Endpoint = strings.TrimSuffix(hostport, "/")
	}
	if c.Endpoint == "" {
		c.Endpoint = "s3.amazonaws.com"
		if c.Region != "" {
			c.Endpoint = "s3." + c.Region + ".amazonaws.com"
		}
	}

	c.AccessKey = getenv(EnvAccessKey)
	c.SecretKey = getenv(EnvSecretKey)
	c.SessionToken = getenv(EnvSessionToken)
	switch {
	case c.AccessKey != "" && c.SecretKey == "":
		return Config{}, fmt.Errorf("s3: %s is set but %s is empty", EnvAccessKey, EnvSecretKey)
	case c.AccessKey == "" && (c.SecretKey != "" || c.SessionToken != ""):
		// Open's lookup reads them again, and would fail the same way.
		return Config{}, fmt.Errorf("s3: %s or %s is set but %s is empty", EnvSecretKey, EnvSessionToken, EnvAccessKey)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
