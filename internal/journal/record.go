package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
)

// Record is one decoded journal record. Payload holds the exact bytes the
// Merkle tree commits to.
type Record struct {
	// Seq is the record's sequence number, from 1; its leaf index is Seq-1.
	Seq uint64
	// Time is when the journal accepted the record (never earlier than the
	// record before it).
	Time time.Time
	// Prev is the leaf hash of record Seq-1; empty for record 1.
	Prev []byte
	// Event is the recorded event; Event.Seq equals Seq.
	Event sluice.Event
	// Payload is the encoded record as stored and hashed.
	Payload []byte
}

// LeafHash returns the record's RFC 6962 leaf hash.
func (r *Record) LeafHash() []byte { return LeafHash(r.Payload) }

// wireRecord is the JSON shape of a payload.
type wireRecord struct {
	Seq  uint64          `json:"seq"`
	TS   int64           `json:"ts"`
	Prev []byte          `json:"prev"`
	Ev   json.RawMessage `json:"ev"`
}

// DecodeRecord decodes a record payload. The returned Record keeps payload
// (it does not copy it).
func DecodeRecord(payload []byte) (*Record, error) {
	var w wireRecord
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	if w.Seq == 0 {
		return nil, fmt.Errorf("decode record: seq missing or 0")
	}
	if len(w.Prev) != 0 && len(w.Prev) != hashSize {
		return nil, fmt.Errorf("decode record %d: prev hash has %d bytes", w.Seq, len(w.Prev))
	}
	if len(w.Ev) == 0 {
		return nil, fmt.Errorf("decode record %d: event missing", w.Seq)
	}
	r := &Record{Seq: w.Seq, Time: time.Unix(0, w.TS).UTC(), Prev: w.Prev, Payload: payload}
	if err := json.Unmarshal(w.Ev, &r.Event); err != nil {
		return nil, fmt.Errorf("decode record %d: event: %w", w.Seq, err)
	}
	return r, nil
}

// appendPayload appends the payload of a record: the envelope around an
// event body from appendEventBody. prev is nil for record 1.
func appendPayload(b []byte, seq uint64, ts int64, prev []byte, body []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"prev":"`...)
	b = b64.AppendEncode(b, prev)
	b = append(b, `","ev":{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	b = append(b, body...)
	return append(b, '}')
}

// envelope is the part of a payload that the writer's recovery and the
// proof builder need, without decoding the event.
type envelope struct {
	seq  uint64
	ts   int64
	prev []byte // aliases the payload
}

// parseEnvelope reads seq, ts and prev from a payload. It takes the fast path
// for payloads as this package writes them and falls back to encoding/json
// for anything else that is valid.
func parseEnvelope(p []byte) (envelope, error) {
	if e, ok := parseEnvelopeFast(p); ok {
		return e, nil
	}
	var w wireRecord
	if err := json.Unmarshal(p, &w); err != nil {
		return envelope{}, fmt.Errorf("decode record: %w", err)
	}
	if w.Seq == 0 || len(w.Ev) == 0 || (len(w.Prev) != 0 && len(w.Prev) != hashSize) {
		return envelope{}, fmt.Errorf("decode record: not a journal record")
	}
	return envelope{seq: w.Seq, ts: w.TS, prev: w.Prev}, nil
}

func parseEnvelopeFast(p []byte) (envelope, bool) {
	var e envelope
	var ok bool
	rest, ok := bytes.CutPrefix(p, []byte(`{"seq":`))
	if !ok {
		return e, false
	}
	var n uint64
	if n, rest, ok = cutUint(rest); !ok || n == 0 {
		return e, false
	}
	e.seq = n
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"ts":`)); !ok {
		return e, false
	}
	neg := false
	if len(rest) > 0 && rest[0] == '-' {
		neg, rest = true, rest[1:]
	}
	if n, rest, ok = cutUint(rest); !ok || n > 1<<63-1 {
		return e, false
	}
	e.ts = int64(n)
	if neg {
		e.ts = -e.ts
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"prev":"`)); !ok {
		return e, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return e, false
	}
	if end > 0 {
		prev, err := b64.DecodeString(string(rest[:end]))
		if err != nil || len(prev) != hashSize {
			return e, false
		}
		e.prev = prev
	}
	if !bytes.HasPrefix(rest[end:], []byte(`","ev":{`)) || p[len(p)-1] != '}' {
		return e, false
	}
	return e, true
}

// cutUint parses the decimal digits at the start of b.
func cutUint(b []byte) (uint64, []byte, bool) {
	i := 0
	var n uint64
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		if i == 19 || (i > 0 && b[0] == '0') {
			return 0, b, false // too long for the fast path, or a leading zero
		}
		n = n*10 + uint64(b[i]-'0')
	}
	return n, b[i:], i > 0
}
