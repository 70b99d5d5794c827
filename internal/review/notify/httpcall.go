package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const (
	// maxResponseBody is how much of an answer is read; the rest is drained
	// (up to maxDrain) so that the connection can be reused.
	maxResponseBody = 1 << 20
	maxDrain        = 64 << 10
	// maxDetail caps the service's own error text kept in a StatusError.
	maxDetail = 300
	// maxRetryAfter is the longest Retry-After honoured when the context
	// has no deadline.
	maxRetryAfter = 2 * time.Minute
)

// StatusError is a service's refusal of a call: an HTTP error status, or for
// Slack an "ok": false answer (Status 200). Detail holds the service's own
// explanation with every configured secret removed.
type StatusError struct {
	Service string // "webhook", "slack", "github", "jira"
	Op      string // what was being done, e.g. "chat.postMessage"
	Status  int
	Detail  string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Service, e.Op, e.Status)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Temporary reports whether trying again later may succeed (429 or 5xx).
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// transportError is a call that got no answer: a dial, TLS or read failure
// or an attempt timeout. Its text has been scrubbed and never holds the URL.
type transportError struct {
	service, op, msg string
}

func (e *transportError) Error() string { return e.service + " " + e.op + ": " + e.msg }

// caller makes the HTTP calls of one notifier: per-attempt timeouts, bounded
// retries, bodies drained and closed, errors scrubbed. It is safe for
// concurrent use.
type caller struct {
	service string
	client  *http.Client
	opts    HTTPOptions
	scrub   *scrubber
	// detail extracts the service's error text from an error answer's body.
	detail func(body []byte) string
}

// call is one logical request, made in one or more attempts.
type call struct {
	op     string // for errors; never the URL
	method string
	url    string
	header http.Header
	body   []byte
	// sign, if set, adds per-attempt headers (a fresh signature).
	sign func(h http.Header, body []byte)
}

// reply is a service's 2xx answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do makes the call, retrying network errors, 429 and 5xx answers, and
// returns the first 2xx answer. Any other answer is a *StatusError.
func (c *caller) do(ctx context.Context, cl call) (*reply, error) {
	for attempt := 1; ; attempt++ {
		rep, err := c.attempt(ctx, cl)
		if err == nil {
			if rep.status >= 200 && rep.status < 300 {
				return rep, nil
			}
			err = c.statusError(cl.op, rep)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", c.service, cl.op, ctx.Err())
		}
		if !retryable(err) {
			return nil, err
		}
		if attempt >= c.opts.Attempts {
			if attempt > 1 {
				return nil, fmt.Errorf("%w (%d attempts)", err, attempt)
			}
			return nil, err
		}
		wait := c.opts.backoff(attempt)
		if rep != nil {
			if ra, ok := retryAfter(rep.header.Get("Retry-After"), time.Now()); ok {
				wait = ra
			}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fmt.Errorf("%w (no time left to retry)", err)
		}
		if wait > maxRetryAfter {
			return nil, fmt.Errorf("%w (retry after %s is too long)", err, wait.Round(time.Second))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s %s: %w (after %v)", c.service, cl.op, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// attempt makes one HTTP request and reads its answer.
func (c *caller) attempt(ctx context.Context, cl call) (*reply, error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, cl.method, cl.url, bytes.NewReader(cl.body))
	if err != nil {
		// The error would quote the URL; say only what failed.
		return nil, &permanentError{c.service + " " + cl.op + ": cannot build the request"}
	}
	for k, v := range cl.header {
		req.Header[k] = append([]string(nil), v...)
	}
	if cl.sign != nil {
		cl.sign(req.Header, cl.body)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.transport(cl.op, ctx, actx, err)
	}
	defer drainClose(resp.Body)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, c.transport(cl.op, ctx, actx, fmt.Errorf("read answer: %w", err))
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transport turns a failed attempt into a transportError without the URL
// (which *url.Error quotes) and without any secret.
func (c *caller) transport(op string, ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && actx.Err() != nil {
		return &transportError{c.service, op, fmt.Sprintf("no answer within %s", c.opts.Timeout)}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return &transportError{c.service, op, c.scrub.clean(err.Error())}
}

func (c *caller) statusError(op string, rep *reply) *StatusError {
	var detail string
	if c.detail != nil && len(rep.body) > 0 {
		detail = truncate(c.scrub.clean(c.detail(rep.body)), maxDetail)
	}
	return &StatusError{Service: c.service, Op: op, Status: rep.status, Detail: detail}
}

// permanentError is a failure that no retry can fix.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var te *transportError
	return errors.As(err, &te)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	_ = body.Close()
}
