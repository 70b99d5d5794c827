//go:build unix

package siem

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// socketQuiet reports whether nothing waits to be read on conn's socket
// (for TLS, the TCP socket under it), without waiting and without
// consuming anything; known is false when the socket cannot be asked.
func socketQuiet(conn net.Conn) (quiet, known bool) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var peekErr error
	if err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // one look; never wait
	}); err != nil {
		return false, false
	}
	return errors.Is(peekErr, syscall.EAGAIN), true
}
