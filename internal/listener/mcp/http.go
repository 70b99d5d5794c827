package mcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/listener/httpproxy"
)

// HTTPCaller sends a request through the HTTP proxy's path: its gate,
// masking and journal.
type HTTPCaller interface {
	Call(ctx context.Context, c *httpproxy.Call) (*httpproxy.Reply, error)
}

// Limits of http_request's response body.
const (
	DefaultMaxBodyBytes = 64 << 10
	MaxBodyBytes        = 1 << 20
)

// HTTPInput is the input of http_request.
type HTTPInput struct {
	Connection string            `json:"connection" jsonschema:"an HTTP connection name, from list_connections"`
	Method     string            `json:"method" jsonschema:"GET, HEAD, OPTIONS, POST, PUT, PATCH or DELETE"`
	Path       string            `json:"path" jsonschema:"the path under the connection's base URL, with an optional ?query"`
	Headers    map[string]string `json:"headers,omitempty" jsonschema:"request headers; sluice adds the credential itself"`
	Body       string            `json:"body,omitempty" jsonschema:"the request body (JSON as text)"`
	MaxBytes   int               `json:"max_bytes,omitempty" jsonschema:"how much of the response body to return: default 65536, at most 1048576"`
}

// HTTPOutput is the result of http_request.
type HTTPOutput struct {
	Status     string            `json:"status" jsonschema:"ok, or pending_review when a rule holds the request for approval"`
	Connection string            `json:"connection"`
	HTTPStatus int               `json:"http_status,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body,omitempty" jsonschema:"the response body as text, masked where policy says"`
	Truncated  bool              `json:"truncated" jsonschema:"the body was cut at max_bytes"`
	Review     *ReviewInfo       `json:"review,omitempty"`
	Next       string            `json:"next,omitempty"`
}

// addHTTPTool registers http_request when there are HTTP connections.
func (s *Server) addHTTPTool() {
	if s.HTTP == nil || !slices.Contains(mapValues(s.Connections), sluice.ConnHTTP) {
		return
	}
	sdk.AddTool(s.sdk, &sdk.Tool{
		Name:  "http_request",
		Title: "Call an HTTP API",
		Description: "Sends an HTTP request to an HTTP API connection through sluice, which adds the API's " +
			"credential (you never see it), records the call and masks the response where policy says. Policy " +
			"decides each request (GET is a read, DELETE is destructive): it may be denied, or held for human " +
			"approval; then the result has status pending_review and a review id, and once it is approved the " +
			"same request (same method, path and body) runs once.",
		Annotations: &sdk.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(true)},
	}, s.httpRequest)
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (s *Server) httpRequest(ctx context.Context, req *sdk.CallToolRequest, in HTTPInput) (*sdk.CallToolResult, HTTPOutput, error) {
	c, err := callerOf(req.Extra)
	if err != nil {
		return nil, HTTPOutput{}, toolError(err)
	}
	if s.Connections[in.Connection] != sluice.ConnHTTP {
		return nil, HTTPOutput{}, fmt.Errorf("%q is not an HTTP connection; list_connections shows them (type http)", in.Connection)
	}
	in.Method = strings.ToUpper(strings.TrimSpace(in.Method))
	if in.Method == "" {
		in.Method = http.MethodGet
	}
	if !strings.HasPrefix(in.Path, "/") {
		return nil, HTTPOutput{}, errors.New("path must start with / (it is relative to the connection's base URL)")
	}
	switch {
	case in.MaxBytes < 0:
		return nil, HTTPOutput{}, errors.New("max_bytes must be positive")
	case in.MaxBytes == 0:
		in.MaxBytes = DefaultMaxBodyBytes
	}
	hdr := http.Header{}
	for k, v := range in.Headers {
		hdr.Set(k, v)
	}
	if in.Body != "" && hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "application/json")
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	call := &httpproxy.Call{Identity: c.id, Addr: c.addr, Protocol: sluice.ProtoMCP, Connection: in.Connection,
		Method: in.Method, Path: in.Path, Header: hdr, Body: []byte(in.Body), MaxBody: min(in.MaxBytes, MaxBodyBytes),
		HoldWait: s.ReviewWait,
		OnHold: func(d sluice.Decision, wait time.Duration) func() {
			return s.progress(ctx, req, d, wait)
		}}
	rep, err := s.HTTP.Call(ctx, call)
	if err != nil {
		return nil, HTTPOutput{}, toolError(err)
	}
	if rep.Review != "" && rep.Status == http.StatusGatewayTimeout {
		if out, ok := s.pendingHTTP(ctx, rep.Review, in.Connection, c); ok {
			return textResult(pendingText(&ResultOutput{Review: out.Review, Next: out.Next})), out, nil
		}
	}
	out := HTTPOutput{Status: StatusOK, Connection: in.Connection, HTTPStatus: rep.Status,
		Headers: map[string]string{}, Truncated: rep.Truncated}
	for k := range rep.Header {
		out.Headers[strings.ToLower(k)] = rep.Header.Get(k)
	}
	if utf8.Valid(rep.Body) {
		out.Body = string(rep.Body)
	} else {
		out.Body = fmt.Sprintf("[%d bytes of binary data not shown]", len(rep.Body))
	}
	text := fmt.Sprintf("HTTP %d %s\n%s", rep.Status, http.StatusText(rep.Status), out.Body)
	if rep.Truncated {
		text += fmt.Sprintf("\n[body cut at %d bytes; pass a larger max_bytes to see more]", call.MaxBody)
	}
	res := textResult(text)
	if rep.Status >= 400 {
		// A refusal by sluice or an error of the API: the agent sees it as
		// a tool error with the answer's message.
		res.IsError = true
	}
	return res, out, nil
}

// pendingHTTP is the pending result of a request whose hold ended while
// its review is still open.
func (s *Server) pendingHTTP(ctx context.Context, id, conn string, c *caller) (HTTPOutput, bool) {
	rv, err := s.Reviews.Get(context.WithoutCancel(ctx), id)
	if err != nil {
		s.Log.Warn("read review after a hold", "review", id, "err", err)
		return HTTPOutput{}, false
	}
	if rv.Status != sluice.ReviewPending && rv.Status != sluice.ReviewApproved {
		return HTTPOutput{}, false
	}
	ri := reviewInfo(rv)
	return HTTPOutput{Status: StatusPendingReview, Connection: conn, Review: &ri, Next: nextStep(rv, c) + " " +
		fmt.Sprintf("Check it with the review_status tool (review_id %q) or `sluice reviews show %s`; once approved, send the same request again.", rv.ID, rv.ID)}, true
}
