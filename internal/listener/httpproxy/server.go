// Package httpproxy is sluice's HTTP API front door: requests to
// /proxy/<connection>/<path> on the HTTP listener go to the connection's
// base URL with the credential only sluice holds. Each request goes through
// the gate like a SQL statement: the gate classifies it (method, path
// patterns), decides, holds it for review while the client waits, and
// journals it before it is forwarded; the response streams back masked as
// the session's policy says, and is recorded as the agent saw it.
//
// The agent authenticates with its own token (Authorization: Bearer, or
// x-api-key on a connection with preset anthropic), which is removed
// before the request goes upstream.
package httpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/store"
	httpup "github.com/sluicehq/sluice/internal/upstream/http"
)

// Authenticator turns a token into an identity.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*sluice.Identity, error)
}

// UsageStore counts each subject's daily tokens and holds the reservations
// of requests in flight, shared by every replica (see store.Store).
type UsageStore interface {
	AddUsage(ctx context.Context, subject, connection, day string, tokens int64) (int64, error)
	ReserveTokens(ctx context.Context, r store.TokenReservation, limit int64, now time.Time) (used, reserved int64, ok bool, err error)
	ReleaseTokens(ctx context.Context, id string) error
}

// Conn is one HTTP connection.
type Conn struct {
	Name     string
	Upstream *httpup.Upstream
	// Anthropic turns on the Claude API preset.
	Anthropic bool
	// Budgets cap subjects' daily tokens; the first match applies.
	Budgets []Budget
}

// Budget is a daily token cap for the subjects it names.
type Budget struct {
	Subjects    []policy.Subject
	DailyTokens int64
}

// Defaults of the Server's settings.
const (
	DefaultMaxBodyBytes = 16 << 20
	DefaultSessionIdle  = 5 * time.Minute
)

// Server is the proxy. Set its fields, then mount it with Routes. It is
// safe for concurrent use; Close ends its sessions.
type Server struct {
	Gate  *gate.Gate
	Authn Authenticator
	Conns map[string]*Conn
	// Usage keeps token budgets' counts; nil disables budgets.
	Usage UsageStore
	// MaxBodyBytes caps request bodies (read whole: the decision and the
	// write-ahead record need them) and JSON response bodies that must be
	// masked whole. Default 16 MiB.
	MaxBodyBytes int
	// CaptureBytes caps the bodies kept in the audit record.
	CaptureBytes int
	// SessionIdle ends a caller's session after this long without a
	// request. Default 5m.
	SessionIdle time.Duration
	Log         *slog.Logger
	// Now returns the current time; tests may replace it before use.
	Now func() time.Time

	once     sync.Once
	mu       sync.Mutex
	closed   bool
	sessions map[sessionKey]*session
	stop     chan struct{}
	reaper   sync.WaitGroup
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.MaxBodyBytes <= 0 {
			s.MaxBodyBytes = DefaultMaxBodyBytes
		}
		if s.SessionIdle <= 0 {
			s.SessionIdle = DefaultSessionIdle
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		s.sessions = map[sessionKey]*session{}
		s.stop = make(chan struct{})
		s.reaper.Go(s.reap)
	})
}

// Routes mounts the proxy at /proxy/ on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	s.init()
	mux.Handle("/proxy/", s)
}

// caller is an authenticated client of one request.
type caller struct {
	id       *sluice.Identity
	addr     netip.AddrPort
	protocol sluice.Protocol
}

// ServeHTTP authenticates the request and proxies it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	name, rest := splitProxyPath(r.URL.EscapedPath())
	cn := s.Conns[name]
	if cn == nil {
		writeError(w, nil, sluice.Errorf(sluice.ENotFound, "no HTTP connection %q: requests go to /proxy/<connection>/<path>", name))
		return
	}
	tok, ok := token(r, cn)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		writeError(w, cn, sluice.Errorf(sluice.EUnauthenticated, "send your sluice token: Authorization: Bearer <token>"))
		return
	}
	addr := remoteAddr(r)
	id, err := s.Authn.Authenticate(r.Context(), tok)
	if err != nil {
		e := sluice.AsError(err)
		if e.Code == sluice.EUnauthenticated {
			s.Gate.AuthFailure(r.Context(), gate.SessionInfo{Connection: name, Protocol: sluice.ProtoHTTP, ClientAddr: addr}, e.Message)
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice", error="invalid_token"`)
		} else {
			w.Header().Set("Retry-After", "5")
		}
		writeError(w, cn, e)
		return
	}
	s.proxy(w, r, &caller{id: id, addr: addr, protocol: sluice.ProtoHTTP}, cn, rest, hold{})
}

// splitProxyPath splits /proxy/<name>/<rest> into name and /rest.
func splitProxyPath(p string) (name, rest string) {
	p = strings.TrimPrefix(p, "/proxy/")
	name, rest, _ = strings.Cut(p, "/")
	return name, "/" + rest
}

// token returns the caller's token: the bearer token or, on a Claude API
// connection, the x-api-key header the Anthropic SDKs send.
func token(r *http.Request, cn *Conn) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) != "" {
		return strings.TrimSpace(tok), true
	}
	if cn.Anthropic {
		if k := strings.TrimSpace(r.Header.Get("X-Api-Key")); k != "" {
			return k, true
		}
	}
	return "", false
}

// writeError answers with e's status and a JSON body: Anthropic's error
// shape on a Claude API connection (so its SDKs show the message), else
// sluice's.
func writeError(w http.ResponseWriter, cn *Conn, e *sluice.Error) {
	status := e.HTTPStatus()
	var body any
	if cn != nil && cn.Anthropic {
		body = map[string]any{"type": "error", "error": map[string]string{
			"type": anthropicErrorType(status), "message": fullMessage(e)}}
	} else {
		body = map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message,
			"detail": e.Detail, "hint": e.Hint}}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// fullMessage joins an error's message, detail and hint in one line.
func fullMessage(e *sluice.Error) string {
	m := e.Message
	for _, s := range []string{e.Detail, e.Hint} {
		if s != "" {
			m += " (" + s + ")"
		}
	}
	return m
}

// remoteAddr returns the client's address, or the zero value.
func remoteAddr(r *http.Request) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return netip.AddrPortFrom(a, 0)
}

// errClientGone says the client went away before the response ended.
var errClientGone = errors.New("client went away")
