package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Object Lock retention modes, the values of Config.ObjectLockMode.
const (
	// Governance retention can be shortened or lifted by a principal with
	// s3:BypassGovernanceRetention.
	Governance = "GOVERNANCE"
	// Compliance retention cannot be shortened or lifted by anyone,
	// including the account's root user, until it expires.
	Compliance = "COMPLIANCE"
)

// Config says where a Store writes and how it authenticates. The zero
// value is not usable: Endpoint and Bucket are required.
type Config struct {
	// Endpoint is the service's host and optional port, without a scheme:
	// "s3.amazonaws.com", "s3.eu-west-1.amazonaws.com", "127.0.0.1:9000".
	// Required.
	Endpoint string

	// Secure selects https. The zero value is plain http, meant for tests
	// and services on loopback; sluice's configuration defaults to https.
	Secure bool

	// CAFile is a PEM file of CA certificates trusted for the endpoint in
	// addition to the system's. Only with Secure.
	CAFile string

	// Region is the bucket's region, such as "eu-west-1". Empty means the
	// client asks the service for it before the first request to the
	// bucket, which needs the s3:GetBucketLocation permission; set it to
	// save that request.
	Region string

	// Bucket is the bucket's name. Required.
	Bucket string

	// Prefix is put before every object name: the object "x" is the key
	// Prefix+"x". It usually ends in "/", as "sluice/prod-1/". Empty means
	// names are used as they are.
	Prefix string

	// AccessKey, SecretKey and, for temporary credentials, SessionToken
	// are a static credential. With AccessKey empty (and then SecretKey
	// and SessionToken empty too) the credential is looked up, in this
	// order, in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN), in the shared credentials file
	// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
	// AWS_PROFILE or "default"), and from the EC2, ECS or EKS instance
	// metadata service.
	AccessKey, SecretKey, SessionToken string

	// ObjectLockMode, when set (Governance or Compliance), sends an Object
	// Lock retention with every object: the object cannot be deleted or
	// overwritten until ObjectLockRetain after it was written. The bucket
	// must have been created with Object Lock enabled. Empty means the
	// bucket's default retention, if it has one, applies.
	ObjectLockMode string

	// ObjectLockRetain is how long each object is retained. Required, and
	// positive, with ObjectLockMode; it must be empty without it.
	ObjectLockRetain time.Duration

	// CreateBucket creates the bucket in Open when it is missing, with
	// Object Lock enabled when ObjectLockMode is set. Meant for tests;
	// production buckets exist already, with their retention settings, and
	// the credential need not be allowed to create buckets.
	CreateBucket bool
}

// validate checks c. Its errors name the offending field and never quote a
// secret.
func (c *Config) validate() error {
	if err := checkEndpoint(c.Endpoint); err != nil {
		return err
	}
	if c.CAFile != "" && !c.Secure {
		return errors.New("s3: CAFile is set but Secure is not: a CA is only used for https")
	}
	if c.Bucket == "" {
		return errors.New("s3: Bucket is required")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fmt.Errorf("s3: Bucket %q: %v", c.Bucket, err)
	}
	if c.Prefix != "" {
		// A prefix must make valid keys of valid names: check it with a
		// name after it.
		if err := checkKey(c.Prefix + "x"); err != nil {
			return fmt.Errorf("s3: Prefix %q: %v", c.Prefix, err)
		}
	}
	switch {
	case c.AccessKey == "" && c.SecretKey != "":
		return errors.New("s3: SecretKey is set but AccessKey is empty")
	case c.AccessKey == "" && c.SessionToken != "":
		return errors.New("s3: SessionToken is set but AccessKey is empty")
	case c.AccessKey != "" && c.SecretKey == "":
		return errors.New("s3: AccessKey is set but SecretKey is empty")
	}
	switch c.ObjectLockMode {
	case "":
		if c.ObjectLockRetain != 0 {
			return errors.New("s3: ObjectLockRetain is set but ObjectLockMode is empty")
		}
	case Governance, Compliance:
		if c.ObjectLockRetain <= 0 {
			return fmt.Errorf("s3: ObjectLockRetain must be positive with ObjectLockMode %s", c.ObjectLockMode)
		}
	default:
		return fmt.Errorf("s3: ObjectLockMode %q: want %s or %s", c.ObjectLockMode, Governance, Compliance)
	}
	return nil
}

// checkEndpoint checks that e is host or host:port. It quotes e only once
// it is known to hold no user information.
func checkEndpoint(e string) error {
	switch {
	case e == "":
		return errors.New("s3: Endpoint is required")
	case strings.Contains(e, "://"):
		return errors.New("s3: Endpoint must be host[:port] without a scheme (Secure selects https)")
	case strings.ContainsAny(e, "@/?#"):
		return errors.New("s3: Endpoint must be host[:port], without user information, path or query")
	}
	host := e
	if h, port, err := net.SplitHostPort(e); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("s3: Endpoint %q: bad port", e)
		}
		host = h
	} else if strings.Contains(e, ":") {
		return fmt.Errorf("s3: Endpoint %q is not host[:port] (an IPv6 address needs a port: [addr]:port)", e)
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("s3: Endpoint %q: bad host name", e)
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("s3: Endpoint %q: bad host name", e)
			}
		}
	}
	return nil
}

// maxKeyBytes is S3's limit on a key's length.
const maxKeyBytes = 1024

// checkKey checks that key is one that every S3 service stores as it is:
// valid UTF-8 of at most 1024 bytes, no control characters, made of
// non-empty "/"-separated segments none of which is "." or "..".
// Filesystem-backed services map such keys to paths, and AWS's console
// and SDKs handle the others badly.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty name")
	case len(key) > maxKeyBytes:
		return fmt.Errorf("longer than %d bytes", maxKeyBytes)
	case !utf8.ValidString(key):
		return errors.New("not valid UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return errors.New("holds a control character")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return errors.New(`has an empty path segment (a leading, trailing or doubled "/")`)
		case ".", "..":
			return fmt.Errorf("has a %q path segment", seg)
		}
	}
	return nil
}

// String describes c without its secrets, for logs and error messages.
func (c Config) String() string {
	var b strings.Builder
	scheme := "http"
	if c.Secure {
		scheme = "https"
	}
	fmt.Fprintf(&b, "s3 %s://%s bucket=%s prefix=%q", scheme, c.Endpoint, c.Bucket, c.Prefix)
	if c.Region != "" {
		fmt.Fprintf(&b, " region=%s", c.Region)
	}
	if c.AccessKey != "" {
		fmt.Fprintf(&b, " access_key=%s", c.AccessKey)
	} else {
		b.WriteString(" credentials=env/file/instance")
	}
	if c.ObjectLockMode != "" {
		fmt.Fprintf(&b, " object_lock=%s/%s", c.ObjectLockMode, c.ObjectLockRetain)
	}
	return b.String()
}

// LogValue logs c without its secrets.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("endpoint", c.Endpoint),
		slog.Bool("secure", c.Secure),
		slog.String("bucket", c.Bucket),
		slog.String("prefix", c.Prefix),
	}
	if c.Region != "" {
		attrs = append(attrs, slog.String("region", c.Region))
	}
	if c.AccessKey != "" {
		attrs = append(attrs, slog.String("access_key", c.AccessKey))
	}
	if c.ObjectLockMode != "" {
		attrs = append(attrs, slog.String("object_lock_mode", c.ObjectLockMode),
			slog.Duration("object_lock_retain", c.ObjectLockRetain))
	}
	return slog.GroupValue(attrs...)
}
