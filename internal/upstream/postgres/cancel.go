package postgres

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Cancel asks the upstream server to cancel the query running on c. Like
// libpq it opens a new connection to the same server, encrypted the same way
// as c, and sends the cancel key. The server answers nothing; success means
// only that the request was delivered.
func (c *Conn) Cancel(ctx context.Context) error {
	addr := c.Conn.RemoteAddr()
	raw, err := c.cfg.DialFunc(ctx, addr.Network(), addr.String())
	if err != nil {
		return fmt.Errorf("dial for cancel: %w", err)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	conn := raw
	if c.tlsConfig != nil {
		conn, err = startTLS(raw, c.tlsConfig)
		if err != nil {
			return fmt.Errorf("tls for cancel: %w", err)
		}
		defer conn.Close()
	}
	msg := make([]byte, 12+len(c.SecretKey))
	binary.BigEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.BigEndian.PutUint32(msg[4:], 80877102) // CancelRequest code
	binary.BigEndian.PutUint32(msg[8:], c.PID)
	copy(msg[12:], c.SecretKey)
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("send cancel: %w", err)
	}
	// The server closes the connection once it has read the request; how
	// it hangs up does not matter.
	_, _ = io.Copy(io.Discard, conn)
	return nil
}

// startTLS sends SSLRequest and upgrades conn when the server agrees.
func startTLS(conn net.Conn, cfg *tls.Config) (net.Conn, error) {
	req := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f} // SSLRequest
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	resp := make([]byte, 1)
	if _, err := io.ReadFull(conn, resp); err != nil {
		return nil, err
	}
	if resp[0] != 'S' {
		return nil, errors.New("server refused TLS")
	}
	return tls.Client(conn, cfg.Clone()), nil
}
