package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sink is one place the journal is exported to. Which fields apply depends
// on Type; docs/export.md shows each.
type Sink struct {
	// Name is unique; it names the sink's cursor, metrics and CLI flag.
	// Default: Type.
	Name string `yaml:"name"`
	// Type is azblob, s3, syslog, splunk or webhook.
	Type string `yaml:"type"`
	// Format is what SIEM sinks send: ocsf (default) or raw.
	Format string `yaml:"format"`
	// Interval is how often the journal is looked at. Default 1s.
	Interval Duration `yaml:"interval"`
	// Batch caps the records of one delivery to a SIEM. Default 500.
	Batch int `yaml:"batch"`
	// LagWarning is the lag, in records, past which /healthz warns.
	// Default 10000.
	LagWarning uint64 `yaml:"lag_warning"`
	// Prefix names the objects of azblob and s3 sinks. Default
	// "<audit.origin>/" (several gateways: one prefix each).
	Prefix string `yaml:"prefix"`
	// Create makes the container or bucket when missing (demos, tests);
	// production ones exist with their retention policy.
	Create bool `yaml:"create"`

	// azblob: the container URL and one credential.
	ContainerURL     string `yaml:"container_url"`
	ConnectionString Secret `yaml:"connection_string"`
	Container        string `yaml:"container"`
	AccountName      string `yaml:"account_name"`
	AccountKey       Secret `yaml:"account_key"`
	SAS              Secret `yaml:"sas"`
	Entra            *Entra `yaml:"entra"`

	// s3: endpoint host:port, bucket, credentials (empty: the AWS
	// environment and instance role) and object lock.
	Endpoint   string      `yaml:"endpoint"`
	Bucket     string      `yaml:"bucket"`
	Region     string      `yaml:"region"`
	AccessKey  string      `yaml:"access_key"`
	SecretKey  Secret      `yaml:"secret_key"`
	Insecure   bool        `yaml:"insecure"`
	ObjectLock *ObjectLock `yaml:"object_lock"`

	// syslog: host:port, over TLS when TLS is set.
	Address    string `yaml:"address"`
	TLS        bool   `yaml:"tls"`
	ServerName string `yaml:"server_name"`

	// splunk and webhook: the receiver's URL; Splunk's HEC token and
	// index, source and sourcetype; the webhook's HMAC key.
	URL        string `yaml:"url"`
	Token      Secret `yaml:"token"`
	Index      string `yaml:"index"`
	Source     string `yaml:"source"`
	SourceType string `yaml:"sourcetype"`
	Secret     Secret `yaml:"secret"`

	// CAFile adds a CA for the receiver's certificate.
	CAFile string `yaml:"ca_file"`
}

// Entra is a service principal's client secret credential.
type Entra struct {
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
}

// ObjectLock sets S3 object lock retention on every object.
type ObjectLock struct {
	// Mode is GOVERNANCE or COMPLIANCE.
	Mode string `yaml:"mode"`
	// Retain is how long each object is locked.
	Retain Duration `yaml:"retain"`
}

// SinkTypes are the supported sink types.
var SinkTypes = []string{"azblob", "s3", "syslog", "splunk", "webhook"}

// SinkName returns the sink's name: Name, or Type.
func (s *Sink) SinkName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Type
}

// Archive reports whether the sink stores the journal itself (azblob, s3)
// rather than events (the SIEM sinks).
func (s *Sink) Archive() bool { return s.Type == "azblob" || s.Type == "s3" }

func (s *Sink) applyDefaults(origin string) {
	if s.Format == "" && !s.Archive() {
		s.Format = "ocsf"
	}
	if s.Interval == 0 {
		s.Interval = Duration(time.Second)
	}
	if s.Batch == 0 {
		s.Batch = 500
	}
	if s.LagWarning == 0 {
		s.LagWarning = 10000
	}
	if s.Prefix == "" && s.Archive() {
		s.Prefix = strings.Trim(origin, "/") + "/"
	}
}

