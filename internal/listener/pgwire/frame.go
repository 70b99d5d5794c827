package pgwire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice"
)

// msgReader reads typed protocol messages (type byte, int32 length, body)
// from a buffered stream without copying when the message fits the buffer.
// It is not safe for concurrent use.
type msgReader struct {
	br  *bufio.Reader
	max int    // largest body accepted
	buf []byte // holds messages larger than br's buffer
}

func newMsgReader(r io.Reader, size, max int) *msgReader {
	return &msgReader{br: bufio.NewReaderSize(r, size), max: max}
}

// buffered reports how many bytes can be read without blocking.
func (r *msgReader) buffered() int { return r.br.Buffered() }

// header peeks at the next message's type and body length without
// consuming it.
func (r *msgReader) header() (typ byte, n int, err error) {
	h, err := r.br.Peek(5)
	if err != nil {
		return 0, 0, err
	}
	l := int(int32(binary.BigEndian.Uint32(h[1:])))
	if l < 4 {
		return 0, 0, &sluice.Error{Code: sluice.EProtocol, Message: fmt.Sprintf("invalid message length %d", l)}
	}
	if l-4 > r.max {
		return 0, 0, &sluice.Error{Code: sluice.ETooLarge,
			Message: fmt.Sprintf("message of %d bytes is over the limit of %d bytes", l-4, r.max)}
	}
	return h[0], l - 4, nil
}

// frame consumes the message whose header was just read and returns all of
// it, header included. The slice is valid until the next call on r.
func (r *msgReader) frame(n int) ([]byte, error) {
	total := 5 + n
	if total <= r.br.Size() {
		b, err := r.br.Peek(total)
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		r.br.Discard(total)
		return b, nil
	}
	if cap(r.buf) < total {
		r.buf = make([]byte, total)
	}
	b := r.buf[:total]
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, unexpectedEOF(err)
	}
	if cap(r.buf) > 4<<20 {
		r.buf = nil // do not keep a huge buffer for the rest of the session
		return b, nil
	}
	return b, nil
}

// next reads one whole message.
func (r *msgReader) next() (typ byte, frame []byte, err error) {
	typ, n, err := r.header()
	if err != nil {
		return 0, nil, err
	}
	frame, err = r.frame(n)
	return typ, frame, err
}

// stream copies the message whose header was just read to w without
// holding it in memory, for large messages that need no inspection.
func (r *msgReader) stream(w io.Writer, n int) error {
	if _, err := io.CopyN(w, r.br, int64(5+n)); err != nil {
		return unexpectedEOF(err)
	}
	return nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// msgWriter batches outgoing messages and writes them in as few system calls
// as possible. It is not safe for concurrent use.
type msgWriter struct {
	w   io.Writer
	buf []byte
}

// flushAt is the buffered size past which messages are written at once.
const flushAt = 32 << 10

func newMsgWriter(w io.Writer) *msgWriter {
	return &msgWriter{w: w, buf: make([]byte, 0, flushAt+8<<10)}
}

// raw appends an already encoded message.
func (w *msgWriter) raw(frame []byte) { w.buf = append(w.buf, frame...) }

// send encodes and appends msg.
func (w *msgWriter) send(msg pgproto3.Message) {
	b, err := msg.Encode(w.buf)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", msg, err)) // only for messages built here
	}
	w.buf = b
}

// full reports whether the buffer should be written now.
func (w *msgWriter) full() bool { return len(w.buf) >= flushAt }

// pending reports whether anything is buffered.
func (w *msgWriter) pending() bool { return len(w.buf) > 0 }

// flush writes everything buffered.
func (w *msgWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}
