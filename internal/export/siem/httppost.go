package siem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	// maxAnswer is how much of a receiver's answer is read; up to maxDrain
	// more is discarded so that the connection can be reused.
	maxAnswer = 64 << 10
	maxDrain  = 64 << 10
)

// StatusError is a receiver's refusal of a batch: an HTTP status other than
// success, or for HEC a 200 whose code is not 0. Detail is the receiver's
// own explanation with the sink's secrets removed.
type StatusError struct {
	Sink   string // "splunk hec" or "webhook"
	Status int    // the HTTP status
	Detail string // e.g. "code 9: Server is busy"
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Sink, e.Status)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Temporary reports whether the same batch may be accepted later without a
// change of configuration (429 and 5xx).
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// poster makes the POSTs of an HTTP sink: one request per call, bounded by
// a timeout, redirects not followed, answers capped, errors free of the URL
// and of secrets. It is safe for concurrent use.
type poster struct {
	sink      string // starts every error
	url       string
	timeout   time.Duration
	transport *http.Transport
	client    *http.Client
	scrub     scrubber

	mu     sync.Mutex
	closed bool
}

// newPoster returns a poster to u that trusts the system roots plus those
// in caFile. secrets are removed from every error text.
func newPoster(sink string, u *url.URL, caFile string, timeout time.Duration, secrets ...string) (*poster, error) {
	roots, err := rootCAs(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s %w", sink, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = clientTLS(roots, "")
	p := &poster{
		sink:      sink,
		url:       u.String(),
		timeout:   timeout,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// A redirect is answered as the error it is for a sink: the
			// token must not follow it anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		scrub: scrubber(secrets),
	}
	return p, nil
}

// answer is a receiver's reply to a POST.
type answer struct {
	status int
	body   []byte // at most maxAnswer bytes
}

// post sends body with header and returns the receiver's answer, whatever
// its status. The error is a transport failure or a timeout.
func (p *poster) post(ctx context.Context, body []byte, header http.Header) (answer, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return answer{}, ErrClosed
	}
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		// The error would quote the URL.
		return answer{}, fmt.Errorf("%s: cannot build the request", p.sink)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{}, p.transportError(ctx, actx, err)
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		_ = resp.Body.Close()
	}()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return answer{}, p.transportError(ctx, actx, fmt.Errorf("read answer: %w", err))
	}
	return answer{status: resp.StatusCode, body: b}, nil
}

// transportError describes a POST that got no answer without the URL
// (which *url.Error quotes) or any secret. The caller's cancellation stays
// visible to errors.Is.
func (p *poster) transportError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", p.sink, context.Cause(ctx))
	}
	if actx.Err() != nil {
		return fmt.Errorf("%s: no answer within %s: %w", p.sink, p.timeout, context.DeadlineExceeded)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("%s: post: %s", p.sink, p.scrub.clean(err.Error()))
}

// statusError is the refusal described by detail, scrubbed.
func (p *poster) statusError(status int, detail string) *StatusError {
	return &StatusError{Sink: p.sink, Status: status, Detail: p.scrub.clean(detail)}
}

// close refuses further posts and closes idle connections. It is
// idempotent.
func (p *poster) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.transport.CloseIdleConnections()
}
