// Package mcp is sluice's MCP front door: an MCP server on the HTTP
// listener at /mcp (Streamable HTTP), whose tools let an agent list the
// connections it may use, describe them and query them. Every statement a
// tool runs goes through the gate like a psql statement: the gate checks the
// grant, classifies, decides, journals and holds for review; this package
// only translates tool calls into requests and results into tool results.
//
// Callers authenticate every HTTP request with a bearer token (OIDC or a
// sluice service token), as the MCP authorization specification asks; the
// token never leaves the gateway. The endpoint speaks the initialize-based
// protocol versions (2024-11-05 to 2025-11-25), where an MCP session keeps
// one gate session and upstream connection per database connection until the
// client ends it or it stays idle too long, and the stateless 2026-07-28
// version, where each call has its own.
package mcp

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
)

// Authenticator turns a bearer token into an identity (the subset of authn
// used here).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*sluice.Identity, error)
}

// Policies is the subset of the policy engine used here: whether an
// identity may use a connection, and what the grant's rules decide, to
// summarize them for list_connections. Deciding requests is the gate's job.
type Policies interface {
	Grant(id *sluice.Identity, conn string, addr netip.Addr) *policy.Policy
	Decide(p *policy.Policy, in *policy.Input) sluice.Decision
}

// Connector opens an authenticated upstream connection for a named
// connection, with the credential only sluice holds.
type Connector interface {
	Connect(ctx context.Context, connection string, params map[string]string) (*pgconn.PgConn, error)
}

// Reviews is the subset of the review flow used here.
type Reviews interface {
	Get(ctx context.Context, id string) (*sluice.Review, error)
}

// Defaults of the Server's settings.
const (
	DefaultReviewWait  = 20 * time.Second
	DefaultSessionIdle = 10 * time.Minute
)

// Server is the MCP endpoint. Set its fields, then mount it with Routes; it
// is safe for concurrent use afterwards. Close ends every session.
type Server struct {
	Gate     *gate.Gate
	Authn    Authenticator
	Policies Policies
	Upstream Connector
	Reviews  Reviews
	// Connections names every connection with its type.
	Connections map[string]sluice.ConnType
	// Auditors may see every review with review_status.
	Auditors []policy.Subject
	// HTTP sends http_request calls through the HTTP proxy; nil serves no
	// http_request tool.
	HTTP HTTPCaller
	// Masker masks results and database messages before the agent sees
	// them; nil masks nothing.
	Masker Masker
	// Issuers are the OIDC issuers that issue tokens for sluice, named as
	// authorization servers in the protected resource metadata.
	Issuers []string
	// URL is the endpoint's public URL; empty takes it from each request.
	URL string
	// AllowedOrigins are the browser origins that may call the endpoint;
	// requests with another Origin header are refused.
	AllowedOrigins []string
	// ReviewWait bounds how long a held call waits before it returns a
	// pending result (default 20s); SessionIdle ends idle MCP sessions
	// (default 10m).
	ReviewWait  time.Duration
	SessionIdle time.Duration
	// CaptureRows and CaptureBytes bound the rows of each result kept for
	// the audit record; zero captures nothing.
	CaptureRows  int
	CaptureBytes int
	// Version is the gateway's version, reported to clients.
	Version string
	Log     *slog.Logger

	once      sync.Once
	sdk       *sdk.Server
	stateful  http.Handler
	stateless http.Handler
	ctx       context.Context // ends at Close: every call derives from it
	cancel    context.CancelFunc

	mu       sync.Mutex
	closed   bool
	done     chan struct{}          // closed when Close has finished
	sessions map[string]*mcpSession // stateful MCP sessions by id
	conns    map[*upConn]struct{}   // every open upstream connection
	watchers sync.WaitGroup
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.ReviewWait <= 0 {
			s.ReviewWait = DefaultReviewWait
		}
		if s.SessionIdle <= 0 {
			s.SessionIdle = DefaultSessionIdle
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		if s.Version == "" {
			s.Version = "dev"
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		// The SDK reports every session's start and end at info level;
		// sluice logs its own sessions, so only the SDK's problems matter.
		sdkLog := slog.New(minLevel{slog.LevelWarn, s.Log.With("part", "mcp-sdk").Handler()})
		s.sessions = map[string]*mcpSession{}
		s.conns = map[*upConn]struct{}{}
		s.done = make(chan struct{})
		s.sdk = sdk.NewServer(&sdk.Implementation{Name: "sluice", Title: "sluice gateway", Version: s.Version},
			&sdk.ServerOptions{
				Instructions: instructions,
				Logger:       sdkLog,
				Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}},
				InitializedHandler: func(_ context.Context, req *sdk.InitializedRequest) {
					s.session(req.Session, userOf(req.Extra))
				},
			})
		s.addTools()
		getServer := func(*http.Request) *sdk.Server { return s.sdk }
		withTokenInfo := auth.RequireBearerToken(tokenInfo, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})
		// The SDK's own DNS-rebinding guard refuses any Host but loopback on
		// a loopback listener, which would also refuse a reverse proxy on
		// the same machine. It is not needed: every request needs a token,
		// and ServeHTTP refuses browser origins that are not allowed.
		s.stateful = withTokenInfo(sdk.NewStreamableHTTPHandler(getServer,
			&sdk.StreamableHTTPOptions{SessionTimeout: s.SessionIdle, Logger: sdkLog, DisableLocalhostProtection: true}))
		s.stateless = withTokenInfo(sdk.NewStreamableHTTPHandler(getServer,
			&sdk.StreamableHTTPOptions{Stateless: true, Logger: sdkLog, DisableLocalhostProtection: true}))
	})
}

