// Package client talks to a running gateway's admin API for the commands
// that act through it (`sluice reviews`, `run`, `audit replay --against`).
// The caller's own token authenticates every call.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// Client is an admin API client. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// Options say how to reach and trust the gateway.
type Options struct {
	// Server is the gateway's HTTP address: https://host:port (http:// is
	// accepted for loopback only).
	Server string
	// Token is the caller's bearer token (SLUICE_TOKEN).
	Token string
	// CAFile is a CA bundle to verify the gateway's certificate.
	CAFile string
	// Fingerprint pins the gateway's certificate by the SHA-256 fingerprint
	// that `sluice serve` prints (SHA256:AB:CD:...), for self-signed
	// certificates.
	Fingerprint string
	// Timeout bounds each call: 0 means 30s; negative means no bound but
	// the context's (for calls that run scripts or wait for decisions).
	Timeout time.Duration
}

// New returns a client for opts.
func New(opts Options) (*Client, error) {
	if opts.Server == "" {
		return nil, errors.New("no gateway: pass --server or set SLUICE_SERVER")
	}
	if opts.Token == "" {
		return nil, errors.New("no token: set SLUICE_TOKEN to your token")
	}
	u, err := url.Parse(opts.Server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not a URL like https://sluice.internal:8433", opts.Server)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && !strings.HasPrefix(h, "127.") && h != "::1" {
			return nil, errors.New("plain http is allowed for loopback only: the token would cross the network in clear")
		}
	default:
		return nil, fmt.Errorf("--server must be https://...")
	}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", opts.CAFile)
		}
		tc.RootCAs = pool
	}
	if fp := opts.Fingerprint; fp != "" {
		want := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(fp, "SHA256:"), ":", ""))
		// The pinned fingerprint replaces the chain check.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the gateway sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if hex.EncodeToString(sum[:]) != want {
				return errors.New("the gateway's certificate does not match the pinned fingerprint")
			}
			return nil
		}
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = 30 * time.Second
	case timeout < 0:
		timeout = 0
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &Client{base: u, token: opts.Token, http: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

// Error is an error the gateway answered with.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Do calls the API: body is sent as JSON when not nil, and the JSON answer
// is decoded into out when not nil.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base.JoinPath(strings.Split(path, "?")[0])
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.RawQuery = path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("X-Sluice-Client", "cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the gateway: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read the gateway's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error, Code string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("the gateway answered %s", resp.Status)
		}
		return &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the gateway's answer is not what was expected: %w", err)
		}
	}
	return nil
}

// Reviews lists the reviews the caller may see, optionally by status.
func (c *Client) Reviews(ctx context.Context, statuses ...sluice.ReviewStatus) ([]*sluice.Review, error) {
	q := url.Values{}
	for _, s := range statuses {
		q.Add("status", string(s))
	}
	var out struct{ Reviews []*sluice.Review }
	err := c.Do(ctx, "GET", "/api/v1/reviews?"+q.Encode(), nil, &out)
	return out.Reviews, err
}

// Review returns one review and whether the caller may decide it.
func (c *Client) Review(ctx context.Context, id string) (*sluice.Review, bool, error) {
	var out struct {
		Review    *sluice.Review
		MayDecide bool `json:"may_decide"`
	}
	err := c.Do(ctx, "GET", "/api/v1/reviews/"+url.PathEscape(id), nil, &out)
	return out.Review, out.MayDecide, err
}

// Decide approves or denies a review with a reason.
func (c *Client) Decide(ctx context.Context, id string, approve bool, reason string) (*sluice.Review, error) {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	var out struct{ Review *sluice.Review }
	err := c.Do(ctx, "POST", "/api/v1/reviews/"+url.PathEscape(id)+"/"+verb, map[string]string{"reason": reason}, &out)
	return out.Review, err
}

// SubmitRun submits a script for a connection, with the caller's reason
// for approvers. A script the policy allows runs before this returns.
func (c *Client) SubmitRun(ctx context.Context, connection, script, reason string) (*sluice.Run, error) {
	var out struct{ Run *sluice.Run }
	err := c.Do(ctx, "POST", "/api/v1/runs", map[string]string{"connection": connection, "script": script, "reason": reason}, &out)
	return out.Run, err
}

// Run returns the run held by review id, waiting up to wait (at most a
// minute, server-side) while its review is pending.
func (c *Client) Run(ctx context.Context, id string, wait time.Duration) (*sluice.Run, error) {
	var out struct{ Run *sluice.Run }
	q := url.Values{}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id)+"?"+q.Encode(), nil, &out)
	return out.Run, err
}

// ExecuteRun runs the script review id approved, once; script may be
// empty to run the review's own copy.
func (c *Client) ExecuteRun(ctx context.Context, id, script string) (*sluice.Run, error) {
	var out struct{ Run *sluice.Run }
	err := c.Do(ctx, "POST", "/api/v1/runs/"+url.PathEscape(id)+"/execute", map[string]string{"script": script}, &out)
	return out.Run, err
}

// Replay replays a recorded session on a sandbox connection and decodes
// the report into out.
func (c *Client) Replay(ctx context.Context, session, against string, commit bool, out any) error {
	var wrap struct {
		Replay json.RawMessage `json:"replay"`
	}
	err := c.Do(ctx, "POST", "/api/v1/audit/sessions/"+url.PathEscape(session)+"/replay",
		map[string]any{"against": against, "commit": commit}, &wrap)
	if err != nil {
		return err
	}
	return json.Unmarshal(wrap.Replay, out)
}
