// Package faultproxy is a TCP proxy for tests that puts faults between a
// client (sluice) and a server (PostgreSQL) on the test's command: it passes
// bytes through, stalls them (a network that stops delivering without
// closing anything), resets every connection, or refuses new ones.
//
//	p := faultproxy.Start(t, pg.Addr()) // closed by a cleanup
//	cfg := connSpec{Address: p.Addr(), ...}
//	p.Stall()  // bytes and new connections are held, nothing is closed
//	p.Resume() // held bytes flow on, held connections are dialed
//	p.Drop()   // every open connection is reset (RST) on both sides
//
// A Proxy is safe for concurrent use.
package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Counts are the proxy's connection counts since it started.
type Counts struct {
	// Accepted is every connection the proxy accepted and did not refuse.
	Accepted int
	// Open is the connections accepted and not yet ended: relaying, held by
	// a stall, or waiting for their dial.
	Open int
	// Refused is the connections reset at once because of RefuseNew.
	Refused int
	// Dropped is the connections reset by Drop.
	Dropped int
}

// Proxy relays TCP connections from its listener to a target address. The
// zero value is not usable; create one with Listen or Start.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	flowing chan struct{} // closed while bytes flow; open while stalled
	refuse  bool
	closed  bool
	links   map[*link]struct{}
	counts  Counts
	wg      sync.WaitGroup
}

// dialTimeout bounds dialing the target for one connection; a connection
// whose dial fails is reset.
const dialTimeout = 10 * time.Second

// link is one relayed connection: the accepted client side and, once
// dialed, the server side.
type link struct {
	client net.Conn
	ctx    context.Context // ends when the link is torn down
	cancel context.CancelFunc
	once   sync.Once

	mu     sync.Mutex
	server net.Conn // nil until dialed
}

// Listen listens on addr (host:port; port 0 picks one) and relays every
// connection to target. Bytes flow until Stall.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	flowing := make(chan struct{})
	close(flowing)
	p := &Proxy{ln: ln, target: target, flowing: flowing, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Start listens on a loopback port and relays to target; a cleanup of tb
// closes the proxy. It fails the test if it cannot listen.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		tb.Fatalf("faultproxy: %v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops every byte in both directions, on open connections and on
// those accepted from now on, without closing anything: what a peer sends
// is held (first in the proxy's buffer, then in the kernel's, until the
// sender's writes block), and new connections are accepted but not dialed.
// Ends of streams (a peer's close) are held too. Stall on a stalled proxy
// does nothing.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flowing:
		p.flowing = make(chan struct{})
	default:
	}
}

// Resume lets bytes flow again after Stall and ends RefuseNew: held bytes
// and ends of streams are delivered in order and held connections are
// dialed, as when a network partition heals before TCP gives up.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
	select {
	case <-p.flowing:
	default:
		close(p.flowing)
	}
}

// RefuseNew makes the proxy reset every connection it accepts from now on,
// at once (the client sees "connection reset by peer" or an EOF on its
// first read), until Resume. Open connections are not affected.
func (p *Proxy) RefuseNew() {
	p.mu.Lock()
	p.refuse = true
	p.mu.Unlock()
}

// Drop resets every open connection on both sides (RST, not FIN), held or
// not, and returns how many it dropped. New connections are still accepted.
func (p *Proxy) Drop() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.counts.Dropped += len(links)
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
	return len(links)
}

// Counts returns the connection counts.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	c.Open = len(p.links)
	return c
}

// Close stops listening, resets every open connection and waits for the
// proxy's goroutines to end. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.reset()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept failure; the next one may work
		}
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			resetConn(c)
			return
		case p.refuse:
			p.counts.Refused++
			p.mu.Unlock()
			resetConn(c)
			continue
		}
		l := &link{client: c}
		l.ctx, l.cancel = context.WithCancel(context.Background())
		p.links[l] = struct{}{}
		p.counts.Accepted++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.relay(l)
	}
}

// relay dials the target once bytes flow and copies both directions until
// both ends are done or the link is reset.
func (p *Proxy) relay(l *link) {
	defer p.wg.Done()
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	if !p.waitFlow(l) {
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, dialTimeout)
	var d net.Dialer
	s, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		l.reset()
		return
	}
	if !l.setServer(s) {
		resetConn(s)
		return
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); p.pipe(l, l.client, s) }()
	go func() { defer pipes.Done(); p.pipe(l, s, l.client) }()
	pipes.Wait()
}

// pipe copies src to dst while bytes flow, and passes src's end (EOF) on
// to dst as a half-close. A read or write error other than EOF resets the
// whole link.
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitFlow(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.reset()
				return
			}
		}
		if err != nil {
			if !p.waitFlow(l) {
				return
			}
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				return
			}
			l.reset()
			return
		}
	}
}

// waitFlow waits until bytes flow; it reports false when the link was
// reset meanwhile.
func (p *Proxy) waitFlow(l *link) bool {
	p.mu.Lock()
	flowing := p.flowing
	p.mu.Unlock()
	select {
	case <-flowing:
		return l.ctx.Err() == nil
	case <-l.ctx.Done():
		return false
	}
}

// setServer records the dialed server side; it fails when the link was
// reset during the dial.
func (l *link) setServer(s net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return false
	}
	l.server = s
	return true
}

// reset tears the link down with RST on both sides.
func (l *link) reset() {
	l.once.Do(func() {
		l.mu.Lock()
		l.cancel()
		s := l.server
		l.mu.Unlock()
		resetConn(l.client)
		if s != nil {
			resetConn(s)
		}
	})
}

// close tears the link down after both directions ended (FIN, or already
// reset).
func (l *link) close() {
	l.once.Do(func() {
		l.mu.Lock()
		l.cancel()
		s := l.server
		l.mu.Unlock()
		l.client.Close()
		if s != nil {
			s.Close()
		}
	})
}

// resetConn closes c so that the peer gets a RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
