package siem

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// SyslogConfig configures a Syslog sink. The zero value of every field but
// Address is useful.
type SyslogConfig struct {
	// Address is the receiver's host:port, e.g. "siem.internal:6514".
	// Required.
	Address string
	// TLS encrypts the connection and verifies the receiver's certificate
	// (RFC 5425). Without it messages cross the network in clear text.
	TLS bool
	// CAFile is a PEM file of certificates trusted, besides the system's
	// roots, to sign the receiver's certificate. Only with TLS.
	CAFile string
	// ServerName is the name the receiver's certificate must hold. Default:
	// the host of Address.
	ServerName string
	// AppName is the APP-NAME of every message: 1 to 48 printable ASCII
	// characters. Default "sluice".
	AppName string
	// Hostname is the HOSTNAME of every message: 1 to 255 printable ASCII
	// characters. Default: os.Hostname, with characters RFC 5424 does not
	// allow replaced by '_'.
	Hostname string
	// Facility is the syslog facility, 1 to 23. Default 13, "log audit"
	// (FacilityLogAudit); FacilityAuthpriv (10) is the other common choice.
	// Facility 0 (kernel) cannot be chosen.
	Facility int
	// Timeout bounds connecting (with the TLS handshake) and writing one
	// batch. Default 10s.
	Timeout time.Duration
}

// Syslog sends records to a syslog receiver as RFC 5424 messages over one
// long-lived TCP or TLS connection, with RFC 6587 octet-counting framing.
// Each message carries the record's sequence number as structured data,
// [sluice@32473 seq="N"], and the record's JSON, compacted onto one line,
// as MSG; MSGID is "audit". TIMESTAMP is the record's OCSF time (else the
// time of sending) in UTC with microseconds, and the severity follows its
// OCSF severity_id (see syslogSeverity; informational without one).
//
// The connection is opened by the first Send and reopened by the Send after
// an error. Syslog is safe for concurrent use; sends are serialized.
type Syslog struct {
	addr    string
	tls     *tls.Config // nil for plain TCP
	timeout time.Duration
	hdr     header

	sendMu sync.Mutex // held while a Send uses the connection

	mu     sync.Mutex // guards conn and closed; Close takes it without sendMu
	conn   net.Conn
	closed bool
}

var _ export.EventSink = (*Syslog)(nil)

// NewSyslog checks c and returns a sink that has not connected yet. It reads
// c.CAFile; it opens no connection.
func NewSyslog(c SyslogConfig) (*Syslog, error) {
	host, err := checkAddress("syslog address", c.Address)
	if err != nil {
		return nil, err
	}
	timeout, err := timeoutOrDefault(c.Timeout)
	if err != nil {
		return nil, fmt.Errorf("syslog %w", err)
	}
	h := header{facility: c.Facility, appName: c.AppName, hostname: c.Hostname, procID: strconv.Itoa(os.Getpid())}
	if h.facility == 0 {
		h.facility = FacilityLogAudit
	}
	if h.facility < 1 || h.facility > 23 {
		return nil, fmt.Errorf("syslog facility %d: must be from 1 to 23", c.Facility)
	}
	if h.appName == "" {
		h.appName = "sluice"
	}
	if !validHeaderField(h.appName, maxAppName) {
		return nil, fmt.Errorf("syslog app name %q: must be 1 to %d printable ASCII characters without spaces", c.AppName, maxAppName)
	}
	if h.hostname == "" {
		name, _ := os.Hostname() // "" on error becomes "-", the RFC 5424 NILVALUE
		h.hostname = headerField(name, maxHostname)
	} else if !validHeaderField(h.hostname, maxHostname) {
		return nil, fmt.Errorf("syslog hostname %q: must be 1 to %d printable ASCII characters without spaces", c.Hostname, maxHostname)
	}
	h.procID = headerField(h.procID, maxProcID)

	s := &Syslog{addr: c.Address, timeout: timeout, hdr: h}
	if !c.TLS {
		if c.CAFile != "" || c.ServerName != "" {
			return nil, errors.New("syslog CA file and server name need TLS")
		}
		return s, nil
	}
	roots, err := rootCAs(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("syslog %w", err)
	}
	name := c.ServerName
	if name == "" {
		name = host
	}
	s.tls = clientTLS(roots, name)
	return s, nil
}

