package pgwire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
)

// Startup packet codes (the first int32 after the length).
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
	maxStartupLen     = 10000 // PostgreSQL's own limit
	maxPasswordLen    = 64 << 10
)

// startup is what the client asked for in its startup phase.
type startup struct {
	conn    net.Conn      // the client connection, TLS when negotiated
	r       *bufio.Reader // reads conn; may hold data the client sent ahead
	tls     bool
	params  map[string]string
	unknown []string // _pq_. protocol options to report as unsupported
	minor   uint32   // requested protocol minor version
	cancel  *pgproto3.CancelRequest
}

// errStartup is a startup failure to report to the client before closing.
func errStartup(code, sqlstate, format string, args ...any) *sluice.Error {
	return &sluice.Error{Code: code, SQLStateCode: sqlstate, Message: fmt.Sprintf(format, args...)}
}

// readStartup reads the client's startup packets: it answers SSLRequest (TLS
// when configured) and GSSENCRequest (always refused), and returns at the
// StartupMessage or a CancelRequest.
// On error, st.conn is where an error response can still be written.
func (srv *Server) readStartup(ctx context.Context, st *startup) error {
	raw := st.conn
	sslAsked, gssAsked := false, false
	for {
		code, body, err := readStartupPacket(st.r)
		if err != nil {
			return err
		}
		switch code {
		case codeSSLRequest:
			if sslAsked || st.tls {
				return errStartup(sluice.EProtocol, "08P01", "duplicate SSL negotiation")
			}
			sslAsked = true
			if srv.TLS == nil {
				if _, err := raw.Write([]byte{'N'}); err != nil {
					return err
				}
				continue
			}
			if _, err := raw.Write([]byte{'S'}); err != nil {
				return err
			}
			// Bytes sent before the handshake would be read as if they came
			// over TLS; PostgreSQL rejects this too (CVE-2021-23214).
			if st.r.Buffered() > 0 {
				return errStartup(sluice.EProtocol, "08P01", "received unencrypted data after SSL request")
			}
			tc := tls.Server(raw, srv.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				return fmt.Errorf("tls handshake: %w", err)
			}
			st.conn, st.r, st.tls = tc, bufio.NewReaderSize(tc, 4096), true
		case codeGSSENCRequest:
			if gssAsked || st.tls {
				return errStartup(sluice.EProtocol, "08P01", "duplicate GSS negotiation")
			}
			gssAsked = true
			if _, err := st.conn.Write([]byte{'N'}); err != nil {
				return err
			}
		case codeCancelRequest:
			var cr pgproto3.CancelRequest
			if err := cr.Decode(body); err != nil {
				return errStartup(sluice.EProtocol, "08P01", "invalid cancel request")
			}
			st.cancel = &cr
			return nil
		default:
			major, minor := code>>16, code&0xffff
			if major != 3 {
				return errStartup(sluice.EProtocol, "0A000",
					"unsupported frontend protocol %d.%d: sluice supports 3.0", major, minor)
			}
			params, err := decodeParams(body[4:])
			if err != nil {
				return err
			}
			st.minor = minor
			st.params = map[string]string{}
			for k, v := range params {
				if strings.HasPrefix(k, "_pq_.") {
					st.unknown = append(st.unknown, k)
					continue
				}
				st.params[k] = v
			}
			return nil
		}
	}
}

// readStartupPacket reads one length-prefixed startup packet.
func readStartupPacket(r *bufio.Reader) (code uint32, body []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupLen {
		return 0, nil, errStartup(sluice.EProtocol, "08P01", "invalid length of startup packet")
	}
	body = make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return binary.BigEndian.Uint32(body), body, nil
}

// decodeParams parses the name/value pairs of a StartupMessage.
func decodeParams(b []byte) (map[string]string, error) {
	params := map[string]string{}
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, errStartup(sluice.EProtocol, "08P01", "invalid startup packet layout: missing terminator")
		}
		if i == 0 {
			if len(b) != 1 {
				return nil, errStartup(sluice.EProtocol, "08P01", "invalid startup packet layout: data after terminator")
			}
			return params, nil
		}
		key := string(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return nil, errStartup(sluice.EProtocol, "08P01", "invalid startup packet layout: missing value for %q", key)
		}
		params[key] = string(b[:j])
		b = b[j+1:]
	}
}

// readPassword asks for a cleartext password and returns what the client sent.
func readPassword(st *startup) (string, error) {
	w := newMsgWriter(st.conn)
	w.send(&pgproto3.AuthenticationCleartextPassword{})
	if err := w.flush(); err != nil {
		return "", err
	}
	r := &msgReader{br: st.r, max: maxPasswordLen}
	typ, frame, err := r.next()
	if err != nil {
		return "", err
	}
	if typ != 'p' {
		return "", errStartup(sluice.EProtocol, "08P01", "expected password response, got message type %q", typ)
	}
	body := frame[5:]
	if len(body) == 0 || body[len(body)-1] != 0 || bytes.IndexByte(body, 0) != len(body)-1 {
		return "", errStartup(sluice.EProtocol, "08P01", "invalid password packet")
	}
	return string(body[:len(body)-1]), nil
}

// clientAddr returns the client's address, or the zero value for non-IP
// connections.
func clientAddr(c net.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap
}

// forwardedParams are the startup parameters passed to the upstream server.
// Others (notably options, which can set any GUC, and replication) are not.
// search_path is not among them: it changes what unqualified names mean,
// so it is set only with SET, which the classifier sees.
var forwardedParams = []string{
	"application_name", "DateStyle", "TimeZone", "IntervalStyle",
	"extra_float_digits", "datestyle", "timezone", "intervalstyle",
}

// upstreamParams are the startup parameters of the upstream connection:
// the client's harmless ones, plus the settings the classifier relies on
// (text is UTF-8 and backslashes in strings are literal), plus read-only
// mode when the session's policy only lets reads through.
func upstreamParams(p map[string]string, readOnly bool) map[string]string {
	out := map[string]string{}
	for _, k := range forwardedParams {
		if v, ok := p[k]; ok {
			out[k] = v
		}
	}
	out["client_encoding"] = "UTF8"
	out["standard_conforming_strings"] = "on"
	if readOnly {
		out["default_transaction_read_only"] = "on"
	}
	return out
}

var errNoPassword = errors.New("client closed the connection before sending a password")
