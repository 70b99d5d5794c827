//go:build !unix

package siem

import "net"

// socketQuiet cannot ask the socket on this platform; peerOpen then probes
// with a short read.
func socketQuiet(net.Conn) (quiet, known bool) { return false, false }