// instructions tell the agent how the tools fit together.
const instructions = `sluice is the gateway to production databases and APIs. Every call is checked against policy, ` +
	`recorded in a tamper-evident audit journal, and results may be masked.
Start with list_connections to see the connections you may use and what their rules allow; describe shows ` +
	`their tables and columns; query runs SQL; http_request calls an HTTP API connection.
A statement that a rule holds for human approval returns status "pending_review" with a review id: check it ` +
	`with review_status, and once it is approved call query again with exactly the same SQL on the same ` +
	`connection; it then runs once.`

// Routes registers the endpoint and its OAuth protected resource metadata
// on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	s.init()
	mux.Handle("/mcp", s)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", s.metadata)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", s.metadata)
	mux.HandleFunc("OPTIONS /.well-known/oauth-protected-resource", s.metadata)
	mux.HandleFunc("OPTIONS /.well-known/oauth-protected-resource/mcp", s.metadata)
}

// newProtocol is the first protocol version without sessions; its requests
// are served statelessly.
const newProtocol = "2026-07-28"

// ServeHTTP serves /mcp: it checks the Origin, authenticates the bearer
// token, and hands the request to the SDK's Streamable HTTP handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	origin := r.Header.Get("Origin")
	if !s.originAllowed(origin) {
		s.Log.Info("MCP request from a browser origin that is not allowed refused", "origin", origin, "remote", r.RemoteAddr)
		http.Error(w, "Forbidden: origin "+origin+" is not allowed (mcp.allowed_origins)", http.StatusForbidden)
		return
	}
	if origin != "" {
		corsHeaders(w, origin)
		if r.Method == http.MethodOptions {
			preflight(w)
			return
		}
	}
	if s.isClosed() {
		http.Error(w, "sluice is shutting down", http.StatusServiceUnavailable)
		return
	}
	c, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
	id := r.Header.Get("Mcp-Session-Id")
	if r.Method == http.MethodDelete && id != "" {
		s.ending(id, c, sluice.EndClient)
	}
	if r.Method == http.MethodPost && r.Header.Get("Mcp-Protocol-Version") >= newProtocol {
		s.stateless.ServeHTTP(w, r)
		return
	}
	s.stateful.ServeHTTP(w, r)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends every MCP session: calls in progress are canceled, and every
// gate session is recorded as ended by the gateway's shutdown. Every call
// returns once they are; only the first acts.
func (s *Server) Close() {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	defer close(s.done)
	s.closed = true
	sessions := make([]*mcpSession, 0, len(s.sessions))
	for _, ms := range s.sessions {
		sessions = append(sessions, ms)
	}
	conns := make([]*upConn, 0, len(s.conns))
	for uc := range s.conns {
		conns = append(conns, uc)
	}
	s.mu.Unlock()
	s.cancel()
	for _, ms := range sessions {
		ms.setReason(sluice.EndShutdown)
	}
	var wg sync.WaitGroup
	for _, uc := range conns {
		wg.Go(func() { s.closeConn(uc, sluice.EndShutdown) })
	}
	wg.Wait()
	for _, ms := range sessions {
		ms.ss.Close()
	}
	s.watchers.Wait()
}

// minLevel is a slog handler that drops records below a level.
type minLevel struct {
	min slog.Level
	slog.Handler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.min, h.Handler.WithAttrs(as)}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.min, h.Handler.WithGroup(name)}
}
