package s3_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/export/s3"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var creds = map[string]string{
	s3.EnvAccessKey: "AKIAEXAMPLE",
	s3.EnvSecretKey: "secret-key-from-env",
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want s3.Config
	}{
		{
			url:  "s3://audit",
			env:  creds,
			want: s3.Config{Endpoint: "s3.amazonaws.com", Secure: true, Bucket: "audit", AccessKey: "AKIAEXAMPLE", SecretKey: "secret-key-from-env"},
		},
		{
			url:  "s3://audit/",
			env:  creds,
			want: s3.Config{Endpoint: "s3.amazonaws.com", Secure: true, Bucket: "audit", AccessKey: "AKIAEXAMPLE", SecretKey: "secret-key-from-env"},
		},
		{
			url: "s3://audit/sluice/prod-1?region=eu-west-1",
			env: map[string]string{s3.EnvAccessKey: "AK", s3.EnvSecretKey: "SK", s3.EnvSessionToken: "TOKEN"},
			want: s3.Config{Endpoint: "s3.eu-west-1.amazonaws.com", Secure: true, Region: "eu-west-1", Bucket: "audit",
				Prefix: "sluice/prod-1/", AccessKey: "AK", SecretKey: "SK", SessionToken: "TOKEN"},
		},
		{
			url:  "s3://audit/sluice/prod-1/",
			env:  map[string]string{s3.EnvRegion: "us-west-2", s3.EnvDefaultRegion: "eu-central-1"},
			want: s3.Config{Endpoint: "s3.us-west-2.amazonaws.com", Secure: true, Region: "us-west-2", Bucket: "audit", Prefix: "sluice/prod-1/"},
		},
		{
			url:  "s3://audit",
			env:  map[string]string{s3.EnvDefaultRegion: "eu-central-1"},
			want: s3.Config{Endpoint: "s3.eu-central-1.amazonaws.com", Secure: true, Region: "eu-central-1", Bucket: "audit"},
		},
		{
			url:  "s3://audit/p?endpoint=127.0.0.1:9000&insecure=1",
			env:  creds,
			want: s3.Config{Endpoint: "127.0.0.1:9000", Bucket: "audit", Prefix: "p/", AccessKey: "AKIAEXAMPLE", SecretKey: "secret-key-from-env"},
		},
		{
			url:  "s3://audit?endpoint=http://minio.internal:9000/",
			want: s3.Config{Endpoint: "minio.internal:9000", Bucket: "audit"},
		},
		{
			url:  "s3://audit?endpoint=https://minio.internal&ca=/etc/ssl/ca.pem&insecure=0&region=home",
			want: s3.Config{Endpoint: "minio.internal", Secure: true, CAFile: "/etc/ssl/ca.pem", Region: "home", Bucket: "audit"},
		},
		{
			url:  "s3://audit/a%20b/c?endpoint=s3.example.com&insecure=true",
			want: s3.Config{Endpoint: "s3.example.com", Bucket: "audit", Prefix: "a b/c/"},
		},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := s3.ParseURLEnv(tc.url, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "wJalrXUtnFEMI-secret"
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want string
	}{
		{"https://audit/p", nil, "scheme must be s3"},
		{"audit/p", nil, "scheme must be s3"},
		{"s3:audit", nil, "names no bucket"},
		{"s3:///p", nil, "names no bucket"},
		{"s3://AKIA:" + secret + "@audit/p", nil, "must not hold credentials"},
		{"s3://audit/p#frag", nil, "fragment"},
		{"s3://Bad_Bucket/p", nil, "Bucket"},
		{"s3://audit/p?access_key=AK&secret_key=" + secret, nil, "unknown parameter"},
		{"s3://audit/p?region=a&region=b", nil, "more than once"},
		{"s3://audit/p?insecure=maybe", nil, "insecure"},
		{"s3://audit/p?endpoint=ftp://host", nil, "http or https"},
		{"s3://audit/p?endpoint=https://host&insecure=1", nil, "insecure is set"},
		{"s3://audit/p?endpoint=http://host&insecure=0", nil, "insecure is 0"},
		{"s3://audit/p?endpoint=http://host/path", nil, "Endpoint"},
		{"s3://audit/p?endpoint=AK:" + secret + "@host", nil, "Endpoint"},
		{"s3://audit/p?endpoint=127.0.0.1:9000&ca=/ca.pem&insecure=1", nil, "CAFile"},
		{"s3://audit/a//b", nil, "Prefix"},
		{"s3://audit/p?%zz", nil, "malformed query"},
		{"s3://audit/%zz" + secret, nil, "not a URL"},
		{"s3://audit/p", map[string]string{s3.EnvAccessKey: "AK"}, s3.EnvSecretKey + " is empty"},
		{"s3://audit/p", map[string]string{s3.EnvSecretKey: secret}, s3.EnvAccessKey + " is empty"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := s3.ParseURLEnv(tc.url, env(tc.env))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
}

// TestParseURLFromEnvironment covers the exported function, which reads
// the process environment.
func TestParseURLFromEnvironment(t *testing.T) {
	t.Setenv(s3.EnvAccessKey, "AK")
	t.Setenv(s3.EnvSecretKey, "SK")
	t.Setenv(s3.EnvSessionToken, "")
	t.Setenv(s3.EnvRegion, "")
	t.Setenv(s3.EnvDefaultRegion, "")
	c, err := s3.ParseURL("s3://audit/x?endpoint=127.0.0.1:9000&insecure=1")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKey != "AK" || c.SecretKey != "SK" || c.Prefix != "x/" || c.Secure {
		t.Errorf("ParseURL = %#v", c)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, u := range []string{
		"s3://audit",
		"s3://audit/sluice/prod-1?region=eu-west-1",
		"s3://audit/p?endpoint=127.0.0.1:9000&insecure=1",
		"s3://audit?endpoint=https://minio.internal&ca=/ca.pem",
		"s3://AK:SECRET@audit/p",
		"s3://audit/a//b?x=1",
		"s3://[::1]:9000/p",
	} {
		f.Add(u)
	}
	const secret = "fuzz-secret-key-value"
	getenv := env(map[string]string{s3.EnvAccessKey: "AK", s3.EnvSecretKey: secret})
	f.Fuzz(func(t *testing.T, u string) {
		c, err := s3.ParseURLEnv(u, getenv)
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error holds the secret: %v", err)
			}
			return
		}
		if c.Bucket == "" || c.Endpoint == "" {
			t.Errorf("%q: no bucket or endpoint: %v", u, c)
		}
		if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
			t.Errorf("%q: prefix %q does not end in /", u, c.Prefix)
		}
		if c.SecretKey != secret {
			t.Errorf("%q: secret key not taken from the environment", u)
		}
		if strings.Contains(c.String(), secret) {
			t.Errorf("Config.String holds the secret: %s", c)
		}
	})
}
