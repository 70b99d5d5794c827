package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit/faultproxy"
)

// quiet is how long a read must see nothing for a stalled direction to
// count as stalled. It bounds a negative check (no event can say "nothing
// arrived"), not a synchronization.
const quiet = 300 * time.Millisecond

// wait bounds every positive wait of these tests.
const wait = 5 * time.Second

// echoServer echoes what each connection sends and reports each accept
// and each connection's end on channels (events past their buffer are
// dropped: only the tests with few connections read them). Safe for
// concurrent use.
type echoServer struct {
	ln       net.Listener
	accepted chan net.Conn // accepted connections
	ended    chan error    // each connection's read error (io.EOF for a FIN)

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, accepted: make(chan net.Conn, 16), ended: make(chan error, 16), conns: map[net.Conn]struct{}{}}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns[c] = struct{}{}
			e.mu.Unlock()
			select {
			case e.accepted <- c:
			default:
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				_, err := io.Copy(c, c)
				if err == nil {
					err = io.EOF
				}
				c.Close()
				e.mu.Lock()
				delete(e.conns, c)
				e.mu.Unlock()
				select {
				case e.ended <- err:
				default:
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

// acceptedWithin waits for the server to accept a connection.
func (e *echoServer) acceptedWithin(t *testing.T, d time.Duration) net.Conn {
	t.Helper()
	select {
	case c := <-e.accepted:
		return c
	case <-time.After(d):
		t.Fatalf("the target accepted no connection within %s", d)
		return nil
	}
}

// noneAccepted checks that the server accepts nothing for quiet.
func (e *echoServer) noneAccepted(t *testing.T) {
	t.Helper()
	select {
	case <-e.accepted:
		t.Fatal("the target accepted a connection while the proxy was stalled or refusing")
	case <-time.After(quiet):
	}
}

func dial(t *testing.T, p *faultproxy.Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads its echo within wait.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := readN(t, c, len(msg))
	if got != msg {
		t.Fatalf("echo of %q = %q", msg, got)
	}
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(buf)
}

// silent checks that nothing arrives on c for quiet.
func silent(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(quiet))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	n, err := c.Read(b[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while stalled: %d bytes, %v; want nothing", n, err)
	}
}

// waitCounts polls the proxy's counts until ok holds.
func waitCounts(t *testing.T, p *faultproxy.Proxy, what string, ok func(faultproxy.Counts) bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !ok(p.Counts()) {
		if time.Now().After(deadline) {
			t.Fatalf("counts %+v: timed out waiting for %s", p.Counts(), what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// expectReset connects through p and checks that the connection is reset:
// at connect (on loopback the RST can beat connect's return) or on the
// first read.
func expectReset(t *testing.T, p *faultproxy.Proxy, what string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(wait))
		_, err = c.Read(make([]byte, 1))
	}
	if !isReset(err) {
		t.Fatalf("%s: %v, want the connection reset", what, err)
	}
}

func TestPassThrough(t *testing.T) {
	e := startEcho(t)
	p := faultproxy.Start(t, e.addr())
	c := dial(t, p)
	roundTrip(t, c, "hello")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, more than one buffer
	go c.Write(big)
	if got := readN(t, c, len(big)); got != string(big) {
		t.Fatal("1 MiB did not come back intact")
	}
	if got := p.Counts(); got.Accepted != 1 || got.Open != 1 {
		t.Fatalf("counts while open: %+v", got)
	}
	// A half-close reaches the target, which then ends the connection.
	c.CloseWrite()
	select {
	case err := <-e.ended:
		if err != io.EOF {
			t.Fatalf("the target saw %v, want EOF", err)
		}
	case <-time.After(wait):
		t.Fatal("the client's FIN did not reach the target")
	}
	waitCounts(t, p, "the connection to end", func(c faultproxy.Counts) bool { return c.Open == 0 })
}

func TestStallHoldsBytesConnectionsAndEnds(t *testing.T) {
	e := startEcho(t)
	p := faultproxy.Start(t, e.addr())
	open := dial(t, p)
	roundTrip(t, open, "before")
	e.acceptedWithin(t, wait)

	p.Stall()
	p.Stall() // idempotent
	// An open connection: nothing flows, nothing closes.
	if _, err := open.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	silent(t, open)
	// A new connection is accepted but the target never sees it.
	fresh := dial(t, p)
	if _, err := fresh.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	e.noneAccepted(t)
	silent(t, fresh)
	// The end of a stream is held too.
	fresh.CloseWrite()
	select {
	case err := <-e.ended:
		t.Fatalf("the target saw the end of a stream while stalled: %v", err)
	default:
	}
	if got := p.Counts(); got.Accepted != 2 || got.Open != 2 {
		t.Fatalf("counts while stalled: %+v, want 2 accepted and open", got)
	}

	p.Resume()
	if got := readN(t, open, 4); got != "held" {
		t.Fatalf("after Resume the open connection got %q, want the held bytes", got)
	}
	e.acceptedWithin(t, wait)
	if got := readN(t, fresh, 5); got != "early" {
		t.Fatalf("after Resume the held connection got %q", got)
	}
	select {
	case err := <-e.ended:
		if err != io.EOF {
			t.Fatalf("the held end of stream arrived as %v, want EOF", err)
		}
	case <-time.After(wait):
		t.Fatal("the held end of stream did not arrive after Resume")
	}
	roundTrip(t, open, "after")
}

func TestDropResetsBothSides(t *testing.T) {
	e := startEcho(t)
	p := faultproxy.Start(t, e.addr())
	a, b := dial(t, p), dial(t, p)
	roundTrip(t, a, "a")
	roundTrip(t, b, "b")
	p.Stall() // a held connection is dropped too
	if n := p.Drop(); n != 2 {
		t.Fatalf("Drop = %d, want 2", n)
	}
	for _, c := range []net.Conn{a, b} {
		c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("client read after Drop: %v, want connection reset", err)
		}
	}
	for range 2 {
		select {
		case err := <-e.ended:
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("target side after Drop: %v, want connection reset", err)
			}
		case <-time.After(wait):
			t.Fatal("the target side of a dropped connection did not end")
		}
	}
	waitCounts(t, p, "no open connection", func(c faultproxy.Counts) bool { return c.Open == 0 && c.Dropped == 2 })
	p.Resume()
	roundTrip(t, dial(t, p), "again")
}

func TestRefuseNew(t *testing.T) {
	e := startEcho(t)
	p := faultproxy.Start(t, e.addr())
	open := dial(t, p)
	roundTrip(t, open, "x")
	e.acceptedWithin(t, wait)

	p.RefuseNew()
	expectReset(t, p, "a new connection while refusing")
	e.noneAccepted(t)
	roundTrip(t, open, "still") // open connections are not affected
	if got := p.Counts(); got.Refused != 1 || got.Accepted != 1 {
		t.Fatalf("counts: %+v, want 1 refused, 1 accepted", got)
	}

	p.Resume()
	roundTrip(t, dial(t, p), "back")
}

func TestUnreachableTargetResets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The proxy takes its port while ln holds the target's, so that the
	// two differ; then nothing listens at the target.
	p := faultproxy.Start(t, ln.Addr().String())
	ln.Close()
	expectReset(t, p, "a connection through a proxy whose target is down")
	waitCounts(t, p, "no open connection", func(c faultproxy.Counts) bool { return c.Open == 0 })
}

// TestCloseEndsEverything closes a proxy with relayed, held and dialing
// connections and checks that Close returns promptly, is idempotent, and
// leaves no goroutine behind.
func TestCloseEndsEverything(t *testing.T) {
	e := startEcho(t)
	before := runtime.NumGoroutine()
	p, err := faultproxy.Listen("127.0.0.1:0", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	relayed := dial(t, p)
	roundTrip(t, relayed, "r")
	p.Stall()
	held := dial(t, p)
	held.Write([]byte("h"))
	waitCounts(t, p, "two open connections", func(c faultproxy.Counts) bool { return c.Open == 2 })

	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, c := range []net.Conn{relayed, held} {
		c.SetReadDeadline(time.Now().Add(wait))
		if _, err := c.Read(make([]byte, 1)); !isReset(err) {
			t.Fatalf("read after Close: %v, want a reset", err)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), wait); err == nil {
		t.Fatal("the proxy still accepts after Close")
	}
	relayed.Close()
	held.Close()
	// The echo server's goroutine for the relayed connection ends with it.
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// TestConcurrentFaults runs clients while another goroutine stalls,
// resumes, drops and refuses; under -race it checks the proxy's own
// synchronization. Every exchange either round-trips intact or fails; after
// the faults stop, every client works again.
func TestConcurrentFaults(t *testing.T) {
	e := startEcho(t)
	p := faultproxy.Start(t, e.addr())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, failed := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte{'a' + byte(i)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", p.Addr(), wait)
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(200 * time.Millisecond))
				_, werr := c.Write(msg)
				got := make([]byte, 1)
				_, rerr := io.ReadFull(c, got)
				c.Close()
				mu.Lock()
				if werr == nil && rerr == nil {
					if got[0] != msg[0] {
						mu.Unlock()
						t.Errorf("client %d got %q back", i, got)
						return
					}
					ok++
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	exchanges := func() int { mu.Lock(); defer mu.Unlock(); return ok + failed }
	faults := []func(){p.Stall, p.Resume, func() { p.Drop() }, p.RefuseNew, p.Resume, func() { p.Counts() }}
	for i := range 60 {
		// Let the clients get on between faults.
		n := exchanges()
		deadline := time.Now().Add(wait)
		for exchanges() < n+4 {
			if time.Now().After(deadline) {
				t.Fatalf("the clients made no progress after fault %d", i)
			}
			time.Sleep(time.Millisecond) // poll interval
		}
		faults[i%len(faults)]()
	}
	close(stop)
	wg.Wait()
	p.Resume()
	roundTrip(t, dial(t, p), "z")
	t.Logf("%d exchanges round-tripped, %d failed under faults", ok, failed)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
