//go:build unix

package siem

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// stuckReceiver listens on 127.0.0.1 and accepts connections but never
// reads from them, with a small receive buffer (set before the handshake)
// so that a few megabytes fill the pipe. It returns the address.
func stuckReceiver(t *testing.T) string {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// bigBatch is more than the sender's socket buffer (at most 4 MiB) and a
// stuck receiver's hold.
func bigBatch() []export.Item {
	blob := []byte(`{"blob":"` + strings.Repeat("x", 1<<20) + `"}`)
	batch := make([]export.Item, 8)
	for i := range batch {
		batch[i] = export.Item{Seq: uint64(i + 1), Data: blob}
	}
	return batch
}

// A receiver that stops reading blocks the writes; the Timeout and the
// caller's context both end the Send, and the next Send reconnects.
func TestSyslogWriteDeadlines(t *testing.T) {
	addr := stuckReceiver(t)
	batch := bigBatch()

	s := newTestSyslog(t, SyslogConfig{Address: addr, Timeout: 300 * time.Millisecond})
	start := time.Now()
	err := s.Send(context.Background(), batch)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send past its timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Send took %s with a 300ms timeout", d)
	}

	s2 := newTestSyslog(t, SyslogConfig{Address: addr, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	if err := s2.Send(ctx, batch); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
	// The connection was dropped: a small batch goes out on a new one.
	if err := s2.Send(context.Background(), items(1, 1)); err != nil {
		t.Fatal(err)
	}
}

// Close interrupts a Send blocked on a receiver that does not read.
func TestSyslogCloseInterruptsSend(t *testing.T) {
	s, err := NewSyslog(SyslogConfig{Address: stuckReceiver(t), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), bigBatch()) }()
	time.Sleep(200 * time.Millisecond) // let it block in Write; either way Close must end it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Send succeeded though Close cut its connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send still blocked 10s after Close")
	}
}
