package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
)

func mcpCmd() *cobra.Command {
	var server, ca, fingerprint string
	cmd := &cobra.Command{
		Use:   "mcp --server URL",
		Short: "Serve the gateway's MCP tools on stdin/stdout, for MCP clients that start a command",
		Long: `sluice mcp is a stdio MCP server that forwards every tool call to the gateway's /mcp endpoint,
authenticated with the token in SLUICE_TOKEN. Configure it in an MCP client that starts servers as
commands, for example:

  claude mcp add --env SLUICE_TOKEN=... sluice -- sluice mcp --server https://sluice.internal:8433

Nothing but MCP messages is written to stdout; problems go to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hc, err := gatewayHTTPClient(server, ca, fingerprint, os.Getenv("SLUICE_TOKEN"))
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			b := &bridge{endpoint: strings.TrimRight(server, "/") + "/mcp", http: hc, log: log}
			return b.run(ctx, &mcp.StdioTransport{})
		},
	}
	cmd.Flags().StringVar(&server, "server", os.Getenv("SLUICE_SERVER"), "the gateway's HTTP address, https://host:port (env SLUICE_SERVER)")
	cmd.Flags().StringVar(&ca, "ca", os.Getenv("SLUICE_CA"), "CA bundle for the gateway's certificate (env SLUICE_CA)")
	cmd.Flags().StringVar(&fingerprint, "fingerprint", os.Getenv("SLUICE_FINGERPRINT"),
		"pin the gateway's certificate by the SHA256 fingerprint `serve` prints (env SLUICE_FINGERPRINT)")
	return cmd
}

// bridgeProtocol is the protocol version the bridge speaks to the gateway:
// the newest with sessions, so that the bridge's calls share one gate
// session per connection, as a psql session would.
const bridgeProtocol = "2025-11-25"

// bridge serves, on one transport (stdio), the tools of the gateway's MCP
// endpoint, forwarding each call and its progress notifications.
type bridge struct {
	endpoint string
	http     *http.Client
	log      *slog.Logger

	client *mcp.Client
	mu     sync.Mutex
	cs     *mcp.ClientSession // the gateway session; replaced when it is lost

	seq    atomic.Int64
	routes sync.Map // bridge progress token -> progressRoute
}

// progressRoute says where the progress of a forwarded call goes: the
// caller's session and its own progress token.
type progressRoute struct {
	ctx   context.Context
	ss    *mcp.ServerSession
	token any
}

// run connects to the gateway, lists its tools, and serves them on t until
// the client goes away or ctx ends.
func (b *bridge) run(ctx context.Context, t mcp.Transport) error {
	b.client = mcp.NewClient(&mcp.Implementation{Name: "sluice-mcp-bridge", Version: version},
		&mcp.ClientOptions{ProgressNotificationHandler: b.progress})
	cs, err := b.session(ctx)
	if err != nil {
		return err
	}
	defer func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.cs != nil {
			b.cs.Close() // ends the gateway session (its gate sessions end as client_closed)
		}
	}()
	srv := mcp.NewServer(&mcp.Implementation{Name: "sluice", Title: "sluice gateway (stdio bridge)", Version: version},
		&mcp.ServerOptions{Instructions: cs.InitializeResult().Instructions, Logger: b.log,
			Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}}})
	n := 0
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("list the gateway's tools: %w", err)
		}
		srv.AddTool(tool, b.forward)
		n++
	}
	if n == 0 {
		return errors.New("the gateway offers no MCP tools")
	}
	err = srv.Run(ctx, t)
	if err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// session returns the gateway session, connecting when there is none.
func (b *bridge) session(ctx context.Context) (*mcp.ClientSession, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cs != nil {
		return b.cs, nil
	}
	t := &mcp.StreamableClientTransport{Endpoint: b.endpoint, HTTPClient: b.http, DisableStandaloneSSE: true}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := b.client.Connect(cctx, t, &mcp.ClientSessionOptions{ProtocolVersion: bridgeProtocol})
	if err != nil {
		return nil, fmt.Errorf("connect to the gateway's MCP endpoint %s (is SLUICE_TOKEN a valid token?): %w", b.endpoint, err)
	}
	b.cs = cs
	return cs, nil
}

// lost forgets a gateway session that the gateway no longer knows (it
// restarted, or ended the session for being idle).
func (b *bridge) lost(cs *mcp.ClientSession) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cs == cs {
		b.cs = nil
		go cs.Close()
	}
}

// forward sends one tool call to the gateway and returns its result.
func (b *bridge) forward(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	params := &mcp.CallToolParams{Name: req.Params.Name}
	if len(req.Params.Arguments) > 0 {
		params.Arguments = req.Params.Arguments
	}
	if token := req.Params.GetProgressToken(); token != nil {
		local := fmt.Sprintf("sluice-bridge-%d", b.seq.Add(1))
		params.SetProgressToken(local)
		b.routes.Store(local, progressRoute{ctx: ctx, ss: req.Session, token: token})
		defer b.routes.Delete(local)
	}
	for attempt := 0; ; attempt++ {
		cs, err := b.session(ctx)
		if err != nil {
			return bridgeError(err), nil
		}
		res, err := cs.CallTool(ctx, params)
		if errors.Is(err, mcp.ErrSessionMissing) && attempt == 0 {
			// The gateway refused the call before running it: its session
			// is gone. Start a new one and send the call again.
			b.lost(cs)
			continue
		}
		if err != nil {
			if errors.Is(err, mcp.ErrConnectionClosed) {
				b.lost(cs)
			}
			return bridgeError(err), nil
		}
		return res, nil
	}
}

// bridgeError is the tool error for a call that could not be forwarded.
func bridgeError(err error) *mcp.CallToolResult {
	res := &mcp.CallToolResult{}
	res.SetError(fmt.Errorf("sluice mcp could not forward the call to the gateway: %v", err))
	return res
}

// progress forwards a progress notification of the gateway to the client
// whose call it belongs to.
func (b *bridge) progress(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
	local, _ := req.Params.ProgressToken.(string)
	v, ok := b.routes.Load(local)
	if !ok {
		return
	}
	r := v.(progressRoute)
	err := r.ss.NotifyProgress(r.ctx, &mcp.ProgressNotificationParams{ProgressToken: r.token,
		Progress: req.Params.Progress, Total: req.Params.Total, Message: req.Params.Message})
	if err != nil {
		b.log.Debug("forward progress", "err", err)
	}
}

// gatewayHTTPClient returns an HTTP client for the gateway at server that
// sends token on every request and trusts the gateway as told: by the
// system roots, a CA bundle, or a pinned certificate fingerprint.
func gatewayHTTPClient(server, ca, fingerprint, token string) (*http.Client, error) {
	if server == "" {
		return nil, errors.New("no gateway: pass --server or set SLUICE_SERVER")
	}
	if token == "" {
		return nil, errors.New("no token: set SLUICE_TOKEN to your token")
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not a URL like https://sluice.internal:8433", server)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, errors.New("plain http is allowed for loopback only: the token would cross the network in clear")
		}
	default:
		return nil, errors.New("--server must be https://...")
	}
	tc, err := gatewayTLS(ca, fingerprint)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: &bearerTransport{base: tr, host: u.Host, token: token}}, nil
}

// bearerTransport adds the caller's token to requests to the gateway, and
// to no other host.
type bearerTransport struct {
	base  http.RoundTripper
	host  string
	token string
}

func (t *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == t.host {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+t.token)
	}
	return t.base.RoundTrip(r)
}

// gatewayTLS is the TLS configuration for reaching the gateway: the system
// roots, or the CA bundle in ca, or, with fingerprint, exactly the
// certificate whose SHA-256 fingerprint `sluice serve` printed.
func gatewayTLS(ca, fingerprint string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", ca)
		}
		tc.RootCAs = pool
	}
	if fingerprint != "" {
		want := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(fingerprint, "SHA256:"), ":", ""))
		if len(want) != 64 {
			return nil, fmt.Errorf("--fingerprint %q is not a SHA256 fingerprint like SHA256:AB:CD:...", fingerprint)
		}
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
	return tc, nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
