package ocsf

import (
	"strings"

	"github.com/sluicehq/sluice"
)

// API Activity (6003) activities.
var (
	apiCreate = activity{1, "Create"}
	apiRead   = activity{2, "Read"}
	apiUpdate = activity{3, "Update"}
	apiDelete = activity{4, "Delete"}
)

// apiActivity is an OCSF API Activity event: one HTTP request or MCP tool
// call (its request, decision or result record), or one review step.
type apiActivity struct {
	base
	Actor        actor         `json:"actor"`
	API          api           `json:"api"`
	SrcEndpoint  endpoint      `json:"src_endpoint"`
	DstEndpoint  *endpoint     `json:"dst_endpoint,omitempty"`
	HTTPRequest  *httpRequest  `json:"http_request,omitempty"`
	HTTPResponse *httpResponse `json:"http_response,omitempty"`
	Resources    []resource    `json:"resources,omitempty"`
}

// apiActivity maps a request, decision or result record of an HTTP request
// or an MCP tool call.
func (m *mapper) apiActivity() any {
	ev := m.ev
	req := ev.Request
	o := gateOutcome(ev)
	var a activity
	var op, noun string
	if req.Kind == sluice.KindTool {
		op, noun = firstField(req.Text), "tool call"
		a = toolActivity(req.Class)
	} else {
		op, noun = httpMethod(req), "request"
		a = httpActivity(op)
	}
	b := m.newBase(classAPIActivity, a)
	o.apply(&b)
	b.Policy = gatePolicy(ev.Decision)
	b.Message = gateMessage(ev, o, noun)
	if ev.Type == sluice.EventResult {
		b.Duration = durationMillis(ev.Result)
	}
	b.unmapGate(ev)
	if req.Kind == sluice.KindTool {
		b.unmap("text", req.Text)
	}

	e := apiActivity{
		base:        b,
		Actor:       gateActor(req, m.sessionID()),
		API:         api{Operation: orUnknown(op)},
		SrcEndpoint: clientEndpoint(firstNonEmpty(req.ClientAddr, ev.ClientAddr)),
		DstEndpoint: connectionEndpoint(req.Connection),
	}
	if req.Connection != "" {
		e.API.Service = &service{Name: req.Connection}
	}
	if req.ID != "" {
		e.API.Request = &apiRequest{UID: req.ID}
	}
	if req.Kind == sluice.KindHTTP {
		e.HTTPRequest = httpRequestOf(req, op)
		if e.DstEndpoint != nil && e.HTTPRequest.URL != nil {
			e.DstEndpoint.Hostname, e.DstEndpoint.Port = e.HTTPRequest.URL.Hostname, e.HTTPRequest.URL.Port
		}
		if h := req.HTTP; h != nil {
			e.unmap("patterns", h.Patterns)
			e.unmap("request_body_truncated", h.BodyTruncated)
		}
	}
	if r := ev.Result; ev.Type == sluice.EventResult && r != nil {
		e.API.Response = apiResponseOf(r, o)
		if r.HTTP != nil && r.HTTP.Status != 0 {
			e.HTTPResponse = &httpResponse{
				Code:        r.HTTP.Status,
				ContentType: r.HTTP.Headers["content-type"],
				HTTPHeaders: headerList(r.HTTP.Headers),
				BodyLength:  r.HTTP.BodyBytes,
			}
		}
	}
	return e
}

// httpMethod is the request's HTTP method: from its HTTP details, or the
// first word of its text ("METHOD /path?query").
func httpMethod(req *sluice.Request) string {
	if req.HTTP != nil && req.HTTP.Method != "" {
		return strings.ToUpper(req.HTTP.Method)
	}
	return strings.ToUpper(firstField(req.Text))
}

// httpRequestOf returns the http_request object of an HTTP request. The
// URL is the upstream URL, or the path from the text when the record has
// no HTTP details.
func httpRequestOf(req *sluice.Request, method string) *httpRequest {
	hr := &httpRequest{HTTPMethod: method}
	if h := req.HTTP; h != nil {
		if h.URL != "" {
			hr.URL = parseURL(h.URL)
		}
		hr.UserAgent = h.Headers["user-agent"]
		hr.HTTPHeaders = headerList(h.Headers)
		hr.BodyLength = h.BodyBytes
	}
	if hr.URL == nil {
		_, target, _ := strings.Cut(strings.TrimSpace(req.Text), " ")
		hr.URL = parseURL(strings.TrimSpace(target))
	}
	return hr
}

// apiResponseOf returns the api.response object of a result.
func apiResponseOf(r *sluice.Result, o outcome) *apiResponse {
	resp := &apiResponse{Message: r.Tag}
	if r.HTTP != nil {
		resp.Code = r.HTTP.Status
	}
	if o.status == statusFailure {
		resp.Error = o.code
		resp.ErrorMessage = o.detail
	}
	return resp
}

// httpActivity maps an HTTP method to an API Activity activity, as for
// other API audit logs: reads, creates (POST), updates and deletes.
func httpActivity(method string) activity {
	switch method {
	case "":
		return activityUnknown
	case "GET", "HEAD", "OPTIONS":
		return apiRead
	case "POST":
		return apiCreate
	case "PUT", "PATCH":
		return apiUpdate
	case "DELETE":
		return apiDelete
	}
	return activityOther
}

// toolActivity maps the classes of an MCP tool call to an API Activity
// activity; a tool has no method to go by.
func toolActivity(c sluice.Class) activity {
	switch {
	case c == 0:
		return activityUnknown
	case c.Has(sluice.ClassDestructive):
		return apiDelete
	case c&(sluice.ClassWrite|sluice.ClassDDL) != 0:
		return apiUpdate
	case c == sluice.ClassRead:
		return apiRead
	}
	return activityOther
}

// firstField returns the first white-space separated word of s.
func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
