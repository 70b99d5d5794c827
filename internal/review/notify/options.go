package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of HTTPOptions and of inbound handling.
const (
	defaultTimeout       = 10 * time.Second
	defaultAttempts      = 4
	defaultBackoff       = 500 * time.Millisecond
	maxBackoff           = 30 * time.Second
	defaultDecideTimeout = 10 * time.Second
)

// HTTPOptions tune the outbound calls of a notifier. The zero value is
// useful.
type HTTPOptions struct {
	// Timeout bounds each attempt, from dialling to reading the whole
	// answer. Default 10s.
	Timeout time.Duration
	// Attempts is the most attempts one call makes, the first included.
	// Only network errors, 429 and 5xx answers are retried. Default 4.
	Attempts int
	// Backoff is the wait before the second attempt; it doubles for each
	// further attempt up to 30s, with jitter. A Retry-After header from the
	// service replaces it. Default 500ms.
	Backoff time.Duration
}

func (o HTTPOptions) withDefaults() HTTPOptions {
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.Attempts == 0 {
		o.Attempts = defaultAttempts
	}
	if o.Backoff == 0 {
		o.Backoff = defaultBackoff
	}
	return o
}

func (o HTTPOptions) validate() error {
	if o.Timeout < 0 || o.Attempts < 0 || o.Backoff < 0 {
		return errors.New("http options must not be negative")
	}
	if o.Attempts > 10 {
		return errors.New("http attempts must be at most 10")
	}
	return nil
}

// backoff returns the wait after the given failed attempt (1-based):
// Backoff doubled per attempt, capped, with "equal jitter" so that many
// gateways retrying at once spread out.
func (o HTTPOptions) backoff(attempt int) time.Duration {
	d := o.Backoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

// checkEndpoint checks that raw is an absolute http(s) URL without
// credentials in it. Plain http is allowed only for loopback hosts, so that
// tokens never cross a network in clear text but tests can use local fakes.
// The error never includes the URL, which may itself be secret.
func checkEndpoint(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a valid URL", field)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s must be an absolute http(s) URL", field)
	}
	if u.User != nil {
		return fmt.Errorf("%s must not contain user info", field)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%s must use https (plain http only for loopback addresses)", field)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkUsers checks a map from a service's user id to a sluice subject.
func checkUsers(users map[string]string) error {
	for k, v := range users {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return errors.New("users must map non-empty ids to non-empty subjects")
		}
	}
	return nil
}

// checkName checks a notifier's name, which becomes a path element of the
// inbound hook and a key of Review.Tickets.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("name must be 1 to 64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errors.New("name may hold only a-z, 0-9, '-' and '_'")
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func logOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func clientOrDefault(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{}
	}
	return c
}
