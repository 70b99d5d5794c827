package journal

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice"
)

// Requests gives result records back the request they belong to. A result
// names its request's record (Event.RequestRef and Event.RequestSeq)
// instead of repeating the request, so a reader that needs a result's whole
// request, such as an index rebuild or an OCSF export, passes every event it
// reads, in journal order, to Join. Requests remembers the requests whose
// results are still to come and reads a request from the journal only when
// it did not see it: a scan that starts after the request, or a request it
// forgot to keep its memory bounded. It is not safe for concurrent use.
type Requests struct {
	dir     string
	waiting map[string]waitingRequest // by request ID
	bytes   int
}

// waitingRequest is a request whose result is still to come.
type waitingRequest struct {
	req  *sluice.Request
	seq  uint64 // its record's position
	size int    // about how many bytes it holds
}

// Requests remembers at most maxWaiting requests holding about
// maxWaitingBytes; past either it forgets the older half. A gateway has as
// many requests waiting as statements running, so the bounds are reached
// only by requests whose results never came (a crash).
const (
	maxWaiting      = 4096
	maxWaitingBytes = 32 << 20
)

// NewRequests returns a Requests that reads missing requests from the
// journal in dir.
func NewRequests(dir string) *Requests {
	return &Requests{dir: dir, waiting: map[string]waitingRequest{}}
}

// Join gives ev its request if ev is a result that names one: ev.Request
// is set to the request of the record ev.RequestSeq, from memory or read
// from the journal. If retention removed that record, ev.Request holds the
// request's ID and session only. Join remembers allowed and held requests
// and forgets refused ones; a session's end forgets nothing, since a front
// door may close a session while its last requests finish. It returns an
// error when the journal cannot be read or its record at ev.RequestSeq is
// not the request ev names.
func (q *Requests) Join(ev *sluice.Event) error {
	switch ev.Type {
	case sluice.EventRequest:
		if ev.Request != nil && ev.Decision != nil &&
			(ev.Decision.Action == sluice.ActionAllow || ev.Decision.Action == sluice.ActionReview) {
			q.remember(ev.Seq, ev.Request)
		}
	case sluice.EventDecision:
		if ev.Request != nil && ev.Decision != nil && ev.Decision.Action != sluice.ActionAllow {
			q.forget(ev.Request.ID)
		}
	case sluice.EventResult:
		if ev.Request != nil || ev.RequestSeq == 0 {
			return nil
		}
		if w, ok := q.waiting[ev.RequestRef]; ok && w.seq == ev.RequestSeq {
			q.forget(ev.RequestRef)
			ev.Request = w.req
			return nil
		}
		req, err := ReadRequest(q.dir, ev.RequestSeq, ev.RequestRef)
		if errors.Is(err, ErrNotKept) {
			req = &sluice.Request{ID: ev.RequestRef, SessionID: ev.Session}
		} else if err != nil {
			return err
		}
		ev.Request = req
	}
	return nil
}

func (q *Requests) remember(seq uint64, req *sluice.Request) {
	q.forget(req.ID)
	w := waitingRequest{req: req, seq: seq, size: requestSize(req)}
	q.waiting[req.ID] = w
	q.bytes += w.size
	if len(q.waiting) > maxWaiting || q.bytes > maxWaitingBytes {
		q.forgetOlderHalf()
	}
}

func (q *Requests) forget(id string) {
	if w, ok := q.waiting[id]; ok {
		q.bytes -= w.size
		delete(q.waiting, id)
	}
}

// forgetOlderHalf forgets the requests recorded before the median one.
func (q *Requests) forgetOlderHalf() {
	seqs := make([]uint64, 0, len(q.waiting))
	for _, w := range q.waiting {
		seqs = append(seqs, w.seq)
	}
	slices.Sort(seqs)
	cut := seqs[len(seqs)/2]
	for id, w := range q.waiting {
		if w.seq < cut {
			q.forget(id)
		}
	}
}

// requestSize estimates the bytes req holds.
func requestSize(req *sluice.Request) int {
	n := 256 + len(req.Text)
	for _, p := range req.Params {
		if p != nil {
			n += len(*p)
		}
	}
	if req.HTTP != nil {
		n += len(req.HTTP.Body)
	}
	return n
}

// ErrNotKept is ReadRecord's error for a record the journal no longer
// holds.
var ErrNotKept = errors.New("journal: the record is no longer kept")

// ErrNoRecord is ReadRecord's error for a record not written yet.
var ErrNoRecord = errors.New("journal: no such record yet")

// errFound stops a scan at the record it looked for.
var errFound = errors.New("found")

// ReadRecord reads the record at seq. It returns ErrNotKept if retention
// removed it and ErrNoRecord if the journal does not reach it. It reads the
// record's segment from its start, so it is meant for a record at a time,
// not for a scan.
func ReadRecord(dir string, seq uint64) (*Record, error) {
	var rec *Record
	err := Scan(dir, seq, func(r *Record) error {
		rec = r
		return errFound
	})
	switch {
	case err != nil && !errors.Is(err, errFound):
		return nil, err
	case rec == nil:
		return nil, fmt.Errorf("record %d: %w", seq, ErrNoRecord)
	case rec.Seq != seq:
		return nil, fmt.Errorf("record %d: %w", seq, ErrNotKept)
	}
	return rec, nil
}

// ReadRequest reads the request of the record at seq, which must be the
// request record of the request with ID id (see ReadRecord for its errors).
func ReadRequest(dir string, seq uint64, id string) (*sluice.Request, error) {
	rec, err := ReadRecord(dir, seq)
	if err != nil {
		return nil, err
	}
	if rec.Event.Type != sluice.EventRequest || rec.Event.Request == nil || rec.Event.Request.ID != id {
		return nil, fmt.Errorf("journal: record %d is not the record of request %q", seq, id)
	}
	return rec.Event.Request, nil
}
