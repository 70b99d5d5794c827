package pgwire

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// pendingKind says what an outstanding entry stands for.
type pendingKind uint8

const (
	// execExtended is an Execute: it ends at CommandComplete,
	// EmptyQueryResponse, PortalSuspended or ErrorResponse.
	execExtended pendingKind = iota
	// execSimple is a Query or FunctionCall: it ends at ReadyForQuery.
	execSimple
	// syncMark is a Sync: the upstream answers it with ReadyForQuery.
	syncMark
	// refusal is a request the gate refused: its error is sent to the
	// client just before the ReadyForQuery that ends its batch.
	refusal
	// describeMark is a Describe: it ends at RowDescription, NoData or
	// ErrorResponse.
	describeMark
)

// pending is a request the client sent and whose outcome is not complete.
// The client loop creates it; after it is queued only the upstream loop
// touches it.
type pending struct {
	kind  pendingKind
	req   *sluice.Request
	start time.Time
	err   *sluice.Error // the refusal, for kind refusal

	// For executes and describes: the portal and statement concerned.
	portal *portal
	stmt   *prepared
	res    *result // the result being received

	rows     int64 // rows reported by command tags, or counted
	tagRows  int64 // DataRows since the last CommandComplete
	tag      string
	errText  string
	finished bool
}

// addTag accounts for a CommandComplete.
func (p *pending) addTag(tag string) {
	if n, ok := tagCount(tag); ok {
		p.rows += n
	} else {
		p.rows += p.tagRows
	}
	p.tagRows = 0
	if p.tag == "" {
		p.tag = tag
	} else {
		p.tag += "; " + tag
	}
}

// tagCount returns the row count of a command tag that carries one.
func tagCount(tag string) (int64, bool) {
	verb, rest, ok := strings.Cut(tag, " ")
	if !ok {
		return 0, false
	}
	switch verb {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "FETCH", "MOVE":
	default:
		return 0, false
	}
	if i := strings.LastIndexByte(rest, ' '); i >= 0 {
		rest = rest[i+1:]
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil
}

// queue holds the outstanding entries in the order the client sent them.
// It is safe for concurrent use by the two loops.
type queue struct {
	mu    sync.Mutex
	items []*pending
}

func (q *queue) push(p *pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
}

// current returns the first unfinished Execute, Query or Describe before
// any Sync or refusal: the entry whose responses are arriving now.
func (q *queue) current() *pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.items {
		switch p.kind {
		case syncMark, refusal:
			return nil
		case execSimple:
			return p
		case execExtended, describeMark:
			if !p.finished {
				return p
			}
		}
	}
	return nil
}

// popBatch removes the entries answered by one ReadyForQuery: everything up
// to and including the first Sync or simple query. It appends them to dst
// in order.
func (q *queue) popBatch(dst []*pending) []*pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, p := range q.items {
		if p.kind == syncMark || p.kind == execSimple {
			out := append(dst, q.items[:i+1]...)
			n := copy(q.items, q.items[i+1:])
			clear(q.items[n:])
			q.items = q.items[:n]
			return out
		}
	}
	return dst
}

// busy reports whether a request is outstanding.
func (q *queue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) > 0
}

// abortAll removes every entry, calling f for each request never finished.
func (q *queue) abortAll(f func(*pending)) {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	for _, p := range items {
		if (p.kind == execExtended || p.kind == execSimple) && !p.finished {
			f(p)
		}
	}
}
