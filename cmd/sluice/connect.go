package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/spf13/cobra"
)

func connectCmd() *cobra.Command {
	var listen, gateway, ca, fingerprint string
	cmd := &cobra.Command{
		Use:   "connect CONNECTION --postgres HOST:PORT",
		Short: "Open a local PostgreSQL endpoint that reaches CONNECTION through the gateway with your token",
		Long: `sluice connect listens on a loopback address and accepts PostgreSQL clients there without a
password. Each client is connected to the gateway's PostgreSQL listener over TLS, with the token in
SLUICE_TOKEN as its password and CONNECTION as its database; then the session is relayed. Any tool
that takes a postgres:// URL can then go through sluice:

  SLUICE_TOKEN=... sluice connect orders --postgres sluice.internal:5433 --listen 127.0.0.1:15432
  psql postgresql://127.0.0.1:15432/orders

The database name the local client asks for is ignored: the endpoint reaches CONNECTION only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r, err := newPGRelay(args[0], gateway, ca, fingerprint, os.Getenv("SLUICE_TOKEN"))
			if err != nil {
				return err
			}
			r.log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ln, err := listenLoopback(listen)
			if err != nil {
				return err
			}
			defer ln.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "sluice connect: listening on %s\n  connection %q through the gateway at %s (no password needed, loopback only)\n  psql postgresql://%s/%s\n",
				ln.Addr(), r.conn, r.gateway, ln.Addr(), url.PathEscape(r.conn))
			return r.serve(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:15432", "the local address to listen on; loopback only")
	cmd.Flags().StringVar(&gateway, "postgres", os.Getenv("SLUICE_POSTGRES"), "the gateway's PostgreSQL listener, host:port (env SLUICE_POSTGRES)")
	cmd.Flags().StringVar(&ca, "ca", os.Getenv("SLUICE_CA"), "CA bundle for the gateway's certificate (env SLUICE_CA)")
	cmd.Flags().StringVar(&fingerprint, "fingerprint", os.Getenv("SLUICE_FINGERPRINT"),
		"pin the gateway's certificate by the SHA256 fingerprint `serve` prints (env SLUICE_FINGERPRINT)")
	return cmd
}

// listenLoopback listens on addr, which must be a loopback address: the
// endpoint asks for no password, so only this machine may reach it.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopbackHost(host) {
		return nil, fmt.Errorf("--listen %q must be a loopback address like 127.0.0.1:15432: the endpoint asks for no password", addr)
	}
	return net.Listen("tcp", addr)
}

// pgRelay accepts local PostgreSQL clients and relays each to the gateway.
type pgRelay struct {
	conn    string // the connection name, sent as the database
	gateway string // host:port of the gateway's PostgreSQL listener
	tls     *tls.Config
	token   string
	log     *slog.Logger
	dialer  net.Dialer
	wg      sync.WaitGroup
}

func newPGRelay(conn, gateway, ca, fingerprint, token string) (*pgRelay, error) {
	if token == "" {
		return nil, errors.New("no token: set SLUICE_TOKEN to your token")
	}
	if gateway == "" {
		return nil, errors.New("no gateway: pass --postgres HOST:PORT (the gateway's PostgreSQL listener) or set SLUICE_POSTGRES")
	}
	host, _, err := net.SplitHostPort(gateway)
	if err != nil {
		return nil, fmt.Errorf("--postgres %q is not host:port", gateway)
	}
	tc, err := gatewayTLS(ca, fingerprint)
	if err != nil {
		return nil, err
	}
	tc.ServerName = host
	return &pgRelay{conn: conn, gateway: gateway, tls: tc, token: token, dialer: net.Dialer{Timeout: 10 * time.Second}}, nil
}

// serve accepts clients until ctx ends, then waits for the sessions relaying.
func (r *pgRelay) serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer r.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		r.wg.Go(func() {
			defer c.Close()
			r.handle(ctx, c)
		})
	}
}

// Startup packet codes.
const (
	sslRequestCode    = 80877103
	gssencRequestCode = 80877104
	cancelRequestCode = 80877102
	maxStartupPacket  = 10000
)

// handle serves one local client: its startup (refusing SSL, which loopback
// does not need), the startup and authentication with the gateway on its
// behalf, and then the session, relayed byte for byte.
func (r *pgRelay) handle(ctx context.Context, local net.Conn) {
	if ap, err := netip.ParseAddrPort(local.RemoteAddr().String()); err != nil || !ap.Addr().Unmap().IsLoopback() {
		return
	}
	local.SetDeadline(time.Now().Add(30 * time.Second))
	lr := bufio.NewReader(local)
	var params map[string]string
	var proto uint32
	for params == nil {
		code, packet, err := readStartup(lr)
		if err != nil {
			return
		}
		switch code {
		case sslRequestCode, gssencRequestCode:
			if _, err := local.Write([]byte{'N'}); err != nil {
				return
			}
		case cancelRequestCode:
			r.cancel(ctx, packet)
			return
		default:
			if code>>16 != 3 {
				fatal(local, "0A000", fmt.Sprintf("unsupported frontend protocol %d.%d", code>>16, code&0xffff))
				return
			}
			proto = code
			if params, err = startupParams(packet[8:]); err != nil {
				fatal(local, "08P01", "invalid startup packet")
				return
			}
		}
	}
	params["database"] = r.conn
	if params["user"] == "" {
		params["user"] = "sluice"
	}

	gw, err := r.dial(ctx)
	if err != nil {
		r.log.Warn("cannot reach the gateway", "gateway", r.gateway, "err", err)
		fatal(local, "08006", fmt.Sprintf("sluice connect cannot reach the gateway at %s: %v", r.gateway, err))
		return
	}
	defer gw.Close()
	gr := bufio.NewReader(gw)
	if _, err := gw.Write(startupPacket(proto, params)); err != nil {
		fatal(local, "08006", "sluice connect lost the gateway during startup")
		return
	}
	if !r.authenticate(local, gw, gr) {
		return
	}
	local.SetDeadline(time.Time{})
	gw.SetDeadline(time.Time{})
	relay(ctx, local, lr, gw, gr)
}

// authenticate answers the gateway's password request with the token and
// passes everything else of the authentication phase to the local client.
// It returns true after AuthenticationOk has been passed on.
func (r *pgRelay) authenticate(local net.Conn, gw net.Conn, gr *bufio.Reader) bool {
	for {
		typ, body, err := readMessage(gr)
		if err != nil {
			fatal(local, "08006", "sluice connect lost the gateway during authentication")
			return false
		}
		switch {
		case typ == 'R' && len(body) >= 4 && binary.BigEndian.Uint32(body) == 3: // cleartext password
			msg, _ := (&pgproto3.PasswordMessage{Password: r.token}).Encode(nil)
			if _, err := gw.Write(msg); err != nil {
				fatal(local, "08006", "sluice connect lost the gateway during authentication")
				return false
			}
		case typ == 'R' && len(body) >= 4 && binary.BigEndian.Uint32(body) == 0: // AuthenticationOk
			return writeMessage(local, typ, body) == nil
		case typ == 'E', typ == 'v', typ == 'N':
			// An error (a refused token, no grant), a protocol version
			// negotiation or a notice: the client reads it as from a server.
			if writeMessage(local, typ, body) != nil || typ == 'E' {
				return false
			}
		default:
			fatal(local, "08P01", fmt.Sprintf("the gateway asked for an authentication sluice connect does not support (message %q)", typ))
			return false
		}
	}
}

// relay copies both directions until either side ends or ctx does,
// including what the readers hold already.
func relay(ctx context.Context, local net.Conn, lr *bufio.Reader, gw net.Conn, gr *bufio.Reader) {
	stop := context.AfterFunc(ctx, func() { local.Close(); gw.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(gw, lr)
		gw.Close()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(local, gr)
		local.Close()
		done <- struct{}{}
	}()
	<-done
	<-done
}

// dial opens a TLS connection to the gateway's PostgreSQL listener.
func (r *pgRelay) dial(ctx context.Context) (net.Conn, error) {
	raw, err := r.dialer.DialContext(ctx, "tcp", r.gateway)
	if err != nil {
		return nil, err
	}
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, 8)
	binary.BigEndian.PutUint32(req[4:], sslRequestCode)
	if _, err := raw.Write(req); err != nil {
		raw.Close()
		return nil, err
	}
	var answer [1]byte
	if _, err := io.ReadFull(raw, answer[:]); err != nil {
		raw.Close()
		return nil, err
	}
	if answer[0] != 'S' {
		raw.Close()
		return nil, errors.New("the gateway does not offer TLS; the token is never sent in clear")
	}
	tc := tls.Client(raw, r.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tc, nil
}

// cancel forwards a client's cancel request to the gateway. The key in it
// is the one the gateway issued (the relay passes BackendKeyData through),
// so the gateway finds the session. Like PostgreSQL, nothing is answered.
func (r *pgRelay) cancel(ctx context.Context, packet []byte) {
	gw, err := r.dial(ctx)
	if err != nil {
		r.log.Warn("cannot forward a cancel request", "gateway", r.gateway, "err", err)
		return
	}
	defer gw.Close()
	gw.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := gw.Write(packet); err != nil {
		return
	}
	io.Copy(io.Discard, gw) // the gateway closes once it has read the request
}

// readStartup reads one length-prefixed startup packet and returns its
// code and the whole packet.
func readStartup(r *bufio.Reader) (uint32, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupPacket {
		return 0, nil, errors.New("invalid startup packet length")
	}
	packet := make([]byte, n)
	copy(packet, hdr[:])
	if _, err := io.ReadFull(r, packet[4:]); err != nil {
		return 0, nil, err
	}
	return binary.BigEndian.Uint32(packet[4:]), packet, nil
}

// startupParams decodes a StartupMessage's name/value pairs.
func startupParams(b []byte) (map[string]string, error) {
	params := map[string]string{}
	for {
		i := bytes.IndexByte(b, 0)
		switch {
		case i < 0:
			return nil, errors.New("missing terminator")
		case i == 0:
			return params, nil
		}
		key := string(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return nil, errors.New("missing value")
		}
		params[key] = string(b[:j])
		b = b[j+1:]
	}
}

// startupPacket encodes a StartupMessage for protocol version proto.
func startupPacket(proto uint32, params map[string]string) []byte {
	b := make([]byte, 8, 256)
	binary.BigEndian.PutUint32(b[4:], proto)
	for k, v := range params {
		b = append(append(append(append(b, k...), 0), v...), 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// readMessage reads one backend message.
func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[1:])))
	if n < 4 || n > 1<<20 {
		return 0, nil, errors.New("invalid message length")
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

// writeMessage writes one message.
func writeMessage(w io.Writer, typ byte, body []byte) error {
	b := make([]byte, 5, 5+len(body))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	_, err := w.Write(append(b, body...))
	return err
}

// fatal sends the local client a FATAL error; the caller closes.
func fatal(w io.Writer, code, msg string) {
	b, _ := (&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg}).Encode(nil)
	w.Write(b)
}
