package e2e

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// relay is a TCP proxy between clients and the gateway that keeps a copy of
// every byte in both directions, so that a test can check what a client
// could ever have seen. Safe for concurrent use.
type relay struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	toClient bytes.Buffer // gateway -> clients
	toServer bytes.Buffer // clients -> gateway
	conns    map[net.Conn]struct{}
	accepted int
	wg       sync.WaitGroup
}

// startRelay listens on a loopback port and forwards to target; a cleanup
// closes it.
func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

// addr is where clients connect.
func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns[c], r.conns[s] = struct{}{}, struct{}{}
		r.accepted++
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			var pair sync.WaitGroup
			pair.Add(2)
			go func() { defer pair.Done(); r.pipe(c, s, &r.toServer) }()
			go func() { defer pair.Done(); r.pipe(s, c, &r.toClient) }()
			pair.Wait()
			c.Close()
			s.Close()
			r.mu.Lock()
			delete(r.conns, c)
			delete(r.conns, s)
			r.mu.Unlock()
		}()
	}
}

// pipe copies src to dst, recording the bytes before dst sees them, and
// passes the end of src on to dst.
func (r *relay) pipe(src, dst net.Conn, rec *bytes.Buffer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			rec.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// close stops accepting, closes every connection and waits for the pipes.
func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// seen returns copies of the bytes sent to clients and to the gateway, and
// how many connections were relayed.
func (r *relay) seen() (toClient, toServer []byte, conns int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.toClient.Bytes()), bytes.Clone(r.toServer.Bytes()), r.accepted
}