// Send writes one message per item, in order, on the open connection,
// connecting first if there is none or the receiver has closed it. It
// returns once every message is written to the socket (syslog has no
// acknowledgement). On any error the connection is closed, so the next Send
// starts on a new one; the messages of this batch already written are sent
// again with it.
func (s *Syslog) Send(ctx context.Context, items []export.Item) error {
	if len(items) == 0 {
		return nil
	}
	metas, err := readBatch(items)
	if err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	now := time.Now()
	var frames, scratch []byte
	for i, it := range items {
		if frames, scratch, err = s.hdr.appendFrame(frames, scratch, it, metas[i], now); err != nil {
			return fmt.Errorf("syslog: %w", err)
		}
	}

	s.sendMu.Lock()
	defer s.sendMu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := s.connection(ctx)
	if err != nil {
		return err
	}
	if err := s.write(ctx, conn, frames); err != nil {
		s.drop(conn)
		return err
	}
	return nil
}

// write writes b to conn before ctx's deadline; cancelling ctx interrupts
// it.
func (s *Syslog) write(ctx context.Context, conn net.Conn, b []byte) error {
	deadline, _ := ctx.Deadline() // set by Send
	if err := conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("syslog: write to %s: %w", s.addr, err)
	}
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetWriteDeadline(time.Unix(1, 0)) // wakes the blocked Write
	})
	_, err := conn.Write(b)
	if !stop() && err == nil {
		// The deadline may have been moved into the past after Write
		// returned; the next Send must not inherit it.
		s.drop(conn)
	}
	if err != nil {
		// The caller's cancellation, or Timeout, whose write deadline may
		// pass just before ctx's own timer fires.
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		} else if !time.Now().Before(deadline) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return fmt.Errorf("syslog: write to %s: %w", s.addr, err)
	}
	return nil
}

// connection returns the open connection if the receiver has not closed
// it, or dials a new one.
func (s *Syslog) connection(ctx context.Context) (net.Conn, error) {
	s.mu.Lock()
	conn, closed := s.conn, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if conn != nil {
		if peerOpen(conn) {
			return conn, nil
		}
		s.drop(conn)
	}

	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = conn.Close()
		return nil, ErrClosed
	}
	s.conn = conn
	return conn, nil
}

func (s *Syslog) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	var (
		conn net.Conn
		err  error
	)
	if s.tls == nil {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return nil, fmt.Errorf("syslog: connect to %s: %w", s.addr, err)
	}
	return conn, nil
}

// peerProbe is how long peerOpen waits for a sign of a closed connection
// when it cannot tell whether one is waiting. A syslog receiver never
// writes, so the wait ends in a timeout on every healthy connection; it has
// to be in the future, as a read whose deadline has passed returns without
// looking at the socket.
const peerProbe = time.Millisecond

// pendingProbe bounds the read of what the socket says is waiting (the end
// of the stream, a reset, a TLS record): long enough that a busy scheduler
// cannot let the deadline pass before the read looks.
const pendingProbe = 100 * time.Millisecond

// peerOpen reports whether the receiver has not closed conn (nor reset it).
// TLS records it sent (session tickets) are consumed on the way.
func peerOpen(conn net.Conn) bool {
	wait := peerProbe
	if quiet, known := socketQuiet(conn); known {
		if quiet {
			return true // nothing waits: no end of stream, no reset, no record
		}
		wait = pendingProbe
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return false
	}
	var buf [512]byte
	for {
		// Bytes read are dropped: a syslog receiver has nothing to say.
		if _, err := conn.Read(buf[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return conn.SetReadDeadline(time.Time{}) == nil
			}
			return false // io.EOF, a reset, a TLS alert
		}
	}
}

// drop closes conn and forgets it, if it is still the open connection.
func (s *Syslog) drop(conn net.Conn) {
	s.mu.Lock()
	if s.conn == conn {
		s.conn = nil
	}
	s.mu.Unlock()
	_ = conn.Close()
}

// Close closes the connection, interrupting a Send in progress. It is
// idempotent.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if err != nil {
		return fmt.Errorf("syslog: close: %w", err)
	}
	return nil
}
