package pgwire

import (
	"bufio"
	"context"
	"errors"
	"os"
	"time"

	"github.com/sluicehq/sluice"
)

// hold waits for the review of req while the client waits. The wait ends
// early when the client hangs up or sends a cancel request; nothing else of
// the session is relayed meanwhile.
func (s *session) hold(ctx context.Context, req *sluice.Request, d sluice.Decision) error {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.holding.Store(&cancel)
	defer s.holding.Store(nil)
	stop := s.watchClient(cancel)
	err := s.gs.Await(hctx, req, d)
	stop()
	return err
}

// watchClient notices a client that hangs up while its statement is held,
// by peeking at its connection, and calls gone. The returned stop ends the
// watch and leaves anything the client sent meanwhile buffered for the
// client loop.
func (s *session) watchClient(gone func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Wait for more than what is already buffered (drivers send the
		// rest of their pipeline, up to Sync, with the held statement).
		for {
			_, err := s.cr.br.Peek(s.cr.br.Buffered() + 1)
			switch {
			case err == nil:
				continue
			case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, bufio.ErrBufferFull):
				return
			default:
				gone() // the connection closed or failed
				return
			}
		}
	}()
	return func() {
		s.client.SetReadDeadline(time.Now())
		<-done
		s.client.SetReadDeadline(time.Time{})
	}
}
