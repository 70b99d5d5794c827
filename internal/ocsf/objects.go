package ocsf

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// The OCSF objects sluice events use, with only the attributes sluice
// fills. Names and requirements follow OCSF 1.4.0.

// metadata is the OCSF metadata object.
type metadata struct {
	Version string  `json:"version"`
	Product product `json:"product"`
	// UID is "journal:<seq>", unique per record.
	UID string `json:"uid"`
	// CorrelationUID is the sluice session id, shared by every record of
	// a session.
	CorrelationUID string `json:"correlation_uid,omitempty"`
	// Sequence is the journal sequence number.
	Sequence uint64 `json:"sequence"`
	// EventCode is the sluice event type (request, result, ...).
	EventCode   string   `json:"event_code,omitempty"`
	LoggedTime  int64    `json:"logged_time,omitempty"`
	LogName     string   `json:"log_name"`
	LogProvider string   `json:"log_provider"`
	Profiles    []string `json:"profiles,omitempty"`
}

// product is the OCSF product object.
type product struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

// user is the OCSF user object.
type user struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
	// Groups are the caller's groups and roles, by name.
	Groups []group `json:"groups,omitempty"`
	// CredentialUID is the id of the token the caller presented.
	CredentialUID string `json:"credential_uid,omitempty"`
}

// group is the OCSF group object.
type group struct {
	Name string `json:"name"`
}

// session is the OCSF session object: a sluice session.
type session struct {
	UID            string `json:"uid,omitempty"`
	CreatedTime    int64  `json:"created_time,omitempty"`
	ExpirationTime int64  `json:"expiration_time,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	CredentialUID  string `json:"credential_uid,omitempty"`
	IsRemote       bool   `json:"is_remote,omitempty"`
}

// actor is the OCSF actor object.
type actor struct {
	User    *user    `json:"user,omitempty"`
	Session *session `json:"session,omitempty"`
	// AppName is the OAuth client that obtained the caller's token, or
	// the sluice component that acted on its own.
	AppName string `json:"app_name,omitempty"`
}

// endpoint is the OCSF network_endpoint object.
type endpoint struct {
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Name     string `json:"name,omitempty"`
	// SvcName is the sluice connection name.
	SvcName string `json:"svc_name,omitempty"`
}

// policy is the OCSF policy object of the security_control profile.
type policy struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
	Desc string `json:"desc,omitempty"`
}

// service is the OCSF service object.
type service struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// urlObject is the OCSF url object.
type urlObject struct {
	URLString   string `json:"url_string"`
	Scheme      string `json:"scheme,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Port        int    `json:"port,omitempty"`
	Path        string `json:"path,omitempty"`
	QueryString string `json:"query_string,omitempty"`
}

// header is one entry of http_headers.
type header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// httpRequest is the OCSF http_request object.
type httpRequest struct {
	HTTPMethod  string     `json:"http_method,omitempty"`
	URL         *urlObject `json:"url"`
	UserAgent   string     `json:"user_agent,omitempty"`
	HTTPHeaders []header   `json:"http_headers,omitempty"`
	BodyLength  int64      `json:"body_length,omitempty"`
}

// httpResponse is the OCSF http_response object.
type httpResponse struct {
	Code        int      `json:"code"`
	ContentType string   `json:"content_type,omitempty"`
	HTTPHeaders []header `json:"http_headers,omitempty"`
	BodyLength  int64    `json:"body_length,omitempty"`
}

// api is the OCSF api object.
type api struct {
	Operation string       `json:"operation"`
	Service   *service     `json:"service,omitempty"`
	Request   *apiRequest  `json:"request,omitempty"`
	Response  *apiResponse `json:"response,omitempty"`
}

// apiRequest is the OCSF request object: the sluice request id.
type apiRequest struct {
	UID string `json:"uid"`
}

// apiResponse is the OCSF response object.
type apiResponse struct {
	Code         int    `json:"code,omitempty"`
	Error        string `json:"error,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	Message      string `json:"message,omitempty"`
}

// queryInfo is the OCSF query_info object.
type queryInfo struct {
	// QueryString is the statement exactly as recorded (already masked).
	QueryString string `json:"query_string"`
	// UID is the sluice request id.
	UID       string `json:"uid,omitempty"`
	QueryTime int64  `json:"query_time,omitempty"`
}

// database is the OCSF database object.
type database struct {
	Name   string `json:"name,omitempty"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type,omitempty"`
}

// resource is the OCSF resource_details object.
type resource struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// unknownName stands in for a name OCSF requires and the record lacks.
const unknownName = "unknown"

// millis returns t in milliseconds since the epoch, or 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// groups returns names as OCSF group objects.
func groups(names []string) []group {
	if len(names) == 0 {
		return nil
	}
	gs := make([]group, len(names))
	for i, n := range names {
		gs[i] = group{Name: n}
	}
	return gs
}

// identityUser returns the user an Identity describes, or nil.
func identityUser(id *sluice.Identity) *user {
	if id == nil || (id.Subject == "" && id.Name == "") {
		return nil
	}
	return &user{UID: id.Subject, Name: id.Name, Groups: groups(id.Groups), CredentialUID: id.TokenID}
}

// requestUser returns the user a request names (subject and groups), or nil.
func requestUser(req *sluice.Request) *user {
	if req == nil || req.Subject == "" {
		return nil
	}
	return &user{UID: req.Subject, Groups: groups(req.Groups)}
}

// clientEndpoint parses a client address ("ip:port", or anything else the
// front door recorded) into a network endpoint. An empty address gives an
// endpoint named "unknown", since the classes that use it require one.
func clientEndpoint(addr string) endpoint {
	if addr == "" {
		return endpoint{Name: unknownName}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	ep := endpoint{}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		ep.IP = ip.String()
	} else {
		ep.Name = host
	}
	if p, err := strconv.Atoi(port); err == nil {
		ep.Port = p
	}
	return ep
}

// connectionEndpoint returns the endpoint for a sluice connection, or nil
// when the record names none.
func connectionEndpoint(conn string) *endpoint {
	if conn == "" {
		return nil
	}
	return &endpoint{SvcName: conn}
}

// parseURL returns the OCSF url object for raw. A URL that does not parse
// keeps its text only.
func parseURL(raw string) *urlObject {
	u, err := url.Parse(raw)
	if err != nil {
		return &urlObject{URLString: raw}
	}
	o := &urlObject{URLString: raw, Scheme: u.Scheme, Hostname: u.Hostname(), Path: u.EscapedPath(), QueryString: u.RawQuery}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		o.Port = p
	}
	return o
}

// headerList returns headers in name order.
func headerList(h map[string]string) []header {
	if len(h) == 0 {
		return nil
	}
	out := make([]header, 0, len(h))
	for n, v := range h {
		out = append(out, header{Name: n, Value: v})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(a.Name, b.Name) })
	return out
}
