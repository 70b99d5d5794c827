package siem

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrClosed is what Send returns after Close.
var ErrClosed = errors.New("siem: sink is closed")

// defaultTimeout bounds a Send (dial, handshake, writes, answer) when a
// config leaves Timeout zero.
const defaultTimeout = 10 * time.Second

func timeoutOrDefault(d time.Duration) (time.Duration, error) {
	if d < 0 {
		return 0, errors.New("timeout must not be negative")
	}
	if d == 0 {
		return defaultTimeout, nil
	}
	return d, nil
}

// checkHTTPURL checks that raw is an absolute http(s) URL without user
// info or fragment, using https unless the host is loopback. The error
// never quotes the URL, which may hold a token.
func checkHTTPURL(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid URL", field)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s must be an absolute https URL", field)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s must not contain user info", field)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s must not contain a fragment", field)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("%s must use https (plain http only for loopback hosts)", field)
	}
	return u, nil
}

// checkAddress checks a host:port with a non-empty host and a port number.
func checkAddress(field, addr string) (host string, err error) {
	if addr == "" {
		return "", fmt.Errorf("%s is required", field)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s %q must be host:port", field, addr)
	}
	if host == "" {
		return "", fmt.Errorf("%s %q has no host", field, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%s %q: port must be a number from 1 to 65535", field, addr)
	}
	return host, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// rootCAs returns the system roots plus the certificates in caFile, or nil
// (the system roots) when caFile is empty.
func rootCAs(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// clientTLS is the TLS configuration of every sink: the server's
// certificate is verified against roots (nil: the system's) for
// serverName.
func clientTLS(roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// scrubber removes secrets from text that may echo them, and control
// characters that would garble a log line, and caps its length.
type scrubber []string

const maxDetail = 300

func (s scrubber) clean(text string) string {
	for _, secret := range s {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, text)
	text = strings.TrimSpace(text)
	if len(text) > maxDetail {
		cut := maxDetail
		for cut > 0 && !isRuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return text
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