// validate checks one sink; key is its key.
func (s *Sink) validate(ps *Problems, key string) {
	need := func(field, value string) {
		if value == "" {
			ps.add(key+"."+field, "required for type %s", s.Type)
		}
	}
	switch s.Type {
	case "azblob":
		creds := 0
		for _, set := range []bool{!s.ConnectionString.IsZero(), s.AccountName != "" || !s.AccountKey.IsZero(), !s.SAS.IsZero(), s.Entra != nil} {
			if set {
				creds++
			}
		}
		if creds != 1 {
			ps.add(key, "set one of connection_string (with container), account_name and account_key, sas, or entra")
		}
		if s.ConnectionString.IsZero() {
			need("container_url", s.ContainerURL)
		} else {
			need("container", s.Container)
		}
		if s.ContainerURL != "" {
			if err := CheckIssuerURL(s.ContainerURL); err != nil {
				ps.add(key+".container_url", "%v", err)
			}
		}
		if e := s.Entra; e != nil {
			if e.TenantID == "" || e.ClientID == "" || e.ClientSecret.IsZero() {
				ps.add(key+".entra", "tenant_id, client_id and client_secret are required")
			}
		}
	case "s3":
		need("endpoint", s.Endpoint)
		need("bucket", s.Bucket)
		if (s.AccessKey == "") != s.SecretKey.IsZero() {
			ps.add(key, "access_key and secret_key must be set together")
		}
		if l := s.ObjectLock; l != nil {
			if l.Mode != "GOVERNANCE" && l.Mode != "COMPLIANCE" {
				ps.add(key+".object_lock.mode", "must be GOVERNANCE or COMPLIANCE")
			}
			if l.Retain <= 0 {
				ps.add(key+".object_lock.retain", "must be positive")
			}
		}
	case "syslog":
		need("address", s.Address)
		checkHostPort(ps, key+".address", s.Address, true)
	case "splunk", "webhook":
		need("url", s.URL)
		if s.URL != "" {
			if err := CheckIssuerURL(s.URL); err != nil {
				ps.add(key+".url", "%v", err)
			}
		}
		if s.Type == "splunk" {
			need("token", s.Token.raw)
		} else {
			need("secret", s.Secret.raw)
		}
	default:
		ps.add(key+".type", "must be one of %s, not %q", strings.Join(SinkTypes, ", "), s.Type)
	}
	if s.Format != "" && s.Format != "ocsf" && s.Format != "raw" {
		ps.add(key+".format", "must be ocsf or raw")
	}
	if s.Archive() && s.Format != "" {
		ps.add(key+".format", "applies to syslog, splunk and webhook sinks (azblob and s3 store the journal itself)")
	}
	if s.Interval < 0 || s.Batch < 0 {
		ps.add(key, "interval and batch must not be negative")
	}
}

// validateSinks checks every sink and that names are unique.
func (c *Config) validateSinks(ps *Problems) {
	var seen []string
	for i := range c.Audit.Sinks {
		s := &c.Audit.Sinks[i]
		key := fmt.Sprintf("audit.sinks[%d]", i)
		if name := s.SinkName(); !connName.MatchString(name) {
			ps.add(key+".name", "%q is not a valid name", name)
		} else if slices.Contains(seen, name) {
			ps.add(key+".name", "sink %q is defined twice", name)
		} else {
			seen = append(seen, name)
		}
		s.validate(ps, key)
	}
}

// sinkSecrets adds the sinks' secrets to m.
func (c *Config) sinkSecrets(m map[string]*Secret) {
	for i := range c.Audit.Sinks {
		s := &c.Audit.Sinks[i]
		key := fmt.Sprintf("audit.sinks[%d]", i)
		m[key+".connection_string"] = &s.ConnectionString
		m[key+".account_key"] = &s.AccountKey
		m[key+".sas"] = &s.SAS
		m[key+".secret_key"] = &s.SecretKey
		m[key+".token"] = &s.Token
		m[key+".secret"] = &s.Secret
		if s.Entra != nil {
			m[key+".entra.client_secret"] = &s.Entra.ClientSecret
		}
	}
}
